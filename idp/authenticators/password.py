"""The password authenticator: user ID (or email) and password, with no hint of which was wrong."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.config import Settings
from idp.db.models import Realm, User
from idp.db.users import check_password, find_user
from idp.flows.api import Authenticator, Done, NoOptions, Page, StepContext
from idp.security.brute_force import LOCKED_MESSAGE, StepGuard
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


class PasswordStep(Authenticator[NoOptions]):
    """`authenticate: password` — the sign-in page of docs/member-screens.md §1."""

    name = "password"
    needs_user = False

    def challenge(self, ctx: StepContext[NoOptions]) -> Page:
        return Page("login.html", values={"username": ctx.extra.get("login_hint", "")})

    def process(self, ctx: StepContext[NoOptions], form: Mapping[str, str]) -> Page | Done:
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
        guard = StepGuard(ctx, "password", member=self._member(ctx, username), login=username)
        if guard.refuses(username=username[:255]):
            dummy_verify(password, ctx.settings)  # a locked account answers as slowly as any other
            return Page("login.html", values={"username": username}, errors={"": [LOCKED_MESSAGE]}, status=401)
        result = PasswordAuthenticator(ctx.session, ctx.realm, ctx.settings).authenticate(username, password)
        if result.error is not None:
            ctx.record_event("LOGIN_ERROR", error="invalid_user_credentials", username=username[:255])
            guard.failed(username=username[:255])
            return Page("login.html", values={"username": username}, errors={"": [result.error]}, status=401)
        return Done(user=result.user, remember_me=form.get("remember_me") in ("y", "on", "1", "true"))

    @staticmethod
    def _member(ctx: StepContext[NoOptions], username: str) -> User | None:
        """Whose failures these are; a user ID nobody signs in with counts as typed (so an
        unknown ID locks exactly like a real one and the page gives nothing away)."""
        user = find_user(ctx.session, ctx.realm, username.strip())
        return None if user is None or user.service_account_client_id else user
