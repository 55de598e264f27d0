"""Who calls the Admin API and what they may do: a bearer access token of the realm itself (a
service account holding `realm-management` roles) or of the `master` realm (an administrator).

As Keycloak does, permissions come from the caller's role mappings when the request arrives, so
taking a role away takes effect at once; the token only says who calls.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.admin import errors
from idp.db.models import Client, Realm, User
from idp.db.revocations import access_token_revoked
from idp.oidc import sessions, tokens
from idp.realms.schema import REALM_MANAGEMENT, REALM_MANAGEMENT_ROLES

MASTER = "master"
# Keycloak's realm role that makes a master-realm user an administrator of every realm.
MASTER_ADMIN_ROLE = "admin"
# Keycloak's composites: managing includes viewing, viewing users includes querying them and groups.
IMPLIED = {
    "realm-admin": REALM_MANAGEMENT_ROLES,
    "manage-users": {"view-users", "query-users", "query-groups"},
    "view-users": {"query-users", "query-groups"},
    "manage-clients": {"view-clients", "query-clients"},
    "view-clients": {"query-clients"},
    "manage-realm": {"view-realm"},
}


@dataclass(frozen=True)
class Caller:
    """The authenticated caller: their realm, user (a person or a service account) and client."""

    realm: Realm
    user: User
    client_id: str
    permissions: frozenset[str]

    def require(self, permission: str) -> None:
        """403 unless the caller holds `permission` (a realm-management role, composites expanded)."""
        if permission not in self.permissions:
            raise errors.forbidden()


def bearer_token(header: str) -> str | None:
    scheme, _, value = (header or "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def authenticate(session: Session, target: Realm, token: str | None, issuer_of) -> Caller:
    """The caller of a request on `target`'s Admin API, or 401/403 as Keycloak answers."""
    if token is None:
        raise errors.unauthorized()
    realm, claims = _verified(session, target, token, issuer_of)
    user = session.get(User, claims.get("sub", ""))
    if user is None or user.realm_id != realm.id or not user.enabled:
        raise errors.unauthorized()
    if claims.get("sid") and sessions.find_session(session, realm, claims["sid"]) is None:
        raise errors.unauthorized()
    client = session.scalar(select(Client).where(Client.realm_id == realm.id, Client.client_id == claims.get("azp")))
    if client is None or not client.enabled or not client.attributes.get("admin_api"):
        raise errors.forbidden()
    return Caller(realm, user, client.client_id, _permissions(realm, user))


def _verified(session: Session, target: Realm, token: str, issuer_of) -> tuple[Realm, dict]:
    """The token's realm (the target, else master) and its claims, if it is a live access token."""
    for realm in _issuers(session, target):
        try:
            claims = tokens.decode(session, realm, token, issuer=issuer_of(realm.name), typ="Bearer")
        except tokens.InvalidToken:
            continue
        if access_token_revoked(session, claims["jti"]):
            break
        return realm, claims
    raise errors.unauthorized()


def _issuers(session: Session, target: Realm):
    """The target realm, then (looked up only when needed) the enabled master realm."""
    yield target
    if target.name != MASTER:
        master = session.scalar(select(Realm).where(Realm.name == MASTER, Realm.enabled.is_(True)))
        if master is not None:
            yield master


def _permissions(realm: Realm, user: User) -> frozenset[str]:
    if realm.name == MASTER and MASTER_ADMIN_ROLE in (user.roles or []):
        return frozenset(REALM_MANAGEMENT_ROLES)
    granted = set((user.client_roles or {}).get(REALM_MANAGEMENT, [])) & REALM_MANAGEMENT_ROLES
    for role in list(granted):
        granted |= IMPLIED.get(role, set())
    return frozenset(granted)


def token_realm_name(token: str | None) -> str | None:
    """The realm a bearer token names in `iss` (read before its signature is checked, only to know
    which realm's keys to check it with; `authenticate` then verifies it)."""
    try:
        payload = (token or "").split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        issuer = claims["iss"]
    except (IndexError, ValueError, KeyError, TypeError):
        return None
    return issuer.rpartition("/realms/")[2] if isinstance(issuer, str) and "/realms/" in issuer else None
