"""`authenticate: otp` — the code of the member's authenticator app at sign-in (Keycloak's OTP form)."""
from __future__ import annotations

import logging
from collections.abc import Mapping

from idp.authenticators import totp
from idp.db.models import Credential, User
from idp.db.users import otp_key
from idp.flows.api import Authenticator, Done, NoOptions, Page, StepContext
from idp.security.brute_force import LOCKED_MESSAGE, StepGuard
from idp.security.secret_box import SecretBoxError

log = logging.getLogger("idp.otp")


def devices(user: User) -> list[Credential]:
    return [credential for credential in user.credentials if credential.type == "otp"]


class OtpStep(Authenticator[NoOptions]):
    """Accepts a code from one of the member's devices, once (a replayed code is refused)."""

    name = "otp"
    factor = "totp"
    setup_action = "configure-totp"

    def needed(self, ctx: StepContext[NoOptions]) -> bool:
        return bool(devices(ctx.member))

    def is_set_up(self, ctx: StepContext[NoOptions]) -> bool:
        return bool(devices(ctx.member))

    def challenge(self, ctx: StepContext[NoOptions]) -> Page:
        return self._page(ctx, {"": [LOCKED_MESSAGE]} if StepGuard(ctx, "otp").holds() else None)

    def process(self, ctx: StepContext[NoOptions], form: Mapping[str, str]) -> Page | Done:
        code = form.get("otp", "").strip()
        if not code:
            return self._page(ctx, {"otp": ["otp.missing"]}, 400, form.get("device"))
        guard = StepGuard(ctx, "otp")
        if guard.refuses(credential_type="otp"):
            return self._page(ctx, {"": [LOCKED_MESSAGE]}, 401, form.get("device"))
        device = self._chosen(ctx.member, form.get("device"))
        if device is None or not self._accept(ctx, device, code):
            ctx.record_event("LOGIN_ERROR", error="invalid_user_credentials", credential_type="otp")
            guard.failed(credential_type="otp")
            return self._page(ctx, {"": ["otp.invalid"]}, 401, form.get("device"))
        device.last_used_at = ctx.now
        return Done(factor=self.factor)

    def _page(self, ctx: StepContext[NoOptions], errors: dict[str, list[str]] | None = None, status: int = 200,
              chosen: str | None = None) -> Page:
        choices = [(c.id, c.user_label or c.id[:8]) for c in devices(ctx.member)]
        return Page("otp.html", values={"devices": choices, "chosen": chosen or choices[0][0]},
                    errors=errors or {}, status=status)

    @staticmethod
    def _chosen(user: User, device_id: str | None) -> Credential | None:
        available = devices(user)
        chosen = [c for c in available if c.id == device_id]
        return chosen[0] if chosen else (available[0] if len(available) == 1 else None)

    @staticmethod
    def _accept(ctx: StepContext[NoOptions], device: Credential, code: str) -> bool:
        """Check the code and record its time step (or counter) so the same code works only once.

        The realm's look-around window applies (Keycloak's otpPolicyLookAheadWindow: that many
        steps either side of now for time-based devices, ahead for counter-based ones)."""
        params = totp.device_parameters(device.credential_data)
        window = ctx.config.otp_policy.look_around_window
        try:
            key = otp_key(device, ctx.settings)
        except SecretBoxError:
            log.error("OTP secret of credential %s cannot be decrypted: was IDP_SECRET_KEY changed?", device.id)
            return False
        if device.credential_data.get("subType") == "hotp":
            counter = totp.matching_counter(key, code, counter=int(device.credential_data.get("counter", 0)),
                                            digits=params["digits"], algorithm=params["algorithm"], look_ahead=window)
            if counter is None:
                return False
            device.credential_data = dict(device.credential_data, counter=counter + 1)
            return True
        step = totp.matching_step(key, code, **params, window=window, now=ctx.now.timestamp())
        return step is not None and totp.mark_used(ctx.store, device.id, step, params["period"], window)
