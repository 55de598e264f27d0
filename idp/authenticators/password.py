"""The password authenticator: user ID (or email) and password, with no hint of which was wrong."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.config import Settings
from idp.db.models import Realm, User
from idp.db.users import check_password, find_user
from idp.security.passwords import dummy_verify


@dataclass(frozen=True)
class PasswordResult:
    user: User | None
    error: str | None  # a message key, or None on success


class PasswordAuthenticator:
    """Checks a user ID and password; unknown user IDs cost the same time as wrong passwords."""

    name = "password"

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
