"""The token endpoint as relying parties written for Keycloak use it: every grant and its errors."""
from __future__ import annotations

import base64
import hashlib

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from idp.app import create_app
from idp.db.models import RefreshTokenFamily, User, UserSession
from idp.db.users import create_user
from idp.oidc import tokens
from idp.realms import find_realm, realm_config, save_realm
from idp.realms.schema import ClientConfig
from tests.support.settings import make_settings
from tests.support.sign_in import (
    MEMBER_ID,
    MEMBER_PASSWORD,
    OIDC,
    PORTAL,
    PORTAL_SECRET,
    REALM,
    REALM_PATH,
    add_member,
    count_sessions,
    hidden_value,
    later,
    pkce_pair,
    sign_in_for_code,
)
from tests.support.tokens import (
    APP,
    APP_SECRET,
    add_direct_access_client,
    assert_oauth_error,
    claims_of,
    exchange,
    password_grant,
    refresh,
    signed_in_tokens,
)

ISSUER = f"http://localhost{REALM_PATH}"
KEYCLOAK_TOKEN_FIELDS = {"access_token", "expires_in", "refresh_expires_in", "refresh_token", "token_type",
                         "id_token", "not-before-policy", "session_state", "scope"}


# --- authorization code --------------------------------------------------------------------------------

def test_the_code_exchange_answers_with_exactly_keycloaks_fields(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    assert set(answer) == KEYCLOAK_TOKEN_FIELDS
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == 300
    assert answer["refresh_expires_in"] == 1800
    assert answer["not-before-policy"] == 0
    assert answer["scope"] == "openid profile email"
    with database.session() as session:
        assert session.scalar(select(UserSession.id)) == answer["session_state"]
        family = session.scalar(select(RefreshTokenFamily))
        assert family.user_session_id == answer["session_state"] and not family.revoked


def test_the_access_token_carries_keycloak_26s_claims(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    claims = claims_of(client, answer["access_token"])

    with database.session() as session:
        user_id = session.scalar(select(User.id).where(User.username == MEMBER_ID))
    assert claims["typ"] == "Bearer"
    assert claims["iss"] == ISSUER
    assert claims["sub"] == user_id
    assert claims["aud"] == "account"
    assert claims["azp"] == PORTAL
    assert claims["sid"] == answer["session_state"]
    assert claims["exp"] - claims["iat"] == 300
    assert claims["auth_time"] <= claims["iat"]
    assert claims["jti"] and claims["acr"] == "1"
    assert set(claims["realm_access"]["roles"]) >= {"default-roles-kosmo-demo", "offline_access", "uma_authorization"}
    assert claims["resource_access"]["account"]["roles"] == ["manage-account", "manage-account-links", "view-profile"]
    assert claims["scope"] == "openid profile email"
    assert claims["preferred_username"] == MEMBER_ID
    assert claims["email"] == f"{MEMBER_ID}@example.jp" and claims["email_verified"] is False
    assert claims["name"] == "山田 花子"
    assert claims["given_name"] == "花子" and claims["family_name"] == "山田"
    assert "nonce" not in claims and "at_hash" not in claims and "session_state" not in claims


def test_the_id_token_is_for_the_portal_with_its_nonce_and_an_at_hash_that_matches(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    claims = claims_of(client, answer["id_token"])
    access = claims_of(client, answer["access_token"])

    digest = hashlib.sha256(answer["access_token"].encode()).digest()
    assert claims["typ"] == "ID"
    assert claims["aud"] == PORTAL and claims["azp"] == PORTAL
    assert claims["iss"] == ISSUER
    assert claims["sub"] == access["sub"]
    assert claims["nonce"] == "portal-nonce-1"
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    assert claims["auth_time"] == access["auth_time"]
    assert claims["sid"] == answer["session_state"]
    assert claims["preferred_username"] == MEMBER_ID
    assert "session_state" not in claims and "realm_access" not in claims


def test_the_refresh_token_is_typed_refresh_and_names_the_session(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    claims = claims_of(client, answer["refresh_token"])

    assert claims["typ"] == "Refresh"
    assert claims["aud"] == ISSUER and claims["azp"] == PORTAL
    assert claims["sid"] == answer["session_state"]
    assert claims["exp"] - claims["iat"] == 1800
    assert "session_state" not in claims


def test_a_code_works_only_once(client, database, settings):
    add_member(database, settings)
    verifier, challenge = pkce_pair()
    code = sign_in_for_code(client, (verifier, challenge))["code"]
    assert exchange(client, code, verifier).status_code == 200

    second = exchange(client, code, verifier)

    assert_oauth_error(second, 400, "invalid_grant")


def test_a_code_exchanged_with_another_redirect_uri_is_refused(client, database, settings):
    add_member(database, settings)
    verifier, challenge = pkce_pair()
    code = sign_in_for_code(client, (verifier, challenge))["code"]

    response = exchange(client, code, verifier, redirect_uri="http://localhost:8081/other")

    assert_oauth_error(response, 400, "invalid_grant")
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(RefreshTokenFamily)) == 0


def test_a_code_exchanged_with_the_wrong_code_verifier_is_refused(client, database, settings):
    add_member(database, settings)
    verifier, challenge = pkce_pair()
    code = sign_in_for_code(client, (verifier, challenge))["code"]

    response = exchange(client, code, pkce_pair()[0])

    assert_oauth_error(response, 400, "invalid_grant")


def test_a_code_exchanged_without_the_code_verifier_is_refused(client, database, settings):
    add_member(database, settings)
    verifier, challenge = pkce_pair()
    code = sign_in_for_code(client, (verifier, challenge))["code"]

    response = exchange(client, code, None)

    assert response.status_code == 400
    assert "access_token" not in response.get_json()


def test_a_wrong_client_secret_is_refused_with_401_invalid_client(client, database, settings):
    add_member(database, settings)
    verifier, challenge = pkce_pair()
    code = sign_in_for_code(client, (verifier, challenge))["code"]

    response = exchange(client, code, verifier, auth=(PORTAL, "guessed-secret"))

    assert_oauth_error(response, 401, "invalid_client")
    assert exchange(client, code, verifier).status_code == 200  # the refused attempt did not use up the code


def test_client_secret_post_works_as_well_as_basic(client, database, settings):
    add_member(database, settings)
    verifier, challenge = pkce_pair()
    code = sign_in_for_code(client, (verifier, challenge))["code"]

    response = exchange(client, code, verifier, auth=None, client_id=PORTAL, client_secret=PORTAL_SECRET)

    assert response.status_code == 200, response.get_json()
    assert set(response.get_json()) == KEYCLOAK_TOKEN_FIELDS


def test_a_code_issued_to_one_client_cannot_be_exchanged_by_another(client, database, settings):
    add_member(database, settings)
    add_direct_access_client(database)
    verifier, challenge = pkce_pair()
    code = sign_in_for_code(client, (verifier, challenge))["code"]

    response = exchange(client, code, verifier, auth=(APP, APP_SECRET))

    assert response.status_code in (400, 401)
    assert "access_token" not in response.get_json()


def test_a_public_client_exchanges_its_code_with_pkce_and_no_secret(client, database, settings):
    with database.session() as session:
        realm = find_realm(session, REALM)
        config = realm_config(realm)
        spa = config.clients[0].model_copy(update={"client_id": "kosmo-spa", "public": True, "secret": None})
        save_realm(session, config.model_copy(update={"clients": [*config.clients, spa]}), environ={})
        session.commit()
    add_member(database, settings)
    verifier, challenge = pkce_pair()
    code = sign_in_for_code(client, (verifier, challenge), client_id="kosmo-spa")["code"]

    response = exchange(client, code, verifier, auth=None, client_id="kosmo-spa")

    assert response.status_code == 200, response.get_json()
    assert claims_of(client, response.get_json()["id_token"])["aud"] == "kosmo-spa"


# --- refresh --------------------------------------------------------------------------------

def test_refreshing_rotates_the_refresh_token(client, database, settings):
    first = signed_in_tokens(client, database, settings)

    response = refresh(client, first["refresh_token"])

    second = response.get_json()
    assert response.status_code == 200, second
    assert set(second) == KEYCLOAK_TOKEN_FIELDS
    assert second["refresh_token"] != first["refresh_token"]
    assert second["session_state"] == first["session_state"]
    assert claims_of(client, second["id_token"])["sid"] == first["session_state"]
    assert refresh(client, second["refresh_token"]).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(client, database, settings):
    first = signed_in_tokens(client, database, settings)
    second = refresh(client, first["refresh_token"]).get_json()

    reuse = refresh(client, first["refresh_token"])

    assert_oauth_error(reuse, 400, "invalid_grant")
    assert_oauth_error(refresh(client, second["refresh_token"]), 400, "invalid_grant")
    with database.session() as session:
        assert session.scalar(select(RefreshTokenFamily.revoked)) is True


def test_a_refresh_token_cannot_be_used_by_another_client(client, database, settings):
    answer = signed_in_tokens(client, database, settings)
    add_direct_access_client(database)

    response = refresh(client, answer["refresh_token"], auth=(APP, APP_SECRET))

    assert_oauth_error(response, 400, "invalid_grant")


def test_refreshing_after_logout_fails(client, database, settings):
    answer = signed_in_tokens(client, database, settings)
    logout = client.post(f"{OIDC}/logout", auth=(PORTAL, PORTAL_SECRET),
                         data={"client_id": PORTAL, "refresh_token": answer["refresh_token"]})
    assert logout.status_code == 204

    response = refresh(client, answer["refresh_token"])

    assert_oauth_error(response, 400, "invalid_grant")
    assert count_sessions(database) == 0


def test_a_garbage_refresh_token_is_invalid_grant(client):
    assert_oauth_error(refresh(client, "not-a-token"), 400, "invalid_grant")


# --- password grant --------------------------------------------------------------------------------

def test_a_client_with_direct_access_grants_gets_tokens_for_the_members_password(client, database, settings):
    add_member(database, settings)
    add_direct_access_client(database)

    response = password_grant(client, scope="openid")

    answer = response.get_json()
    assert response.status_code == 200, answer
    assert set(answer) == KEYCLOAK_TOKEN_FIELDS
    assert claims_of(client, answer["access_token"])["azp"] == APP
    assert claims_of(client, answer["id_token"])["aud"] == APP
    assert count_sessions(database) == 1
    assert refresh(client, answer["refresh_token"], auth=(APP, APP_SECRET)).status_code == 200


def test_the_password_grant_is_refused_to_clients_without_direct_access_grants(client, database, settings):
    add_member(database, settings)

    response = password_grant(client, auth=(PORTAL, PORTAL_SECRET))

    assert_oauth_error(response, 400, "unauthorized_client")
    assert count_sessions(database) == 0


@pytest.mark.parametrize("username, password", [(MEMBER_ID, "wrong-password"), ("nobody-99", MEMBER_PASSWORD)])
def test_a_wrong_password_or_user_gets_keycloaks_invalid_user_credentials(client, database, settings,
                                                                         username, password):
    add_member(database, settings)
    add_direct_access_client(database)

    response = password_grant(client, username=username, password=password)

    assert response.status_code == 401  # Keycloak's status here, not RFC 6749's 400 (keycloak#45812)
    assert response.get_json() == {"error": "invalid_grant", "error_description": "Invalid user credentials"}
    assert count_sessions(database) == 0


@pytest.mark.parametrize("setup", ["required_action", "temporary_password"])
def test_a_member_who_has_not_finished_set_up_is_told_so(client, database, settings, setup):
    with database.session() as session:
        realm = find_realm(session, REALM)
        create_user(session, realm, MEMBER_ID, settings=settings, password=MEMBER_PASSWORD,
                    temporary=setup == "temporary_password",
                    required_actions=["TERMS_AND_CONDITIONS"] if setup == "required_action" else ())
        session.commit()
    add_direct_access_client(database)

    response = password_grant(client)

    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_grant", "error_description": "Account is not fully set up"}
    assert count_sessions(database) == 0


def test_a_password_grant_for_an_unknown_scope_starts_no_session(client, database, settings):
    add_member(database, settings)
    add_direct_access_client(database)

    response = password_grant(client, scope="openid bank-account")

    assert_oauth_error(response, 400, "invalid_scope")
    assert count_sessions(database) == 0


# --- client credentials --------------------------------------------------------------------------------

def test_the_batch_client_gets_a_token_for_its_service_account_and_no_refresh_token(client, database):
    response = client.post(f"{OIDC}/token", data={"grant_type": "client_credentials"},
                           auth=("kosmo-batch", "demo-batch-secret-change-me"))

    answer = response.get_json()
    assert response.status_code == 200, answer
    assert "refresh_token" not in answer and "id_token" not in answer
    assert answer["token_type"] == "Bearer" and answer["refresh_expires_in"] == 0
    claims = claims_of(client, answer["access_token"])
    with database.session() as session:
        service_account = session.scalar(select(User).where(User.username == "service-account-kosmo-batch"))
        assert claims["sub"] == service_account.id
    assert claims["preferred_username"] == "service-account-kosmo-batch"
    assert claims["azp"] == "kosmo-batch" and claims["client_id"] == "kosmo-batch"
    assert claims["typ"] == "Bearer" and "sid" not in claims
    assert count_sessions(database) == 0


def test_client_credentials_accept_the_secret_in_the_form_body(client):
    response = client.post(f"{OIDC}/token", data={"grant_type": "client_credentials", "client_id": "kosmo-batch",
                                                 "client_secret": "demo-batch-secret-change-me"})

    assert response.status_code == 200, response.get_json()
    assert claims_of(client, response.get_json()["access_token"])["azp"] == "kosmo-batch"


def test_a_client_without_a_service_account_cannot_use_client_credentials(client):
    response = client.post(f"{OIDC}/token", data={"grant_type": "client_credentials"}, auth=(PORTAL, PORTAL_SECRET))

    assert_oauth_error(response, 400, "unauthorized_client")


def test_client_credentials_with_a_wrong_secret_is_invalid_client(client):
    response = client.post(f"{OIDC}/token", data={"grant_type": "client_credentials"},
                           auth=("kosmo-batch", "wrong"))

    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_an_unknown_grant_type_is_unsupported_grant_type(client):
    response = client.post(f"{OIDC}/token", data={"grant_type": "urn:example:magic"}, auth=(PORTAL, PORTAL_SECRET))

    assert_oauth_error(response, 400, "unsupported_grant_type")


# --- codes and refresh tokens outliving what they stand for -----------------------------------------

def test_a_code_older_than_the_access_code_lifespan_is_refused(client, database, settings, monkeypatch):
    add_member(database, settings)
    verifier, challenge = pkce_pair()
    code = sign_in_for_code(client, (verifier, challenge))["code"]
    later(monkeypatch, 61)

    assert_oauth_error(exchange(client, code, verifier), 400, "invalid_grant")


def test_a_code_whose_session_was_logged_out_is_refused(client, database, settings):
    add_member(database, settings)
    verifier, challenge = pkce_pair()
    code = sign_in_for_code(client, (verifier, challenge))["code"]
    page = client.get(f"{OIDC}/logout").get_data(as_text=True)
    client.post(f"{OIDC}/logout", data={"csrf_token": hidden_value(page, "csrf_token"), "confirm": "1"})
    assert count_sessions(database) == 0

    assert_oauth_error(exchange(client, code, verifier), 400, "invalid_grant")


def test_a_disabled_member_can_no_longer_refresh(client, database, settings):
    answer = signed_in_tokens(client, database, settings)
    with database.session() as session:
        session.scalar(select(User).where(User.username == MEMBER_ID)).enabled = False
        session.commit()

    response = refresh(client, answer["refresh_token"])

    assert_oauth_error(response, 400, "invalid_grant", "User disabled")  # Keycloak's words


def test_a_refresh_token_past_the_idle_timeout_is_refused(client, database, settings, monkeypatch):
    answer = signed_in_tokens(client, database, settings)
    later(monkeypatch, 1801)

    assert_oauth_error(refresh(client, answer["refresh_token"]), 400, "invalid_grant")


def add_bearer_only_api(database) -> None:
    """A resource server imported from Keycloak (`bearerOnly: true`), with a secret to introspect."""
    with database.session() as session:
        realm = find_realm(session, REALM)
        config = realm_config(realm)
        api = {"client_id": "kosmo-api", "bearer_only": True, "standard_flow": False,
               "secret": {"env": "KOSMO_API_SECRET", "default": "kosmo-api-secret"}}
        save_realm(session, config.model_copy(update={"clients": [*config.clients, ClientConfig(**api)]}))
        session.commit()


def test_a_bearer_only_client_never_gets_tokens(client, database, settings):
    add_bearer_only_api(database)
    add_member(database, settings)

    for grant in ({"grant_type": "client_credentials"},
                  {"grant_type": "password", "username": MEMBER_ID, "password": MEMBER_PASSWORD}):
        response = client.post(f"{OIDC}/token", data={**grant, "client_id": "kosmo-api",
                                                       "client_secret": "kosmo-api-secret"})
        assert response.status_code in (400, 401)
        assert response.get_json()["error"] == "invalid_client"
    page = client.get(f"{OIDC}/auth", query_string={"client_id": "kosmo-api", "response_type": "code",
                                                     "redirect_uri": "https://api.example.jp/cb", "scope": "openid"})
    assert page.status_code == 400 and "Location" not in page.headers


# --- an answer that agrees with what was stored -----------------------------------------------------

def keys_unreachable(monkeypatch) -> None:
    """The database goes away when the ID token's signing key is looked up, the last thing a
    grant reads before it answers."""
    def unreachable(*_args):
        raise OperationalError("SELECT signing_keys ...", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(tokens, "signing_algorithm", unreachable)


def test_a_refresh_answered_503_stored_nothing_and_the_retry_succeeds(client, database, settings, monkeypatch):
    """The rotation was once committed before the ID token was made: a 503 then, and the client's
    retry counted as reuse, which revoked the family and signed the member out."""
    answer = signed_in_tokens(client, database, settings)
    with monkeypatch.context() as outage:
        keys_unreachable(outage)
        assert_oauth_error(refresh(client, answer["refresh_token"]), 503, "temporarily_unavailable")

    retried = refresh(client, answer["refresh_token"])

    assert retried.status_code == 200, retried.get_json()
    assert retried.get_json()["id_token"]
    assert count_sessions(database) == 1


def test_a_password_grant_answered_503_leaves_no_session(client, database, settings, monkeypatch):
    add_member(database, settings)
    add_direct_access_client(database)
    keys_unreachable(monkeypatch)

    assert_oauth_error(password_grant(client, scope="openid"), 503, "temporarily_unavailable")

    assert count_sessions(database) == 0
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(RefreshTokenFamily)) == 0


@pytest.mark.parametrize("path", ["/token", "/token/introspect"])
def test_a_request_naming_another_host_over_plain_http_is_answered_as_any_other(client, path):
    """The issuer comes from IDP_BASE_URL; the Host header a client sends says nothing about the
    transport (Authlib refused it as insecure, a 500)."""
    token = client.post(f"{OIDC}/token", data={"grant_type": "client_credentials"},
                        auth=("kosmo-batch", "demo-batch-secret-change-me")).get_json()["access_token"]
    data = {"grant_type": "client_credentials"} if path == "/token" else {"token": token}

    response = client.post(f"{OIDC}{path}", data=data, auth=("kosmo-batch", "demo-batch-secret-change-me"),
                           headers={"Host": "idp.example.jp"})

    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.get_json().get("access_token") or response.get_json()["active"] is True


def test_an_issuer_on_plain_http_for_another_host_is_refused_as_insecure_not_a_server_error(tmp_path, database):
    """RFC 6749 §3.2 asks for TLS; loopback addresses are the development exception (RFC 8252 §7.3)."""
    app = create_app(make_settings(tmp_path, base_url="http://idp.example.jp"), database)

    response = app.test_client().post(f"{OIDC}/token", data={"grant_type": "client_credentials"},
                                      auth=("kosmo-batch", "demo-batch-secret-change-me"))

    assert_oauth_error(response, 400, "insecure_transport")
