"""A relying party's page on another origin calls the realm's endpoints, as Keycloak's CORS allows
(services/.../cors/DefaultCors.java, WebOriginsUtils): only origins in the client's web origins."""
from __future__ import annotations

import pytest

from idp.db.models import Client
from tests.support.sign_in import OIDC, PORTAL, PORTAL_SECRET
from tests.support.tokens import claims_of, signed_in_tokens

APP = "http://localhost:8081"  # the portal's redirect URI's origin
STRANGER = "http://evil.example"


def set_web_origins(database, origins: list[str]) -> None:
    with database.session() as session:
        session.query(Client).filter(Client.client_id == PORTAL).one().web_origins = origins
        session.commit()


def assert_allowed(response, origin: str) -> None:
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in response.headers["Vary"]


def assert_not_allowed(response) -> None:
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize("origins", [["+"], [APP], ["*"]])
def test_the_clients_page_reads_its_token_and_userinfo_answers(client, database, settings, origins):
    """Keycloak's TokenEndpoint and UserInfoEndpoint allow the client's resolved web origins."""
    answer = signed_in_tokens(client, database, settings)
    set_web_origins(database, origins)

    refreshed = client.post(f"{OIDC}/token", headers={"Origin": APP}, auth=(PORTAL, PORTAL_SECRET),
                            data={"grant_type": "refresh_token", "refresh_token": answer["refresh_token"]})
    userinfo = client.get(f"{OIDC}/userinfo", headers={"Origin": APP,
                                                       "Authorization": f"Bearer {answer['access_token']}"})

    assert refreshed.status_code == 200 and userinfo.status_code == 200
    assert_allowed(refreshed, APP)
    assert_allowed(userinfo, APP)


def test_a_page_on_an_origin_the_client_does_not_list_gets_no_cors_headers(client, database, settings):
    answer = signed_in_tokens(client, database, settings)
    set_web_origins(database, ["+"])

    userinfo = client.get(f"{OIDC}/userinfo", headers={"Origin": STRANGER,
                                                       "Authorization": f"Bearer {answer['access_token']}"})
    introspected = client.post(f"{OIDC}/token/introspect", headers={"Origin": STRANGER},
                               auth=(PORTAL, PORTAL_SECRET), data={"token": answer["access_token"]})

    assert userinfo.status_code == 200 and introspected.status_code == 200
    assert_not_allowed(userinfo)
    assert_not_allowed(introspected)


def test_a_client_without_web_origins_allows_no_page(client, database, settings):
    """Keycloak: web origins empty means no cross-origin calls, even from the redirect URI's origin."""
    answer = signed_in_tokens(client, database, settings)
    set_web_origins(database, [])

    response = client.get(f"{OIDC}/userinfo", headers={"Origin": APP,
                                                       "Authorization": f"Bearer {answer['access_token']}"})

    assert_not_allowed(response)


def test_revocation_introspection_and_logout_answer_the_clients_page(client, database, settings):
    answer = signed_in_tokens(client, database, settings)
    set_web_origins(database, ["+"])
    headers = {"Origin": APP}

    introspected = client.post(f"{OIDC}/token/introspect", headers=headers, auth=(PORTAL, PORTAL_SECRET),
                               data={"token": answer["access_token"]})
    revoked = client.post(f"{OIDC}/revoke", headers=headers, auth=(PORTAL, PORTAL_SECRET),
                          data={"token": answer["access_token"]})
    logged_out = client.post(f"{OIDC}/logout", headers=headers, data={
        "client_id": PORTAL, "client_secret": PORTAL_SECRET, "refresh_token": answer["refresh_token"]})

    assert (introspected.status_code, revoked.status_code, logged_out.status_code) == (200, 200, 204)
    for response in (introspected, revoked, logged_out):
        assert_allowed(response, APP)


def test_an_error_answer_is_readable_by_the_clients_page_too(client, database, settings):
    """Keycloak throws its OAuth errors with the CORS headers of the authenticated client."""
    signed_in_tokens(client, database, settings)
    set_web_origins(database, ["+"])

    response = client.post(f"{OIDC}/token", headers={"Origin": APP}, auth=(PORTAL, PORTAL_SECRET),
                           data={"grant_type": "authorization_code", "code": "no-such-code"})

    assert response.status_code == 400
    assert_allowed(response, APP)


@pytest.mark.parametrize("path", ["/token", "/userinfo", "/token/introspect", "/revoke", "/logout", "/certs"])
def test_a_preflight_from_a_web_origin_is_answered(client, database, path):
    """Keycloak answers OPTIONS with the methods, Authorization among the headers, and an hour's max age."""
    set_web_origins(database, ["+"])

    response = client.options(f"{OIDC}{path}", headers={
        "Origin": APP, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"})

    assert response.status_code == 200
    assert_allowed(response, APP)
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "OPTIONS" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Max-Age"] == "3600"


def test_a_preflight_from_an_unknown_origin_gets_no_cors_headers(client, database):
    set_web_origins(database, ["+"])

    response = client.options(f"{OIDC}/token", headers={"Origin": STRANGER, "Access-Control-Request-Method": "POST"})

    assert_not_allowed(response)


def test_the_keys_are_readable_by_a_web_origin_of_the_realm(client, database):
    set_web_origins(database, [APP])

    allowed = client.get(f"{OIDC}/certs", headers={"Origin": APP})
    refused = client.get(f"{OIDC}/certs", headers={"Origin": STRANGER})

    assert_allowed(allowed, APP)
    assert_not_allowed(refused)



def test_the_access_tokens_allowed_origins_name_the_resolved_origins(client, database, settings):
    """Keycloak resolves `+` in the `allowed-origins` claim to the redirect URIs' origins."""
    set_web_origins(database, ["+", "https://app.example.jp"])
    answer = signed_in_tokens(client, database, settings)

    assert claims_of(client, answer["access_token"])["allowed-origins"] == [APP, "https://app.example.jp"]
