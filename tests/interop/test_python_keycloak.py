"""python-keycloak's `KeycloakOpenID`, written for Keycloak, drives a running server unchanged:
discovery, password and client-credentials grants, refresh, userinfo, introspection, logout,
certs, the realm public key and token decoding."""
from __future__ import annotations

import base64
import json

import pytest
from jwcrypto import jwk, jws
from jwcrypto.common import JWException
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakPostError

from tests.support.servers import INTEROP_CONFIDENTIAL, INTEROP_CONFIDENTIAL_SECRET, INTEROP_PUBLIC, REALM, IdpServer

pytestmark = pytest.mark.interop

USERNAME = "kosmo8001"
PASSWORD = "Kenpo-Kumiai-8001"
TEMPORARY_USERNAME = "kosmo8002"
TOKEN_RESPONSE_FIELDS = {"access_token", "expires_in", "refresh_expires_in", "refresh_token", "token_type",
                         "id_token", "not-before-policy", "session_state", "scope"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with IdpServer(tmp_path_factory.mktemp("python-keycloak")) as server:
        server.add_member(USERNAME, PASSWORD, email="ichiro@example.jp", first_name="一郎", last_name="鈴木")
        server.add_member(TEMPORARY_USERNAME, "Kari-Password-8002", temporary=True)
        yield server


@pytest.fixture(scope="module")
def keycloak(server) -> KeycloakOpenID:
    """The confidential client, as a relying party written for Keycloak configures it."""
    return KeycloakOpenID(server_url=server.url, realm_name=REALM, client_id=INTEROP_CONFIDENTIAL,
                          client_secret_key=INTEROP_CONFIDENTIAL_SECRET)


@pytest.fixture
def tokens(keycloak) -> dict:
    """A fresh password-grant token response for the member."""
    return keycloak.token(USERNAME, PASSWORD)


def _error_body(excinfo) -> dict:
    return json.loads(excinfo.value.response_body)


def test_well_known_names_the_realm_issuer_and_keycloaks_endpoints(keycloak, server):
    document = keycloak.well_known()
    issuer = server.issuer()
    assert document["issuer"] == issuer
    assert document["token_endpoint"] == f"{issuer}/protocol/openid-connect/token"
    assert document["jwks_uri"] == f"{issuer}/protocol/openid-connect/certs"
    assert document["end_session_endpoint"] == f"{issuer}/protocol/openid-connect/logout"
    assert document["authorization_response_iss_parameter_supported"] is True


def test_password_grant_answers_with_keycloaks_token_response(tokens):
    assert TOKEN_RESPONSE_FIELDS <= set(tokens)
    assert tokens["token_type"] == "Bearer"
    assert 0 < tokens["expires_in"] <= 300
    assert tokens["refresh_expires_in"] > 0
    assert set(tokens["scope"].split()) == {"openid", "profile", "email"}


def test_decoded_access_token_says_who_for_which_client_and_session(keycloak, tokens, server):
    claims = keycloak.decode_token(tokens["access_token"])
    assert claims["typ"] == "Bearer"
    assert claims["iss"] == server.issuer()
    assert claims["azp"] == INTEROP_CONFIDENTIAL
    assert claims["preferred_username"] == USERNAME
    assert claims["email"] == "ichiro@example.jp"
    assert claims["name"] == "鈴木 一郎"
    assert claims["sid"] == tokens["session_state"]
    assert f"default-roles-{REALM}" in claims["realm_access"]["roles"]
    assert "nonce" not in claims and "at_hash" not in claims


def test_decoded_id_token_is_for_the_client_with_an_at_hash(keycloak, tokens):
    claims = keycloak.decode_token(tokens["id_token"])
    assert claims["typ"] == "ID"
    assert claims["aud"] == INTEROP_CONFIDENTIAL
    assert claims["at_hash"]
    assert claims["sid"] == tokens["session_state"]


def test_decode_token_rejects_a_token_whose_payload_was_changed(keycloak, tokens):
    header, _payload, signature = tokens["access_token"].split(".")
    forged_payload = jws.base64url_encode(json.dumps({"preferred_username": "attacker"}))
    with pytest.raises(JWException):
        keycloak.decode_token(f"{header}.{forged_payload}.{signature}")


def test_realm_public_key_verifies_the_access_token(keycloak, tokens):
    pem = f"-----BEGIN PUBLIC KEY-----\n{keycloak.public_key()}\n-----END PUBLIC KEY-----\n"
    claims = keycloak.decode_token(tokens["access_token"], key=jwk.JWK.from_pem(pem.encode()))
    assert claims["preferred_username"] == USERNAME


def test_certs_publish_the_key_that_signed_the_tokens(keycloak, tokens):
    header = json.loads(jws.base64url_decode(tokens["access_token"].split(".")[0]))
    published = {key["kid"]: key for key in keycloak.certs()["keys"]}
    assert header["kid"] in published
    key = published[header["kid"]]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", header["alg"], "sig")
    assert "d" not in key


def test_refresh_gives_new_tokens_for_the_same_session(keycloak, tokens):
    refreshed = keycloak.refresh_token(tokens["refresh_token"])
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    assert refreshed["session_state"] == tokens["session_state"]
    claims = keycloak.decode_token(refreshed["access_token"])
    assert claims["preferred_username"] == USERNAME
    assert claims["sid"] == tokens["session_state"]


def test_reusing_a_rotated_refresh_token_ends_the_whole_family(keycloak, tokens):
    refreshed = keycloak.refresh_token(tokens["refresh_token"])
    with pytest.raises(KeycloakPostError) as reused:
        keycloak.refresh_token(tokens["refresh_token"])
    assert _error_body(reused)["error"] == "invalid_grant"
    with pytest.raises(KeycloakPostError) as newest:
        keycloak.refresh_token(refreshed["refresh_token"])
    assert _error_body(newest)["error"] == "invalid_grant"


def test_userinfo_describes_the_member(keycloak, tokens):
    userinfo = keycloak.userinfo(tokens["access_token"])
    assert userinfo["sub"] == keycloak.decode_token(tokens["access_token"])["sub"]
    assert userinfo["preferred_username"] == USERNAME
    assert userinfo["email"] == "ichiro@example.jp"
    assert userinfo["given_name"] == "一郎"
    assert userinfo["family_name"] == "鈴木"


def test_introspection_reports_an_active_bearer_token(keycloak, tokens):
    answer = keycloak.introspect(tokens["access_token"])
    assert answer["active"] is True
    assert answer["username"] == USERNAME
    assert answer["client_id"] == INTEROP_CONFIDENTIAL
    assert answer["token_type"] == "Bearer"
    assert answer["sid"] == tokens["session_state"]


def test_introspection_of_garbage_is_simply_inactive(keycloak):
    assert keycloak.introspect("not-a-token") == {"active": False}


def test_logout_with_the_refresh_token_ends_the_session(keycloak, tokens):
    assert keycloak.logout(tokens["refresh_token"]) == {}
    with pytest.raises(KeycloakPostError) as refreshed:
        keycloak.refresh_token(tokens["refresh_token"])
    assert _error_body(refreshed)["error"] == "invalid_grant"
    assert keycloak.introspect(tokens["access_token"])["active"] is False
    with pytest.raises(KeycloakAuthenticationError):
        keycloak.userinfo(tokens["access_token"])


def test_wrong_password_is_a_401_invalid_grant_as_keycloak_answers(keycloak):
    with pytest.raises(KeycloakAuthenticationError) as wrong:
        keycloak.token(USERNAME, "Wrong-Password-0000")
    assert wrong.value.response_code == 401
    assert _error_body(wrong) == {"error": "invalid_grant", "error_description": "Invalid user credentials"}


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(keycloak):
    with pytest.raises(KeycloakAuthenticationError) as unknown:
        keycloak.token("nobody0000", "Wrong-Password-0000")
    assert _error_body(unknown) == {"error": "invalid_grant", "error_description": "Invalid user credentials"}


def test_member_with_a_temporary_password_is_not_fully_set_up(keycloak):
    with pytest.raises(KeycloakPostError) as refused:
        keycloak.token(TEMPORARY_USERNAME, "Kari-Password-8002")
    assert refused.value.response_code == 400
    assert _error_body(refused) == {"error": "invalid_grant", "error_description": "Account is not fully set up"}


def test_wrong_client_secret_is_refused_as_unauthenticated(server):
    impostor = KeycloakOpenID(server_url=server.url, realm_name=REALM, client_id=INTEROP_CONFIDENTIAL,
                              client_secret_key="not-the-secret")
    with pytest.raises(KeycloakAuthenticationError) as refused:
        impostor.token(USERNAME, PASSWORD)
    assert _error_body(refused)["error"] in {"invalid_client", "unauthorized_client"}


def test_public_client_uses_the_password_grant_without_a_secret(server):
    public = KeycloakOpenID(server_url=server.url, realm_name=REALM, client_id=INTEROP_PUBLIC)
    tokens = public.token(USERNAME, PASSWORD)
    claims = public.decode_token(tokens["access_token"])
    assert claims["azp"] == INTEROP_PUBLIC
    assert claims["preferred_username"] == USERNAME


def test_client_credentials_speak_for_the_clients_service_account(keycloak):
    tokens = keycloak.token(grant_type="client_credentials")
    assert "refresh_token" not in tokens and "id_token" not in tokens
    assert tokens["token_type"] == "Bearer"
    claims = keycloak.decode_token(tokens["access_token"])
    assert claims["typ"] == "Bearer"
    assert claims["azp"] == INTEROP_CONFIDENTIAL
    assert claims["client_id"] == INTEROP_CONFIDENTIAL
    assert claims["preferred_username"] == f"service-account-{INTEROP_CONFIDENTIAL}"
    assert "sid" not in claims


def _payload(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def test_offline_access_gives_an_offline_token_that_refreshes_as_keycloaks(keycloak):
    """Pins Keycloak's offline tokens as python-keycloak requests them (`scope=openid offline_access`):
    `typ` Offline without `exp`, `refresh_expires_in` 0, and refreshing gives another offline token."""
    offline = keycloak.token(USERNAME, PASSWORD, scope="openid offline_access")
    assert offline["refresh_expires_in"] == 0 and "offline_access" in offline["scope"].split()
    claims = _payload(offline["refresh_token"])
    assert claims["typ"] == "Offline" and "exp" not in claims

    refreshed = keycloak.refresh_token(offline["refresh_token"])

    assert _payload(refreshed["refresh_token"])["typ"] == "Offline"
    assert keycloak.introspect(refreshed["refresh_token"])["active"] is True
    assert keycloak.userinfo(refreshed["access_token"])["preferred_username"] == USERNAME
