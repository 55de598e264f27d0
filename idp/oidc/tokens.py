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

from idp.db.models import Client, OfflineSession, Realm, User, UserSession
from idp.db.roles import token_roles
from idp.oidc.keys import active_key, private_key, verification_keys
from idp.realms.keycloak_builtins import default_roles as default_roles_of
from idp.realms.redirect_patterns import allowed_web_origins, origin_of
from idp.realms.schema import DEFAULT_CLIENT_SCOPES, OPTIONAL_CLIENT_SCOPES

# Keycloak's client scopes whose name the `scope` claim reports (its "include.in.token.scope");
# the others (roles, web-origins, acr, basic) add claims without being named.
NAMED_IN_TOKEN_SCOPE = ("profile", "email", "offline_access", "address", "phone", "microprofile-jwt", "organization")
SUPPORTED_SCOPES = ("openid", *DEFAULT_CLIENT_SCOPES, *OPTIONAL_CLIENT_SCOPES)
# OIDC Core §5.1.1: the `address` claim's members, read from member attributes of the same name.
ADDRESS_FIELDS = ("formatted", "street_address", "locality", "region", "postal_code", "country")
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
    # The SSO session, or for offline tokens the offline session (idp.oidc.offline).
    user_session: UserSession | OfflineSession | None = None


def optional_scopes(client: Client) -> list[str]:
    return list((client.attributes or {}).get("optional_client_scopes", []))


def allowed_scopes(client: Client) -> set[str]:
    """What the client may ask for: `openid`, its default and its optional scopes, as far as served here."""
    return {"openid", *client.default_scopes, *optional_scopes(client)} & set(SUPPORTED_SCOPES)


def granted_scope(requested: str | None, client: Client) -> str:
    """The scope claim Keycloak reports: `openid` when asked, the client's default scopes, and the
    optional ones asked for; only scopes Keycloak names in tokens are listed (see NAMED_IN_TOKEN_SCOPE)."""
    asked = (requested or "").split()
    optional = [s for s in asked if s in optional_scopes(client) and s in SUPPORTED_SCOPES]
    granted = [s for s in (*client.default_scopes, *optional) if s in NAMED_IN_TOKEN_SCOPE]
    return " ".join((["openid"] if "openid" in asked else []) + list(dict.fromkeys(granted)))


def applied_scopes(ctx: TokenContext) -> set[str]:
    """Every client scope a token's claims come from: the client's defaults and those its scope names."""
    return set(ctx.client.default_scopes) | set(ctx.scope.split())


def _first(value):
    """A member attribute's value: Keycloak keeps attributes as lists of strings."""
    return value[0] if isinstance(value, list) and value else value or None


def address_and_phone_claims(user: User, scopes: list[str]) -> dict:
    """OIDC Core §5.1: `address` (empty where the member has none, as Keycloak's), `phone_number`
    and `phone_number_verified`, from member attributes (Keycloak's phoneNumber, phoneNumberVerified)."""
    attributes = user.attributes or {}
    claims: dict = {}
    if "address" in scopes:
        claims["address"] = {f: _first(attributes.get(f)) for f in ADDRESS_FIELDS if _first(attributes.get(f))}
    if "phone" in scopes and _first(attributes.get("phoneNumber")):
        claims["phone_number"] = _first(attributes["phoneNumber"])
        verified = _first(attributes.get("phoneNumberVerified"))
        if verified is not None:
            claims["phone_number_verified"] = str(verified).lower() == "true"
    return claims


def _mapped_roles(realm: Realm, user: User) -> tuple[list[str], dict[str, set[str]]]:
    """The member's realm roles with the realm's default ones, and client roles (groups and composites expanded)."""
    default_roles = {default_roles_of(realm.name), "offline_access", "uma_authorization"}
    mapped, client_roles = token_roles(object_session(user), user)
    return sorted(mapped | default_roles), client_roles


def realm_roles(realm: Realm, user: User) -> list[str]:
    return _mapped_roles(realm, user)[0]


def profile_claims(user: User, scope: str, realm: Realm) -> dict:
    """The user's claims for `scope` (userinfo, ID and access tokens alike)."""
    scopes = scope.split()
    claims: dict = address_and_phone_claims(user, scopes)
    if "microprofile-jwt" in scopes:
        # Keycloak's microprofile-jwt scope: `upn` is the username, `groups` the realm roles.
        claims.update(upn=user.username, groups=realm_roles(realm, user))
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


def _role_claims(ctx: TokenContext) -> dict:
    """Keycloak's `roles` scope: realm and client roles."""
    mapped, granted = _mapped_roles(ctx.realm, ctx.user)
    resource_access = {"account": {"roles": ACCOUNT_ROLES}}
    for client_id, client_roles in granted.items():
        resource_access[client_id] = {"roles": sorted(client_roles)}
    return {"realm_access": {"roles": mapped}, "resource_access": resource_access}


def access_token_claims(ctx: TokenContext, lifespan: int, now: int) -> dict:
    applied = applied_scopes(ctx)
    claims = _base(ctx, lifespan, now)
    claims.update(aud="account", sub=ctx.user.id, typ="Bearer", azp=ctx.client.client_id)
    claims.update(_session_claims(ctx))
    if "acr" in applied:
        claims.update(acr=ctx.user_session.acr if ctx.user_session else "1")
    if ctx.client.web_origins and "web-origins" in applied:
        claims["allowed-origins"] = sorted(allowed_web_origins(ctx.client.web_origins, ctx.client.redirect_uris,
                                                               origin_of(ctx.issuer)))
    if "roles" in applied:
        claims.update(_role_claims(ctx))
    claims["scope"] = ctx.scope
    claims.update(profile_claims(ctx.user, ctx.scope, ctx.realm))
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
    if "acr" in applied_scopes(ctx):
        claims["acr"] = ctx.user_session.acr if ctx.user_session else "1"
    claims.update(profile_claims(ctx.user, ctx.scope, ctx.realm))
    return claims


def refresh_token_claims(ctx: TokenContext, lifespan: int, now: int, *, family_id: str, jti: str) -> dict:
    """A refresh token; an offline one (`typ` Offline, as Keycloak's) has no `exp`: its offline session's
    idle timeout decides."""
    offline = isinstance(ctx.user_session, OfflineSession)
    claims: dict = {"exp": now + lifespan} if not offline else {}
    claims.update({"iat": now, "jti": jti, "iss": ctx.issuer, "aud": ctx.issuer, "sub": ctx.user.id,
                   "typ": "Offline" if offline else "Refresh", "azp": ctx.client.client_id})
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
    never_expires = claims["typ"] == "Offline" and "exp" not in claims  # an offline token's session decides
    if verify_exp and not never_expires and int(claims.get("exp", 0)) <= time.time():
        raise InvalidToken("token expired")
    return claims
