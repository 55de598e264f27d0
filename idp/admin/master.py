"""The `master` realm and its administrators, as Keycloak's: an `admin-cli` public client with
the password grant, and users whose realm role `admin` lets them manage every realm's Admin API.

A deployment gets its first administrator from `idp admin create` or, as Keycloak's
KC_BOOTSTRAP_ADMIN_USERNAME/PASSWORD, from IDP_BOOTSTRAP_ADMIN_USERNAME/PASSWORD at start-up.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.admin.auth import MASTER, MASTER_ADMIN_ROLE
from idp.config import SettingsError
from idp.db.models import Realm, User
from idp.db.users import create_user, get_user
from idp.realms import realm_config, save_realm
from idp.realms.schema import ClientConfig, RealmConfig
from idp.security.password_policy import PasswordPolicy

ADMIN_CLI = "admin-cli"


class AdminRefused(ValueError):
    """The administrator cannot be created as asked (taken user ID, password against the policy)."""


def master_realm_config() -> RealmConfig:
    """What a new master realm holds: the Admin API on, and Keycloak's `admin-cli` client."""
    admin_cli = ClientConfig(client_id=ADMIN_CLI, name="admin-cli", public=True, standard_flow=False,
                             direct_access_grants=True, admin_api=True)
    return RealmConfig(realm=MASTER, display_name="管理", admin_api=True, clients=[admin_cli])


def ensure_master_realm(session: Session) -> Realm:
    """The master realm; created with `master_realm_config()` when missing, left as it is otherwise
    (an operator's realm-config/master.yaml wins)."""
    from idp.oidc.keys import ensure_signing_key

    realm = session.scalar(select(Realm).where(Realm.name == MASTER))
    if realm is None:
        realm = save_realm(session, master_realm_config())
    ensure_signing_key(session, realm)
    return realm


def create_admin(session: Session, settings, username: str, password: str) -> User:
    """A master-realm administrator (role `admin`); the caller commits. Raises AdminRefused."""
    realm = ensure_master_realm(session)
    if get_user(session, realm, username) is not None:
        raise AdminRefused(f"the master realm already has a user {username.strip().lower()!r}")
    policy = PasswordPolicy.parse(realm_config(realm).password_policy)
    broken = policy.violations(password, username=username.strip().lower())
    if broken:
        rules = ", ".join(violation.key.removeprefix("password_policy.") for violation in broken)
        raise AdminRefused(f"the master realm's password policy ({policy.text}) refuses this password: {rules}")
    admin = create_user(session, realm, username, settings=settings, password=password)
    admin.roles = [MASTER_ADMIN_ROLE]
    return admin


def bootstrap_admin(session: Session, settings) -> str | None:
    """IDP_BOOTSTRAP_ADMIN_USERNAME/PASSWORD: create that administrator once; an existing one is
    never changed (its password may have been changed since). Returns what was done, for the log."""
    username, password = settings.bootstrap_admin_username, settings.bootstrap_admin_password
    if not username or not password:
        return None
    realm = ensure_master_realm(session)
    if get_user(session, realm, username) is not None:
        return None
    try:
        create_admin(session, settings, username, password)
    except AdminRefused as exc:
        raise SettingsError(f"IDP_BOOTSTRAP_ADMIN_PASSWORD: {exc}") from None
    return f"master realm: created administrator {username.strip().lower()} (IDP_BOOTSTRAP_ADMIN_USERNAME)"
