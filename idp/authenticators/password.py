"""The password authenticator: user ID (or email) and password, with no hint of which was wrong."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from sqlalchemy.orm import Session

from idp.config import Settings
from idp.db.models import Realm, User
from idp.db.users import check_password, find_user
from idp.flows.api import Authenticator, Done, Page, StepContext
from idp.security.brute_force import BruteForce
from idp.security.passwords import dummy_verify

MAX_LENGTH = {"username": 255, "password": 1024}


@dataclass(frozen=True)
class PasswordResult:
    user: User | None
    error: str | None  # a message key, or None on success


class PasswordAuthenticator:
    """Checks a user ID and password; unknown user IDs cost the same time as wrong passwords."""

    def __init__(self, session: Session, realm: Realm, settings: Settings):
        self.session = session
        self.realm = realm
        self.settings = settings

    def authenticate(self, login: str, password: str) -> PasswordResult:
        user = find_user(self.session, self.realm, login.strip())
        if user is None or user.service_account_client_id:
            dummy_verify(password, self.settings)
            return PasswordResult(None, "login.invalid_credentials")
        if not check_password(self.session, user, password, self.settings):
            return PasswordResult(None, "login.invalid_credentials")
        if not user.enabled:
            return PasswordResult(None, "login.account_disabled")
        return PasswordResult(user, None)


class PasswordStep(Authenticator):
    """`authenticate: password` — the sign-in page of SPEC §1."""

    name = "password"
    needs_user = False

    def challenge(self, ctx: StepContext) -> Page:
        return Page("login.html", values={"username": ctx.extra.get("login_hint", "")})

    def process(self, ctx: StepContext, form: Mapping[str, str]) -> Page | Done:
        username, password = form.get("username", ""), form.get("password", "")
        errors = {}
        if not username.strip():
            errors["username"] = ["login.missing_username"]
        if not password:
            errors["password"] = ["login.missing_password"]
        for field, longest in MAX_LENGTH.items():
            if len(form.get(field, "")) > longest:
                errors[field] = ["login.invalid_credentials"]
        if errors:
            return Page("login.html", values={"username": username}, errors=errors, status=400)
        guard, who = BruteForce(ctx.store, ctx.realm.id, ctx.config.brute_force, ctx.now), self._who(ctx, username)
        if guard.locked(who, ctx.ip_address):
            dummy_verify(password, ctx.settings)  # a locked account answers as slowly as any other
            ctx.record_event("LOGIN_ERROR", error="user_temporarily_disabled", username=username[:255])
            return Page("login.html", values={"username": username}, errors={"": ["brute_force.locked"]}, status=401)
        result = PasswordAuthenticator(ctx.session, ctx.realm, ctx.settings).authenticate(username, password)
        if result.user is None:
            ctx.record_event("LOGIN_ERROR", error="invalid_user_credentials", username=username[:255])
            self._count_failure(ctx, guard, who, username)
            return Page("login.html", values={"username": username}, errors={"": [result.error]}, status=401)
        guard.succeeded(who)
        return Done(user=result.user, remember_me=form.get("remember_me") in ("y", "on", "1", "true"))

    @staticmethod
    def _who(ctx: StepContext, username: str) -> str:
        """Whose failures these are: the member's id, or for a user ID nobody has, what was typed
        (so an unknown ID locks exactly like a real one and the page gives nothing away)."""
        user = find_user(ctx.session, ctx.realm, username.strip())
        return user.id if user is not None else "login:" + username.strip().lower()[:255]

    @staticmethod
    def _count_failure(ctx: StepContext, guard: BruteForce, who: str, username: str) -> None:
        failure = guard.failed(who, ctx.ip_address)
        if not failure.lock_started:
            return
        ctx.record_event("USER_LOCKED", username=username[:255], wait_seconds=failure.wait_seconds,
                         permanent=failure.permanent or None)
        user = ctx.session.get(User, who)
        if failure.permanent and user is not None:
            # As Keycloak: a permanent lockout disables the member until an operator unlocks them.
            ctx.lock_out(user)
            ctx.record_event("USER_DISABLED_BY_PERMANENT_LOCKOUT", user_id=user.id, username=user.username,
                             reason="brute_force_attack detected")
