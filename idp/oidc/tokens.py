"""Access, ID and refresh tokens as Keycloak 26 shapes them, signed with the realm's key.

Relying parties written for Keycloak read these claims: `typ` (`Bearer`, `ID`, `Refresh`),
`azp`, `sid`, `realm_access.roles`, `resource_access`, `preferred_username`, ...
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from authlib.oidc.core.util import create_half_hash
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy.orm import Session, object_session

from idp.db.models import Client, Realm, User, UserSession
from idp.db.roles import token_roles
from idp.oidc.keys import active_key, private_key, verification_keys
from idp.realms.keycloak_builtins import default_roles as default_roles_of
from idp.realms.redirect_patterns import allowed_web_origins, origin_of

# Keycloak's default client scopes: always applied, whether requested or not.
DEFAULT_SCOPES = ("profile", "email")
OPTIONAL_SCOPES = ("roles", "web-origins", "acr", "basic")
ACCOUNT_ROLES = ["manage-account", "manage-account-links", "view-profile"]


class InvalidToken(ValueError):
    """A token that is not ours, not of the expected type, or no longer valid."""


@dataclass(frozen=True)
class TokenContext:
    """Everything a token says about who, for whom and in which session."""

    issuer: str
    realm: Realm
    client: Client
    user: User
    scope: str
    user_session: UserSession | None = None


def granted_scope(requested: str | None) -> str:
    """The scope claim Keycloak reports: `openid` when asked, plus the default scopes."""
    asked = (requested or "").split()
    granted = ["openid"] if "openid" in asked else []
    return " ".join(granted + list(DEFAULT_SCOPES))


def is_known_scope(scope: str) -> bool:
    return scope in {"openid", *DEFAULT_SCOPES, *OPTIONAL_SCOPES}


def profile_claims(user: User, scope: str) -> dict:
    """The user's claims for `scope` (userinfo, ID and access tokens alike)."""
    scopes = scope.split()
    claims: dict = {}
    if "email" in scopes:
        claims["email_verified"] = bool(user.email_verified)
    if "profile" in scopes:
        if user.full_name:
            claims["name"] = user.full_name
        claims["preferred_username"] = user.username
        if user.first_name:
            claims["given_name"] = user.first_name
        if user.last_name:
            claims["family_name"] = user.last_name
    if "email" in scopes and user.email:
        claims["email"] = user.email
    return claims


def _base(ctx: TokenContext, lifespan: int, now: int) -> dict:
    claims: dict[str, int | str] = {"exp": now + lifespan, "iat": now}
    if ctx.user_session is not None:
        claims["auth_time"] = ctx.user_session.auth_time
    claims.update(jti=str(uuid.uuid4()), iss=ctx.issuer)
    return claims


def _session_claims(ctx: TokenContext) -> dict:
    return {"sid": ctx.user_session.id} if ctx.user_session is not None else {}


def access_token_claims(ctx: TokenContext, lifespan: int, now: int) -> dict:
    default_roles = {default_roles_of(ctx.realm.name), "offline_access", "uma_authorization"}
    realm_roles, granted = token_roles(object_session(ctx.user), ctx.user)
    roles = sorted(realm_roles | default_roles)
    resource_access = {"account": {"roles": ACCOUNT_ROLES}}
    for client_id, client_roles in granted.items():
        resource_access[client_id] = {"roles": sorted(client_roles)}
    claims = _base(ctx, lifespan, now)
    claims.update(aud="account", sub=ctx.user.id, typ="Bearer", azp=ctx.client.client_id)
    claims.update(_session_claims(ctx))
    claims.update(acr=ctx.user_session.acr if ctx.user_session else "1")
    if ctx.client.web_origins:
        claims["allowed-origins"] = sorted(allowed_web_origins(ctx.client.web_origins, ctx.client.redirect_uris,
                                                               origin_of(ctx.issuer)))
    claims.update({"realm_access": {"roles": roles}, "resource_access": resource_access, "scope": ctx.scope})
    claims.update(profile_claims(ctx.user, ctx.scope))
    if ctx.user.service_account_client_id:
        claims["client_id"] = ctx.user.service_account_client_id
    return claims


def id_token_claims(ctx: TokenContext, lifespan: int, now: int, *, nonce: str | None, access_token: str,
                    algorithm: str) -> dict:
    claims = _base(ctx, lifespan, now)
    claims.update(aud=ctx.client.client_id, sub=ctx.user.id, typ="ID", azp=ctx.client.client_id)
    if nonce:
        claims["nonce"] = nonce
    claims.update(_session_claims(ctx))
    at_hash = create_half_hash(access_token, algorithm)
    assert at_hash is not None  # None only for an algorithm not named after its SHA-2 size, as no realm key is
    claims["at_hash"] = at_hash.decode()
    claims["acr"] = ctx.user_session.acr if ctx.user_session else "1"
    claims.update(profile_claims(ctx.user, ctx.scope))
    return claims


def refresh_token_claims(ctx: TokenContext, lifespan: int, now: int, *, family_id: str, jti: str) -> dict:
    claims = {"exp": now + lifespan, "iat": now, "jti": jti, "iss": ctx.issuer, "aud": ctx.issuer,
              "sub": ctx.user.id, "typ": "Refresh", "azp": ctx.client.client_id}
    claims.update(_session_claims(ctx))
    claims.update(scope=ctx.scope, fam=family_id)
    return claims


def sign(session: Session, realm: Realm, claims: dict, *, typ: str = "JWT") -> str:
    """Sign with the realm's active key; `typ` is the header's (a logout token's is "logout+jwt")."""
    key = active_key(session, realm)
    header = {"alg": key.algorithm, "typ": typ, "kid": key.kid}
    return jwt.encode(header, claims, private_key(key), algorithms=[key.algorithm])


def signing_algorithm(session: Session, realm: Realm) -> str:
    return active_key(session, realm).algorithm


def decode(session: Session, realm: Realm, token: str, *, issuer: str, typ: str | tuple[str, ...],
           verify_exp: bool = True) -> dict:
    """Verify a token we issued and return its claims, or raise InvalidToken."""
    wanted = (typ,) if isinstance(typ, str) else typ
    try:
        decoded = jwt.decode(token, verification_keys(session, realm), algorithms=["RS256", "ES256"])
    except (JoseError, ValueError) as exc:
        raise InvalidToken(f"bad token: {exc}") from None
    claims = dict(decoded.claims)
    if claims.get("iss") != issuer:
        raise InvalidToken("token issued by another realm")
    if claims.get("typ") not in wanted:
        raise InvalidToken(f"token type {claims.get('typ')!r} where {'/'.join(wanted)} was expected")
    if verify_exp and int(claims.get("exp", 0)) <= time.time():
        raise InvalidToken("token expired")
    return claims
