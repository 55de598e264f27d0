"""`configure-totp` (Keycloak's CONFIGURE_TOTP; docs/member-screens.md §5 ワンタイムパスワードの設定): the member adds
an authenticator app by scanning a QR code or typing its key, and confirms with the app's code.

The key is made once per setup and kept, as base32 text, in the step's scratch data (the
ephemeral sign-in session) until the member confirms; only then is it stored, encrypted, in an
`otp` credential of Keycloak's shape. A code that confirmed the setup cannot be used again to
sign in.
"""
from __future__ import annotations

import base64
import io
from collections.abc import Mapping

import qrcode
from qrcode.image.pure import PyPNGImage

from idp.authenticators import totp
from idp.db.models import Credential, new_id
from idp.db.users import OTP
from idp.flows.api import Action, Done, NoOptions, Page, StepContext
from idp.security.secret_box import encrypt

TEMPLATE = "actions/configure-totp.html"
CODE, DEVICE_NAME, SIGN_OUT_EVERYWHERE = "totp", "userLabel", "logout-sessions"  # Keycloak's field names
DEVICE_NAME_MAX = 255
APPS = ("Google Authenticator", "Microsoft Authenticator", "FreeOTP")
# Pixels per QR module: small enough that the code fits a phone's screen, large enough to scan.
QR_MODULE_PIXELS = 4


class ConfigureTotp(Action[NoOptions]):
    name = "configure-totp"
    alias = "CONFIGURE_TOTP"

    def challenge(self, ctx: StepContext[NoOptions]) -> Page:
        return self._page(ctx, {"sign_out_everywhere": True})

    def process(self, ctx: StepContext[NoOptions], form: Mapping[str, str]) -> Page | Done:
        code = form.get(CODE, "").strip()
        device_name = form.get(DEVICE_NAME, "").strip()
        typed = {DEVICE_NAME: device_name, "sign_out_everywhere": form.get(SIGN_OUT_EVERYWHERE) == "on"}
        step = matched_step(ctx, code)
        errors = {CODE: code_errors(code, step), DEVICE_NAME: device_name_errors(ctx, device_name)}
        if step is None or any(errors.values()):
            return self._page(ctx, typed, errors)
        credential = Credential(id=new_id(), type=OTP, user_label=device_name, created_at=ctx.now,
                                secret_data={"value": encrypt(ctx.data["secret"], ctx.settings.secret_key)},
                                credential_data=credential_data(ctx), priority=next_priority(ctx))
        policy = ctx.config.otp_policy
        # The code that confirmed the app is spent: replaying it at sign-in is refused too.
        totp.mark_used(ctx.store, credential.id, step, policy.period, policy.look_around_window)
        ctx.member.credentials.append(credential)
        if ctx.member.second_factor is None:
            ctx.member.second_factor = "totp"
        ctx.record_event("UPDATE_TOTP", credential_id=credential.id, credential_type=OTP)
        if typed["sign_out_everywhere"]:
            ctx.end_other_sessions()
        ctx.data.clear()
        return Done()

    def _page(self, ctx: StepContext[NoOptions], typed: dict, errors: dict | None = None) -> Page:
        secret = setup_secret(ctx)
        policy = ctx.config.otp_policy
        png, size = qr_png(setup_uri(ctx, secret))
        values = {
            **typed, "apps": APPS, "qr_png": png_data_url(png), "qr_size": size, "key": totp.grouped(secret),
            "key_plain": secret, "algorithm": policy.algorithm.removeprefix("Hmac"), "digits": policy.digits,
            "period": policy.period,
            # Adding another app from the account pages is no condition for using the account.
            "warning": not ctx.extra.get("kc_action"),
        }
        return Page(TEMPLATE, values=values, errors=errors or {}, status=400 if errors else 200)


def setup_secret(ctx: StepContext[NoOptions]) -> str:
    """The key of this setup: made on the first visit, the same on every reload until confirmed."""
    if "secret" not in ctx.data:
        ctx.data["secret"] = totp.new_secret()
    return ctx.data["secret"]


def setup_uri(ctx: StepContext[NoOptions], secret: str) -> str:
    """The QR code's text; the app lists the account as `<society display name>:<user ID>`."""
    policy = ctx.config.otp_policy
    return totp.key_uri(secret, issuer=ctx.config.display_name or ctx.config.realm, account=ctx.member.username,
                        digits=policy.digits, period=policy.period, algorithm=policy.algorithm)


def matched_step(ctx: StepContext[NoOptions], code: str) -> int | None:
    """The time step of the app's code for this setup's key, or None when it matches none."""
    policy = ctx.config.otp_policy
    return totp.matching_step(base64.b32decode(setup_secret(ctx)), code, digits=policy.digits,
                              period=policy.period, algorithm=policy.algorithm,
                              window=policy.look_around_window, now=ctx.now.timestamp())


def code_errors(code: str, step: int | None) -> list[str]:
    if not code:
        return ["configure_totp.error.missing_code"]
    return ["configure_totp.error.invalid_code"] if step is None else []


def device_name_errors(ctx: StepContext[NoOptions], name: str) -> list[str]:
    if not name:
        return ["configure_totp.error.missing_device_name"]
    if len(name) > DEVICE_NAME_MAX:
        return ["configure_totp.error.device_name_too_long"]
    # At sign-in the member picks a device by its name: two alike could not be told apart.
    if any(c.type == OTP and c.user_label == name for c in ctx.member.credentials):
        return ["configure_totp.error.device_name_taken"]
    return []


def credential_data(ctx: StepContext[NoOptions]) -> dict:
    """Keycloak's OTP credential data; our keys are base32 text, hence secretEncoding BASE32."""
    policy = ctx.config.otp_policy
    return {"subType": "totp", "digits": policy.digits, "period": policy.period, "counter": 0,
            "algorithm": policy.algorithm, "secretEncoding": "BASE32"}


def next_priority(ctx: StepContext[NoOptions]) -> int:
    # Keycloak lists credentials by priority, newest last, in steps of ten.
    return max((c.priority for c in ctx.member.credentials), default=0) + 10


def qr_png(text: str) -> tuple[bytes, int]:
    """`text` as a QR code: a PNG image (quiet zone included, so saved files scan too) and its
    width in pixels."""
    image = qrcode.make(text, image_factory=PyPNGImage, box_size=QR_MODULE_PIXELS, border=4)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue(), image.pixel_size


def png_data_url(png: bytes) -> str:
    # Steps add no routes: the image travels inside the page (CSP img-src allows data:).
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
