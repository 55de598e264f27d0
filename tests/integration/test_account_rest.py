"""keycloak-js's loadUserProfile(): GET /realms/{realm}/account with a bearer token answers Keycloak's
account REST representation (AccountRestService), readable from the client's web origins; a browser's
page request still gets the account pages."""
from __future__ import annotations

from idp.db.models import Client, User
from tests.support.sign_in import MEMBER_ID, PORTAL, REALM_PATH
from tests.support.tokens import signed_in_tokens

APP = "http://localhost:8081"
JSON = {"Accept": "application/json"}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", **JSON}


def test_a_bearer_token_reads_the_members_account_representation(client, database, settings):
    answer = signed_in_tokens(client, database, settings)
    with database.session() as session:
        user = session.query(User).filter(User.username == MEMBER_ID).one()
        user.attributes = {"membership": "A-1234"}
        session.commit()
        user_id = user.id

    response = client.get(f"{REALM_PATH}/account", headers=bearer(answer["access_token"]))

    assert response.status_code == 200
    assert response.get_json() == {
        "id": user_id, "username": MEMBER_ID, "firstName": "花子", "lastName": "山田",
        "email": f"{MEMBER_ID}@example.jp", "emailVerified": False, "attributes": {"membership": ["A-1234"]},
    }


def test_the_clients_page_may_read_it_from_a_web_origin(client, database, settings):
    answer = signed_in_tokens(client, database, settings)
    with database.session() as session:
        session.query(Client).filter(Client.client_id == PORTAL).one().web_origins = ["+"]
        session.commit()

    response = client.get(f"{REALM_PATH}/account", headers={"Origin": APP, **bearer(answer["access_token"])})
    preflight = client.options(f"{REALM_PATH}/account", headers={
        "Origin": APP, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
    stranger = client.get(f"{REALM_PATH}/account", headers={"Origin": "http://evil.example",
                                                            **bearer(answer["access_token"])})

    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert preflight.headers["Access-Control-Allow-Origin"] == APP
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Origin" not in stranger.headers


def test_a_missing_or_unusable_token_is_refused_with_401(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    for headers in (JSON, bearer("garbage"), bearer(answer["refresh_token"])):
        response = client.get(f"{REALM_PATH}/account", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_a_browsers_page_request_still_gets_the_account_pages(client):
    response = client.get(f"{REALM_PATH}/account", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})

    assert response.status_code == 302
    assert "/protocol/openid-connect/auth?" in response.headers["Location"]
