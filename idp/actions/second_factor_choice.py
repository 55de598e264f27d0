"""The member's choice of second factor (docs/member-screens.md §2 step 9: 生体認証 or an OTP by app or by mail),
shared by `set-user-id` and `select-second-factor`. Setting the factor up is a later step's job.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from idp.db.models import User
from idp.flows.api import StepContext

Factor = Literal["passkey", "totp", "email"]
# The guide's order: 生体認証, OTP アプリ認証, OTP メール認証.
ALL_FACTORS: tuple[Factor, ...] = ("passkey", "totp", "email")
FIELD = "second_factor"
# Set to "1" by platform-authenticator.js when the browser reports a platform authenticator.
PLATFORM_FLAG = "platform_authenticator"


def _each_once(offer: list[str]) -> list[str]:
    if len(set(offer)) != len(offer):
        raise ValueError("each second factor may be offered only once")
    return offer


# The `offer` option: which factors a realm's members may choose, in the order shown.
Offer = Annotated[list[Factor], Field(min_length=1), AfterValidator(_each_once)]


def has_second_factor(user: User) -> bool:
    """The member chose a factor already or has one set up (an OTP device or a passkey)."""
    return user.second_factor is not None or any(c.type in ("otp", "webauthn") for c in user.credentials)


def choice_values(offer: Sequence[str], chosen: str | None) -> dict[str, Any]:
    """What the page's radio group needs: the factors offered and the one checked."""
    return {"factors": list(offer), FIELD: chosen}


def read_choice(form: Mapping[str, str], offer: Sequence[str]) -> tuple[str | None, list[str]]:
    """The submitted factor and the message keys that refuse it (none when it stands).

    A passkey needs the browser's word that a platform authenticator exists; without
    JavaScript there is no such word, so only the two OTP choices work then.
    """
    choice = form.get(FIELD) or None
    if choice not in offer:
        return None, ["select_second_factor.error.missing"]
    if choice == "passkey" and form.get(PLATFORM_FLAG) != "1":
        return choice, ["select_second_factor.error.no_platform_authenticator"]
    return choice, []


def store_choice(ctx: StepContext, choice: str) -> None:
    """Remember the factor; the step that sets it up reads `user.second_factor`."""
    ctx.member.second_factor = choice
    ctx.record_event("CUSTOM_REQUIRED_ACTION", custom_required_action="select-second-factor", second_factor=choice)
