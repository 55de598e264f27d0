"""A realm's token-signing keys: create, rotate, publish (`/certs`) and look up for verification.

After a rotation the old key stops signing but stays published until every token it signed
has expired, so relying parties that cache `/certs` keep validating.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta

from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.db.models import Realm, SigningKey, utcnow
from idp.realms import realm_config


def _generate(algorithm: str):
    if algorithm == "ES256":
        return ECKey.generate_key("P-256", private=True)
    return RSAKey.generate_key(2048, private=True)


def _kid(public_jwk: dict) -> str:
    # Derived from the public key (as an RFC 7638 thumbprint would be) so it is stable.
    material = "|".join(str(public_jwk[k]) for k in sorted(public_jwk) if k not in {"kid", "use", "alg"})
    return hashlib.sha256(material.encode()).hexdigest()[:43]


def create_signing_key(session: Session, realm: Realm) -> SigningKey:
    algorithm = realm_config(realm).tokens.signature_algorithm
    key = _generate(algorithm)
    private = key.as_dict(private=True)
    signing_key = SigningKey(
        realm_id=realm.id, kid=_kid(key.as_dict(private=False)), algorithm=algorithm, private_jwk=private
    )
    session.add(signing_key)
    session.flush()
    return signing_key


def active_key(session: Session, realm: Realm) -> SigningKey:
    key = session.scalar(
        select(SigningKey)
        .where(SigningKey.realm_id == realm.id, SigningKey.active.is_(True))
        .order_by(SigningKey.created_at.desc())
    )
    if key is None:
        raise LookupError(f"realm {realm.name!r} has no signing key: run `idp keys rotate {realm.name}`")
    return key


def ensure_signing_key(session: Session, realm: Realm) -> SigningKey:
    """The realm's active key, created on first use (or when the algorithm changed)."""
    wanted = realm_config(realm).tokens.signature_algorithm
    try:
        key = active_key(session, realm)
    except LookupError:
        return create_signing_key(session, realm)
    return key if key.algorithm == wanted else rotate_signing_key(session, realm)


def rotate_signing_key(session: Session, realm: Realm) -> SigningKey:
    """Make a new active key; retire the old ones, published until their tokens expire."""
    tokens = realm_config(realm).tokens
    # The longest a token signed now can live: a refresh token lasts the SSO max lifespan.
    longest = max(tokens.access_token_lifespan, tokens.sso_session_max_lifespan, tokens.remember_me_max_lifespan)
    now = utcnow()
    for old in session.scalars(
        select(SigningKey).where(SigningKey.realm_id == realm.id, SigningKey.active.is_(True))
    ):
        old.active = False
        old.retired_at = now
        old.publish_until = now + timedelta(seconds=longest)
    return create_signing_key(session, realm)


def published_keys(session: Session, realm: Realm) -> list[SigningKey]:
    """Keys whose tokens may still be in use: the active one and those retired recently."""
    now = utcnow()
    keys = session.scalars(select(SigningKey).where(SigningKey.realm_id == realm.id).order_by(SigningKey.created_at))
    return [key for key in keys if key.active or (key.publish_until and key.publish_until > now)]


_imported: dict[tuple[str, str], RSAKey | ECKey] = {}


def private_key(signing_key: SigningKey):
    # Importing an RSA key validates its numbers (~40 ms of CPU); a stored key never changes,
    # so each is imported once per process instead of at every signature and verification.
    cache_key = (signing_key.id, signing_key.kid)
    key = _imported.get(cache_key)
    if key is None:
        data = dict(signing_key.private_jwk, kid=signing_key.kid)
        key = _imported[cache_key] = (ECKey if signing_key.algorithm == "ES256" else RSAKey).import_key(data)
    return key


def public_jwk(signing_key: SigningKey) -> dict:
    """The JWK as Keycloak publishes it in `/certs`."""
    jwk = private_key(signing_key).as_dict(private=False)
    jwk.update(kid=signing_key.kid, use="sig", alg=signing_key.algorithm)
    return jwk


def jwks(session: Session, realm: Realm) -> dict:
    return {"keys": [public_jwk(key) for key in published_keys(session, realm)]}


def verification_keys(session: Session, realm: Realm) -> KeySet:
    return KeySet([private_key(key) for key in published_keys(session, realm)])


def public_key_pem_body(signing_key: SigningKey) -> str:
    """The base64 body of the public key's PEM, as Keycloak's realm info gives `public_key`."""
    pem = private_key(signing_key).as_pem(private=False).decode()
    return "".join(line for line in pem.splitlines() if "-----" not in line)
