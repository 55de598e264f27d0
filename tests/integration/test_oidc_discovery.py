"""What a relying party reads before anything else: discovery, realm info and the signing keys."""
from __future__ import annotations

import base64

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select

from idp.db.models import SigningKey
from idp.oidc.keys import rotate_signing_key
from idp.realms import find_realm
from tests.support.sign_in import OIDC, PORTAL, PORTAL_SECRET, REALM, REALM_PATH

ISSUER = f"http://localhost{REALM_PATH}"


def password_free_token(client) -> str:
    """A client-credentials access token: signed by the active key, no member needed."""
    response = client.post(f"{OIDC}/token", data={"grant_type": "client_credentials"},
                           auth=("kosmo-batch", "demo-batch-secret-change-me"))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def header_kid(token: str) -> str:
    import json

    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def pem_body(key: RSAKey) -> str:
    return "".join(line for line in key.as_pem(private=False).decode().splitlines() if "-----" not in line)


def test_discovery_names_the_realm_as_issuer_and_every_endpoint_at_keycloaks_paths(client):
    response = client.get(f"{REALM_PATH}/.well-known/openid-configuration")
    document = response.get_json()

    assert response.status_code == 200
    endpoints = f"{ISSUER}/protocol/openid-connect"
    assert document["issuer"] == ISSUER
    assert document["authorization_endpoint"] == f"{endpoints}/auth"
    assert document["token_endpoint"] == f"{endpoints}/token"
    assert document["userinfo_endpoint"] == f"{endpoints}/userinfo"
    assert document["end_session_endpoint"] == f"{endpoints}/logout"
    assert document["jwks_uri"] == f"{endpoints}/certs"
    assert document["introspection_endpoint"] == f"{endpoints}/token/introspect"
    assert document["revocation_endpoint"] == f"{endpoints}/revoke"
    assert document["authorization_response_iss_parameter_supported"] is True
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["response_types_supported"] == ["code"]
    assert {"authorization_code", "refresh_token", "password", "client_credentials"} <= set(
        document["grant_types_supported"])
    assert {"client_secret_basic", "client_secret_post"} <= set(document["token_endpoint_auth_methods_supported"])
    assert "RS256" in document["id_token_signing_alg_values_supported"]
    assert "openid" in document["scopes_supported"]
    assert {"sub", "iss", "aud", "preferred_username", "email", "name", "sid"} <= set(document["claims_supported"])


def test_every_endpoint_the_discovery_document_names_answers(client):
    document = client.get(f"{REALM_PATH}/.well-known/openid-configuration").get_json()

    def local(url):
        return url.removeprefix("http://localhost")

    assert client.get(local(document["jwks_uri"])).status_code == 200
    assert client.get(local(document["authorization_endpoint"])).status_code == 400  # no client: an error page
    assert client.post(local(document["token_endpoint"])).status_code in (400, 401)
    assert client.get(local(document["userinfo_endpoint"])).status_code == 401
    assert client.post(local(document["introspection_endpoint"])).status_code == 401
    assert client.post(local(document["revocation_endpoint"])).status_code == 401


def test_realm_info_gives_the_active_public_key_that_verifies_a_token(client, database):
    response = client.get(REALM_PATH)
    info = response.get_json()
    token = password_free_token(client)

    assert response.status_code == 200
    assert info["realm"] == REALM
    assert info["token-service"] == f"{ISSUER}/protocol/openid-connect"
    assert info["tokens-not-before"] == 0
    pem = f"-----BEGIN PUBLIC KEY-----\n{info['public_key']}\n-----END PUBLIC KEY-----\n"
    public_key = RSAKey.import_key(pem)
    assert jwt.decode(token, public_key, algorithms=["RS256"]).claims["iss"] == ISSUER
    with database.session() as session:
        active = session.scalar(select(SigningKey).where(SigningKey.active.is_(True)))
        assert info["public_key"] == pem_body(RSAKey.import_key(dict(active.private_jwk)))


def test_certs_publish_the_key_whose_kid_the_tokens_carry_and_no_private_parts(client):
    jwks = client.get(f"{OIDC}/certs").get_json()
    token = password_free_token(client)

    assert [key["kid"] for key in jwks["keys"]] == [header_kid(token)]
    published = jwks["keys"][0]
    assert published["use"] == "sig" and published["alg"] == "RS256" and published["kty"] == "RSA"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(published)
    assert jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"]).claims["azp"] == "kosmo-batch"


def test_after_a_key_rotation_old_tokens_still_verify_and_new_tokens_use_the_new_key(client, database):
    old_token = password_free_token(client)
    old_kid = header_kid(old_token)
    with database.session() as session:
        new_kid = rotate_signing_key(session, find_realm(session, REALM)).kid
        session.commit()

    jwks = client.get(f"{OIDC}/certs").get_json()
    new_token = password_free_token(client)

    assert {key["kid"] for key in jwks["keys"]} == {old_kid, new_kid}
    assert header_kid(new_token) == new_kid != old_kid
    keys = KeySet.import_key_set(jwks)
    assert jwt.decode(old_token, keys, algorithms=["RS256"]).claims["azp"] == "kosmo-batch"
    assert jwt.decode(new_token, keys, algorithms=["RS256"]).claims["azp"] == "kosmo-batch"
    introspected = client.post(f"{OIDC}/token/introspect", data={"token": old_token},
                               auth=(PORTAL, PORTAL_SECRET)).get_json()
    assert introspected["active"] is True
    realm_key = client.get(REALM_PATH).get_json()["public_key"]
    with database.session() as session:
        active = session.scalar(select(SigningKey).where(SigningKey.active.is_(True)))
        assert active.kid == new_kid
        assert realm_key == pem_body(RSAKey.import_key(dict(active.private_jwk)))


def test_a_retired_key_leaves_certs_once_its_tokens_have_expired(client, database):
    from datetime import timedelta

    from idp.db.models import utcnow

    old_kid = header_kid(password_free_token(client))
    with database.session() as session:
        new_kid = rotate_signing_key(session, find_realm(session, REALM)).kid
        old = session.scalar(select(SigningKey).where(SigningKey.kid == old_kid))
        old.publish_until = utcnow() - timedelta(seconds=1)
        session.commit()

    assert [key["kid"] for key in client.get(f"{OIDC}/certs").get_json()["keys"]] == [new_kid]


def test_an_unknown_realm_gets_a_japanese_not_found_page(client):
    for path in ("/realms/no-such-society", "/realms/no-such-society/.well-known/openid-configuration",
                 "/realms/no-such-society/protocol/openid-connect/auth?client_id=kosmo-portal"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "指定された健康保険組合は見つかりません。" in response.get_data(as_text=True)
