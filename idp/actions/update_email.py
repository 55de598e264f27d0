"""`update-email` (メールアドレスの更新, docs/member-screens.md §2 step 6): the member confirms or changes
their address.

Another member's address is refused by the database's unique index (uq_users_realm_email),
not by a lookup first, so two members racing for one address cannot both win.
"""
from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.exc import IntegrityError

from idp.actions.email_rules import EMPTY, INVALID, TOO_LONG, email_problems
from idp.db.users import normalize_email
from idp.flows.api import Action, Done, NoOptions, Page, StepContext

TEMPLATE = "actions/update-email.html"
ERROR_KEYS = {
    EMPTY: "update_email.error.empty",
    INVALID: "update_email.error.invalid",
    TOO_LONG: "update_email.error.too_long",
}
TAKEN = "update_email.error.taken"


class UpdateEmail(Action[NoOptions]):
    name = "update-email"
    alias = "UPDATE_EMAIL"

    def challenge(self, ctx: StepContext[NoOptions]) -> Page:
        return Page(TEMPLATE, values={"email": ctx.member.email or ""})

    def process(self, ctx: StepContext[NoOptions], form: Mapping[str, str]) -> Page | Done:
        typed = form.get("email", "")
        # Browsers strip the spaces around a type=email value too; spaces inside stay errors.
        problems = email_problems(typed.strip())
        if problems:
            return _show_again(typed, [ERROR_KEYS[problem] for problem in problems])
        address = normalize_email(typed)
        previous = ctx.member.email
        if address == normalize_email(previous):
            return Done()
        if not _claim(ctx, address):
            return _show_again(typed, [TAKEN])
        ctx.record_event("UPDATE_EMAIL", previous_email=previous, updated_email=address)
        return Done()


def _claim(ctx: StepContext[NoOptions], address: str | None) -> bool:
    """Give the member `address` (unverified) unless the index says another member has it."""
    try:
        # Changed inside the savepoint: its rollback then also puts the old values back.
        with ctx.session.begin_nested():
            ctx.member.email = address
            ctx.member.email_verified = False
            ctx.session.flush()
    except IntegrityError:
        return False
    return True


def _show_again(typed: str, error_keys: list[str]) -> Page:
    return Page(TEMPLATE, values={"email": typed}, errors={"email": error_keys})
