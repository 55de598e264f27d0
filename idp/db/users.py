"""The user repository: find, create and update members and their password credentials.

Uniqueness of user IDs and emails (per realm, case-insensitive) is left to the database's
unique indexes, so two members racing for the same ID get a clean `UserExists`, never a
duplicate. Functions flush; the caller commits.

Passwords are stored as Keycloak stores them: a `password` credential whose `secret_data` and
`credential_data` have Keycloak's shape. When a password is replaced, the old hash stays as a
`password-history` credential (Keycloak's type), which the `passwordHistory(N)` policy reads.
User attributes keep Keycloak's shape too: a name maps to a list of strings.
"""
from __future__ import annotations

import base64
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.db.models import Credential, PendingRequiredAction, Realm, User, utcnow
from idp.realms import realm_config
from idp.security.secret_box import SecretBoxError, decrypt, is_encrypted

PASSWORD = "password"
PASSWORD_HISTORY = "password-history"
OTP = "otp"


class UserExists(ValueError):
    """Another user of the realm already has this user ID (`field="username"`) or email."""

    def __init__(self, field: str, value: str):
        self.field = field
        self.value = value
        super().__init__(f"another user already has {field} {value!r}")

    @classmethod
    def from_integrity_error(cls, exc: IntegrityError, user: User) -> UserExists:
        # PostgreSQL names the index, SQLite the columns or the index: both mention "email".
        field = "email" if "email" in str(exc.orig).lower() else "username"
        return cls(field, getattr(user, field))


def find_user(session: Session, realm: Realm, login: str) -> User | None:
    """The member who signs in as `login`: a user ID or an email, both case-insensitive."""
    login = (login or "").strip().lower()
    if not login:
        return None
    members = select(User).where(User.realm_id == realm.id, User.service_account_client_id.is_(None))
    user = session.scalar(members.where(User.username == login))
    if user is None and "@" in login:
        user = session.scalar(members.where(func.lower(User.email) == login))
    return user


def get_user(session: Session, realm: Realm, username: str) -> User | None:
    """The user (service accounts included) with exactly this user ID, case-insensitive."""
    return session.scalar(select(User).where(User.realm_id == realm.id, User.username == username.strip().lower()))


def create_user(
    session: Session,
    realm: Realm,
    username: str,
    *,
    settings,
    email: str | None = None,
    first_name: str = "",
    last_name: str = "",
    birthdate: date | None = None,
    password: str | None = None,
    password_hash: tuple[dict, dict] | None = None,
    temporary: bool = False,
    email_verified: bool = False,
    attributes: dict | None = None,
    required_actions=(),
) -> User:
    """Add a member; raises UserExists when the user ID or email is taken (decided by the indexes).

    `password_hash` is a (secret_data, credential_data) pair made earlier with `hash_password`,
    so bulk imports can hash before they open their transaction."""
    user = User(
        realm_id=realm.id,
        username=username.strip().lower(),
        email=normalize_email(email),
        email_verified=email_verified,
        first_name=first_name,
        last_name=last_name,
        birthdate=birthdate,
        attributes=dict(attributes or {}),
    )
    insert_user(session, user)
    # The realm's default required actions are asked of every new member, as Keycloak adds them.
    for action in dict.fromkeys([*required_actions, *realm_config(realm).default_required_actions]):
        user.required_actions.append(PendingRequiredAction(action=action))
    if password is not None or password_hash is not None:
        set_password(session, user, password, settings, temporary=temporary, hashed=password_hash)
    session.flush()
    return user


def insert_user(session: Session, user: User) -> User:
    """Insert a prepared User in a savepoint, turning an index violation into UserExists."""
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError as exc:
        raise UserExists.from_integrity_error(exc, user) from None
    return user


def normalize_email(email: str | None) -> str | None:
    # Keycloak stores emails lower-cased; an empty address means "none yet".
    email = (email or "").strip().lower()
    return email or None


def password_credential(user: User) -> Credential | None:
    return next((c for c in user.credentials if c.type == PASSWORD), None)


def password_history(user: User) -> list[Credential]:
    """Earlier passwords, newest first."""
    older = [c for c in user.credentials if c.type == PASSWORD_HISTORY]
    return sorted(older, key=lambda c: c.created_at, reverse=True)


def previous_hashes(user: User) -> list[tuple[dict, dict]]:
    """(secret_data, credential_data) of the current password, then earlier ones, newest first:
    what `PasswordPolicy.violations(previous_hashes=)` compares a new password with."""
    current = password_credential(user)
    credentials = ([current] if current else []) + password_history(user)
    return [(c.secret_data, c.credential_data) for c in credentials]


def set_password(session: Session, user: User, password: str | None, settings, temporary: bool = False,
                 hashed: tuple[dict, dict] | None = None) -> Credential:
    """Replace the user's password (hashed with argon2id, or `hashed` already); the old hash
    moves to the history. The caller checks the realm's password policy first.
    """
    from idp.security.passwords import hash_password

    if hashed is None:
        if password is None:
            raise ValueError("set_password needs the password or its hash")
        hashed = hash_password(password, settings)
    secret_data, credential_data = hashed
    current = password_credential(user)
    if current is not None:
        current.type = PASSWORD_HISTORY
    credential = Credential(
        type=PASSWORD, secret_data=secret_data, credential_data=credential_data, temporary=temporary
    )
    user.credentials.append(credential)
    _trim_history(session, user)
    session.flush()
    return credential


def _trim_history(session: Session, user: User) -> None:
    # Keycloak's passwordHistory(N) compares with the current password and N-1 earlier ones;
    # older hashes are of no use and are deleted.
    keep = max(_history_length(session, user) - 1, 0)
    for old in password_history(user)[keep:]:
        user.credentials.remove(old)


def _history_length(session: Session, user: User) -> int:
    from idp.realms import realm_config
    from idp.security.password_policy import PasswordPolicy

    realm = session.get_one(Realm, user.realm_id)
    return PasswordPolicy.parse(realm_config(realm).password_policy).history_count


def check_password(session: Session, user: User, password: str, settings) -> bool:
    """Whether `password` is the user's; a correct one in an old format is rehashed to argon2id."""
    from idp.security.passwords import hash_password, needs_rehash, verify_password

    credential = password_credential(user)
    if credential is None or not verify_password(password, credential.secret_data, credential.credential_data):
        return False
    if needs_rehash(credential.credential_data, settings):
        credential.secret_data, credential.credential_data = hash_password(password, settings)
    credential.last_used_at = utcnow()
    session.flush()
    return True


def otp_key(credential: Credential, settings=None) -> bytes:
    """The HMAC key of an OTP credential, derived as Keycloak derives it.

    `secret_data["value"]` is encrypted at rest (`idp.security.secret_box`, under
    `settings.secret_key`); a plaintext value written before encryption existed is read as it
    is, and needs no settings. Keycloak uses the UTF-8 bytes of the plaintext as the key, unless
    `credential_data["secretEncoding"]` is "BASE32" (secrets entered in base32, e.g. imported
    from another system, and every key this server generates): then it is base32-decoded.
    Decoding every secret as base32 would give migrated members' authenticator apps codes that
    never match. Raises `SecretBoxError` when the value cannot be decrypted.
    """
    stored = credential.secret_data["value"]
    if is_encrypted(stored) and settings is None:
        raise SecretBoxError("an encrypted OTP secret needs the settings' secret key")
    value = decrypt(stored, settings.secret_key) if settings is not None else stored
    if credential.credential_data.get("secretEncoding") == "BASE32":
        return base64.b32decode(value.upper() + "=" * (-len(value) % 8))
    return value.encode("utf-8")


EMAIL_CODES = "email_code_enabled"


def email_codes_on(user: User) -> bool:
    """Whether codes by email are one of the member's second factors: a verified address, and
    either chosen (second_factor "email") or switched on from the account pages."""
    chosen = user.second_factor == "email" or (user.attributes or {}).get(EMAIL_CODES) is True
    return bool(user.email and user.email_verified and chosen)
