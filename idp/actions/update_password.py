"""Step 10 of the first sign-in (パスワード更新, Keycloak's UPDATE_PASSWORD): the member chooses
a new password that keeps the realm's password policy and is not their user ID.

Event: UPDATE_PASSWORD when the new password is stored (argon2id, no longer temporary).
"""
from __future__ import annotations

from collections.abc import Mapping

from idp.db.users import previous_hashes, set_password
from idp.flows.api import Action, Done, NoOptions, Page, StepContext
from idp.security.password_policy import GUIDE_SYMBOLS, PasswordPolicy, Violation

TEMPLATE = "actions/update-password.html"
NOT_USER_ID = Violation("password_policy.not_username")


class UpdatePassword(Action[NoOptions]):
    name = "update-password"
    alias = "UPDATE_PASSWORD"

    def challenge(self, ctx: StepContext[NoOptions]) -> Page:
        return _page(ctx)

    def process(self, ctx: StepContext[NoOptions], form: Mapping[str, str]) -> Page | Done:
        password = form.get("password", "")
        confirmation = form.get("password_confirm", "")
        problems = password_problems(ctx, password)
        if problems:
            return _page(ctx, {"password": problems})
        if not confirmation:
            return _page(ctx, {"password_confirm": [Violation("update_password.missing_confirmation")]})
        if confirmation != password:
            return _page(ctx, {"password_confirm": [Violation("update_password.confirmation_differs")]})
        set_password(ctx.session, ctx.member, password, ctx.settings, temporary=False)
        ctx.record_event("UPDATE_PASSWORD")
        return Done()


def password_problems(ctx: StepContext[NoOptions], password: str) -> list[Violation]:
    """Why `password` cannot be the member's new one: the realm's policy, then our own rule that
    it is never the user ID (even where the policy leaves notUsername out)."""
    if not password:
        return [Violation("update_password.missing")]
    user = ctx.member
    problems = _policy(ctx).violations(
        password, username=user.username, email=user.email or "", previous_hashes=previous_hashes(user)
    )
    if password.casefold() == user.username.casefold() and NOT_USER_ID not in problems:
        problems.append(NOT_USER_ID)
    return problems


def _policy(ctx: StepContext[NoOptions]) -> PasswordPolicy:
    return PasswordPolicy.parse(ctx.config.password_policy)


def rules(policy: PasswordPolicy) -> list[Violation]:
    """The rules shown before the member types: length and, where the realm uses the guide's
    list, the allowed characters (as message keys with their parameters)."""
    shown = []
    if policy.min_length and policy.max_length:
        shown.append(Violation("update_password.rule_length", {"min": policy.min_length, "max": policy.max_length}))
    elif policy.min_length:
        shown.append(Violation("update_password.rule_min_length", {"min": policy.min_length}))
    elif policy.max_length:
        shown.append(Violation("update_password.rule_max_length", {"max": policy.max_length}))
    if "allowedCharacters" in policy.rules:
        shown.append(Violation("update_password.rule_characters", {"characters": GUIDE_SYMBOLS}))
    shown.append(Violation("update_password.rule_not_user_id"))
    return shown


def _page(ctx: StepContext[NoOptions], problems: dict[str, list[Violation]] | None = None) -> Page:
    """The form; each problem is shown with its parameters (e.g. the minimum length), so the
    messages travel in `values` as well as their keys in `errors`."""
    problems = problems or {}
    values = {
        "rules": [_message(rule) for rule in rules(_policy(ctx))],
        "problems": {field: [_message(problem) for problem in found] for field, found in problems.items()},
    }
    errors = {field: [problem.key for problem in found] for field, found in problems.items()}
    return Page(TEMPLATE, values=values, errors=errors)


def _message(violation: Violation) -> dict:
    return {"key": violation.key, "params": dict(violation.params)}
