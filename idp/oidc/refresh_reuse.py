"""Keycloak's refresh token reuse policy (realm settings `revokeRefreshToken` and
`refreshTokenMaxReuse`) over one refresh token family.

With revocation off every refresh token of a live family may be used again until it expires.
With it on, the family remembers the token last accepted and how often: that token may be used
`max_reuse` more times, the newest issued token is always accepted (and becomes the accepted
one), and any older token is stale. Keycloak's `TokenManager.validateTokenReuse` says the same
with timestamps; token ids keep two refreshes within one second apart.
"""
from __future__ import annotations

from idp.db.models import RefreshTokenFamily
from idp.realms.schema import TokenSettings

STALE = "Stale token"
REUSE_EXCEEDED = "Maximum allowed refresh token reuse exceeded"


def refusal(family: RefreshTokenFamily, jti: str, policy: TokenSettings) -> str | None:
    """Keycloak's `error_description` refusing the token `jti` of `family`, or None when it may be used."""
    if not policy.revoke_refresh_token:
        return None
    tracked = family.accepted_jti
    if tracked is not None and jti not in (tracked, family.current_jti):
        return STALE
    uses = family.use_count if jti == tracked else 0
    return REUSE_EXCEEDED if uses > policy.refresh_token_max_reuse else None


def accept(family: RefreshTokenFamily, jti: str, policy: TokenSettings) -> None:
    """Count one use of `jti`, after `refusal` let it through (Keycloak tracks only while revocation is on)."""
    if not policy.revoke_refresh_token:
        return
    if jti != family.accepted_jti:
        family.accepted_jti, family.use_count = jti, 0
    family.use_count += 1
