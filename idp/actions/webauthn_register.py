"""`webauthn-register` (docs/member-screens.md §4, Keycloak alias webauthn-register): the member registers a passkey —
セキュリティキーの登録, the browser's own dialog, then a name for the device (パスキー by default).

The ceremony's challenge and, after it, the checked but not yet named passkey wait in ctx.data;
the passkey is stored only when the member presses OK on the label screen.
"""
from __future__ import annotations

from collections.abc import Mapping

from idp.authenticators import webauthn_server as webauthn
from idp.db.models import Credential
from idp.flows.api import Action, Done, NoOptions, Page, StepContext

TEMPLATE = "actions/webauthn-register.html"
LABEL_TEMPLATE = "actions/webauthn-register-label.html"
RETRY_TEMPLATE = "passkey-retry.html"
DEFAULT_LABEL = "パスキー"
LABEL_MAX_LENGTH = 255
CHECKED = ("y", "on", "1", "true")


class WebAuthnRegister(Action[NoOptions]):
    name = "webauthn-register"
    alias = "webauthn-register"

    def challenge(self, ctx: StepContext[NoOptions]) -> Page:
        if "registered" in ctx.data:
            return _label_page(DEFAULT_LABEL)
        return _start(ctx)

    def process(self, ctx: StepContext[NoOptions], form: Mapping[str, str]) -> Page | Done:
        if form.get("retry"):
            ctx.data.clear()
            return _start(ctx)
        if "registered" in ctx.data:
            return _name_and_store(ctx, form)
        return _check_ceremony(ctx, form)


def _start(ctx: StepContext[NoOptions], sign_out_everywhere: bool = False) -> Page:
    """A fresh challenge, excluding the passkeys the member already has."""
    options, state = webauthn.begin_registration(ctx, webauthn.passkeys(ctx.member))
    ctx.data["registration"] = state
    return Page(TEMPLATE, values={"options": options, "sign_out_everywhere": sign_out_everywhere})


def _check_ceremony(ctx: StepContext[NoOptions], form: Mapping[str, str]) -> Page:
    state = ctx.data.get("registration")
    answer = form.get(webauthn.CREDENTIAL_FIELD, "")
    if form.get(webauthn.ERROR_FIELD) == "InvalidStateError":
        # The browser already holds one of the member's passkeys (excludeCredentials).
        return _retry_page("webauthn_register.error.already_registered")
    if state is None or form.get(webauthn.ERROR_FIELD) or not answer:
        # Cancelled in the browser's dialog, or no passkey support: the member may simply retry.
        return _retry_page()
    try:
        passkey = webauthn.finish_registration(ctx, state, answer)
    except webauthn.CeremonyRefused as problem:
        ctx.record_event("UPDATE_CREDENTIAL_ERROR", credential_type=webauthn.TYPE, error="invalid_registration",
                         reason=str(problem)[:200])
        return _retry_page()
    if any(c.credential_data.get("credentialId") == passkey["credentialId"] for c in webauthn.passkeys(ctx.member)):
        ctx.record_event("UPDATE_CREDENTIAL_ERROR", credential_type=webauthn.TYPE, error="credential_exists")
        return _retry_page("webauthn_register.error.already_registered")
    ctx.data.pop("registration")
    ctx.data["registered"] = passkey
    ctx.data["sign_out_everywhere"] = form.get("sign_out_everywhere") in CHECKED
    return _label_page(DEFAULT_LABEL)


def _name_and_store(ctx: StepContext[NoOptions], form: Mapping[str, str]) -> Page | Done:
    label = form.get("label", "").strip()
    if not label:
        return _label_page(label, "webauthn_register.error.label_empty")
    if len(label) > LABEL_MAX_LENGTH:
        return _label_page(label, "webauthn_register.error.label_too_long")
    passkey = Credential(type=webauthn.TYPE, user_label=label, credential_data=ctx.data.pop("registered"),
                         created_at=ctx.now)
    ctx.member.credentials.append(passkey)
    if ctx.member.second_factor is None:
        ctx.member.second_factor = "passkey"
    ctx.session.flush()
    details = dict(credential_type=webauthn.TYPE, credential_id=passkey.id, credential_user_label=label)
    ctx.record_event("UPDATE_CREDENTIAL", **details)
    # Audits search for a new passkey by this name; Keycloak 26 itself reports UPDATE_CREDENTIAL.
    ctx.record_event("REGISTER_WEBAUTHN", **details)
    if ctx.data.pop("sign_out_everywhere", False):
        ctx.end_other_sessions()
    return Done()


def _label_page(label: str, error: str | None = None) -> Page:
    errors = {"label": [error]} if error else {}
    return Page(LABEL_TEMPLATE, values={"label": label}, errors=errors, status=400 if error else 200)


def _retry_page(error: str | None = None) -> Page:
    return Page(RETRY_TEMPLATE, values={"heading": "webauthn_register.title"},
                errors={"": [error]} if error else {}, status=400)
