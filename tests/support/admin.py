"""What the Admin API stories share: a demo realm with the Admin API on, service-account clients
holding different realm-management roles, a second realm with it off, a master administrator,
and the API as one caller sees it. Their fixtures are in tests/integration/admin/conftest.py."""
from __future__ import annotations

import base64
from pathlib import Path

from ruamel.yaml import YAML

from idp.config import CHECKOUT

REALM = "kosmo-demo"
CLOSED_REALM = "closed-society"
ADMIN_CLIENT, VIEWER_CLIENT, NO_API_CLIENT = "kosmo-admin", "kosmo-viewer", "kosmo-no-api"
APP_CLIENT = "kosmo-app"  # a public client with the password grant, for members' sessions
SECRET = "admin-api-test-secret"
MASTER_ADMIN, MASTER_PASSWORD = "root-admin", "Kanri-Password-1"
MEMBER_PASSWORD = "Kenpo-Kumiai-8001"


def _service_client(client_id: str, roles: list[str], admin_api: bool = True) -> dict:
    return {"client_id": client_id, "secret": {"env": "UNSET_ADMIN_TEST_SECRET", "default": SECRET},
            "standard_flow": False, "service_account": True, "admin_api": admin_api,
            "service_account_client_roles": {"realm-management": roles}}


def admin_realm_config(folder: Path) -> Path:
    """The shipped demo realm with the Admin API on and three service accounts, plus a closed realm."""
    yaml = YAML()
    folder.mkdir(parents=True, exist_ok=True)
    demo = yaml.load((CHECKOUT / "realm-config" / f"{REALM}.yaml").read_text(encoding="utf-8"))
    demo["browser_flow"] = "browser"
    demo["admin_api"] = True
    demo["clients"].extend([
        _service_client(ADMIN_CLIENT, ["manage-users", "view-events", "view-clients"]),
        _service_client(VIEWER_CLIENT, ["view-users"]),
        _service_client(NO_API_CLIENT, ["realm-admin"], admin_api=False),
        {"client_id": APP_CLIENT, "public": True, "standard_flow": False, "direct_access_grants": True},
    ])
    closed = {"realm": CLOSED_REALM, "clients": [_service_client(ADMIN_CLIENT, ["realm-admin"])]}
    for name, document in ((REALM, demo), (CLOSED_REALM, closed)):
        with (folder / f"{name}.yaml").open("w", encoding="utf-8") as out:
            yaml.dump(document, out)
    return folder


def basic(client_id: str, secret: str = SECRET) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def service_token(client, client_id: str = ADMIN_CLIENT, realm: str = REALM) -> str:
    response = client.post(f"/realms/{realm}/protocol/openid-connect/token",
                           data={"grant_type": "client_credentials"}, headers=basic(client_id))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


class AdminApi:
    """The Admin API of a realm as one caller sees it (Flask test client)."""

    def __init__(self, client, token: str, realm: str = REALM):
        self.client, self.headers, self.base = client, bearer(token), f"/admin/realms/{realm}"

    def get(self, path: str, **params):
        return self.client.get(self.base + path, query_string=params, headers=self.headers)

    def post(self, path: str, body=None, **params):
        return self.client.post(self.base + path, json=body, query_string=params, headers=self.headers)

    def put(self, path: str, body=None, **params):
        return self.client.put(self.base + path, json=body, query_string=params, headers=self.headers)

    def delete(self, path: str):
        return self.client.delete(self.base + path, headers=self.headers)

    def create_member(self, username: str, **fields) -> str:
        body = {"username": username, "enabled": True, **fields}
        response = self.post("/users", body)
        assert response.status_code == 201, response.get_json()
        return response.headers["Location"].rsplit("/", 1)[1]


def sign_in(client, username: str, password: str = MEMBER_PASSWORD) -> dict:
    """A member's password grant through the app client: an SSO session and its tokens."""
    response = client.post(f"/realms/{REALM}/protocol/openid-connect/token", data={
        "grant_type": "password", "client_id": APP_CLIENT, "username": username, "password": password})
    return {"status": response.status_code, **response.get_json()}
