"""`authenticate: passkey` — the member confirms the sign-in with one of their passkeys (生体認証,
docs/member-screens.md §4), on this device or a phone nearby (hybrid/QR); `passkey-login` signs in with a passkey
alone, offered by the browser's autofill (realm option webauthn.passkey_first_factor)."""
from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy import select

from idp.authenticators import webauthn_server as webauthn
from idp.db.models import Credential, User
from idp.flows.api import Authenticator, Done, NoOptions, Page, StepContext
from idp.security.brute_force import LOCKED_MESSAGE, StepGuard

TEMPLATE = "passkey.html"
LOGIN_TEMPLATE = "passkey-login.html"
RETRY_TEMPLATE = "passkey-retry.html"
REFUSED = "passkey.error.refused"
PASSKEY_FIELDS = ("retry", webauthn.CREDENTIAL_FIELD, webauthn.ERROR_FIELD)


class PasskeyStep(Authenticator[NoOptions]):
    """Any of the member's passkeys; a sign count that goes backwards is refused and audited."""

    name = "passkey"
    factor = "passkey"
    setup_action = "webauthn-register"

    def is_set_up(self, ctx: StepContext[NoOptions]) -> bool:
        return bool(webauthn.passkeys(ctx.member))

    def needed(self, ctx: StepContext[NoOptions]) -> bool:
        return self.is_set_up(ctx)

    def challenge(self, ctx: StepContext[NoOptions]) -> Page:
        return _start(ctx, webauthn.passkeys(ctx.member))

    def process(self, ctx: StepContext[NoOptions], form: Mapping[str, str]) -> Page | Done:
        if form.get("retry"):
            return self.challenge(ctx)
        state = ctx.data.get("authentication")
        answer = form.get(webauthn.CREDENTIAL_FIELD, "")
        if state is None or form.get(webauthn.ERROR_FIELD) or not answer:
            return _retry_page("passkey.title")  # a cancelled dialog guessed nothing: not counted
        guard = StepGuard(ctx, "passkey")
        if guard.refuses(credential_type=webauthn.TYPE):
            return _locked(self.challenge(ctx))
        try:
            response = webauthn.parse_assertion(answer)
            assertion = webauthn.finish_authentication(ctx, state, response, webauthn.passkeys(ctx.member))
        except webauthn.CeremonyRefused as problem:
            _refused(ctx, "invalid_user_credentials", reason=str(problem)[:200])
            guard.failed(credential_type=webauthn.TYPE)
            return _retry_page("passkey.title")
        return _accept(ctx, assertion, lambda: self.challenge(ctx), guard) or Done(factor="passkey")


class PasskeyLogin(Authenticator[NoOptions]):
    """`authenticate: passkey-login` — the sign-in page, where a member may also sign in with a
    passkey alone when the realm turns webauthn.passkey_first_factor on: the browser offers their
    passkeys for this site in the user ID field's autofill (or after the button), and the passkey
    names the member. User ID and password work as in `authenticate: password`, which this step
    asks to check them; with the option off the page is exactly the password step's."""

    name = "passkey-login"
    needs_user = False

    def challenge(self, ctx: StepContext[NoOptions]) -> Page:
        return _with_passkeys(ctx, _password_step(ctx).challenge(ctx))

    def process(self, ctx: StepContext[NoOptions], form: Mapping[str, str]) -> Page | Done:
        offered = ctx.config.webauthn.passkey_first_factor
        if not offered or not any(form.get(field) for field in PASSKEY_FIELDS):
            checked = _password_step(ctx).process(ctx, form)
            return _with_passkeys(ctx, checked) if isinstance(checked, Page) else checked
        state = ctx.data.get("authentication")
        answer = form.get(webauthn.CREDENTIAL_FIELD, "")
        if form.get("retry") or state is None:
            return self.challenge(ctx)
        if form.get(webauthn.ERROR_FIELD) or not answer:
            return _retry_page("login.title")
        guard = None
        try:
            response = webauthn.parse_assertion(answer)
            member = _member_by_handle(ctx, response.response.user_handle)
            if member is None:
                raise webauthn.CeremonyRefused("no member has this passkey")
            guard = StepGuard(ctx, "passkey", member=member)
            if guard.refuses(credential_type=webauthn.TYPE):
                return _locked(self.challenge(ctx))
            assertion = webauthn.finish_authentication(ctx, state, response, webauthn.passkeys(member))
        except webauthn.CeremonyRefused as problem:
            _refused(ctx, "invalid_user_credentials", reason=str(problem)[:200])
            if guard is not None:
                guard.failed(credential_type=webauthn.TYPE)
            return _retry_page("login.title")
        # No member is signed in yet: the event names the one the passkey belongs to.
        refused = _accept(ctx, assertion, lambda: self.challenge(ctx), guard, passkey_owner=member.id)
        return refused or Done(user=member, factor="passkey")


def _password_step(ctx: StepContext[NoOptions]) -> Authenticator[NoOptions]:
    step = ctx.find_step("authenticate", "password")
    if not isinstance(step, Authenticator):
        raise LookupError("passkey-login needs the password step installed")
    return step


def _with_passkeys(ctx: StepContext[NoOptions], page: Page) -> Page:
    """The password step's page, plus a fresh passkey challenge when the realm offers passkeys."""
    if not ctx.config.webauthn.passkey_first_factor:
        return page
    options, state = webauthn.begin_authentication(ctx, None)
    ctx.data["authentication"] = state
    return Page(LOGIN_TEMPLATE, values={**page.values, "options": options}, errors=page.errors, status=page.status)


def _start(ctx: StepContext[NoOptions], allowed: list[Credential]) -> Page:
    options, state = webauthn.begin_authentication(ctx, allowed)
    ctx.data["authentication"] = state
    return Page(TEMPLATE, values={"options": options})


def _accept(ctx: StepContext[NoOptions], assertion: webauthn.Assertion, again: Callable[[], Page], guard: StepGuard,
            **who: str) -> Page | None:
    """Record the passkey's use, or refuse (and count as a failure) a sign count that went
    backwards (a cloned key?) and show the step's page `again` (with a fresh challenge) saying so."""
    credential = assertion.credential
    if webauthn.sign_count_went_backwards(credential, assertion.sign_count):
        _refused(ctx, "webauthn_sign_count", credential_id=credential.id,
                 stored_sign_count=int(credential.credential_data.get("counter") or 0),
                 received_sign_count=assertion.sign_count, **who)
        guard.failed(credential_type=webauthn.TYPE)
        page = again()
        page.errors, page.status = {"": [REFUSED]}, 401
        return page
    webauthn.record_use(credential, assertion.sign_count, ctx.now)
    ctx.data.pop("authentication", None)
    return None


def _locked(page: Page) -> Page:
    """The step's page saying the member is locked (their passkey was not even checked)."""
    page.errors, page.status = {"": [LOCKED_MESSAGE]}, 401
    return page


def _refused(ctx: StepContext[NoOptions], error: str, **details: object) -> None:
    ctx.record_event("LOGIN_ERROR", error=error, credential_type=webauthn.TYPE, **details)


def _member_by_handle(ctx: StepContext[NoOptions], user_handle: bytes | None) -> User | None:
    """The member whose id the passkey carries as its user handle (set at registration)."""
    if not user_handle:
        return None
    try:
        user_id = user_handle.decode("ascii")
    except UnicodeDecodeError:
        return None
    member = ctx.session.scalar(select(User).where(User.realm_id == ctx.realm.id, User.id == user_id))
    return member if member is not None and member.enabled else None


def _retry_page(heading: str) -> Page:
    return Page(RETRY_TEMPLATE, values={"heading": heading}, status=400)
