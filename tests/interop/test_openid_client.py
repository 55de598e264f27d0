"""panva's openid-client (Node.js) signs a member in at a running server: discovery, code + PKCE,
userinfo, refresh and client credentials, through `node/code-flow.mjs`."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.servers import INTEROP_CONFIDENTIAL, INTEROP_CONFIDENTIAL_SECRET, INTEROP_PUBLIC, IdpServer

pytestmark = pytest.mark.interop

NODE_DIR = Path(__file__).parent / "node"
SCRIPT = NODE_DIR / "code-flow.mjs"
USERNAME = "kosmo7001"
PASSWORD = "Hoken-Kumiai-7001"


def _node_or_skip() -> str:
    """The node binary, once `npm ci` has installed openid-client; under CI its absence fails."""
    node = shutil.which("node")
    if node is None:
        problem = "node is not installed, so openid-client cannot run"
    elif not (NODE_DIR / "node_modules" / "openid-client").is_dir():
        problem = f"openid-client is not installed: run `npm ci` in {NODE_DIR} (make test does)"
    else:
        return node
    if os.environ.get("CI"):
        pytest.fail(f"{problem} (under CI this is an error, not a skip)")
    pytest.skip(problem)


@pytest.fixture(scope="module")
def summary(tmp_path_factory) -> dict:
    """What openid-client saw while a member signed in, refreshed and a service account got a token."""
    node = _node_or_skip()
    with IdpServer(tmp_path_factory.mktemp("openid-client")) as server:
        server.add_member(USERNAME, PASSWORD, email="hanako@example.jp", first_name="花子", last_name="佐藤")
        env = {
            **os.environ,
            "ISSUER": server.issuer(), "CLIENT_ID": INTEROP_PUBLIC, "REDIRECT_URI": server.callback_url,
            "USERNAME": USERNAME, "PASSWORD": PASSWORD,
            "SERVICE_CLIENT_ID": INTEROP_CONFIDENTIAL, "SERVICE_SECRET": INTEROP_CONFIDENTIAL_SECRET,
        }
        result = subprocess.run([node, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"openid-client failed:\n{result.stderr}\nserver log:\n{server.output()[-3000:]}"
        return {"server": {"issuer": server.issuer()}, **json.loads(result.stdout)}


def test_discovery_finds_the_realm_issuer(summary):
    assert summary["discovered_issuer"] == summary["server"]["issuer"]


def test_the_callback_carries_code_state_session_state_and_iss(summary):
    assert set(summary["callback_params"]) == {"code", "state", "session_state", "iss"}


def test_code_exchange_passes_openid_clients_id_token_checks(summary):
    id_token = summary["id_token"]
    assert id_token["nonce_matches"] is True
    assert id_token["iss"] == summary["server"]["issuer"]
    assert id_token["aud"] == INTEROP_PUBLIC
    assert id_token["azp"] == INTEROP_PUBLIC
    assert id_token["typ"] == "ID"
    assert id_token["sid"] == summary["token_response"]["session_state"]
    assert id_token["preferred_username"] == USERNAME
    assert id_token["name"] == "佐藤 花子"
    assert id_token["at_hash"]


def test_token_response_is_a_bearer_token_with_refresh_token_and_granted_scope(summary):
    response = summary["token_response"]
    assert response["token_type"] == "bearer"  # openid-client lower-cases it
    assert 0 < response["expires_in"] <= 300
    assert set(response["scope"].split()) == {"openid", "profile", "email"}
    assert response["has_refresh_token"] is True


def test_userinfo_names_the_same_member_as_the_id_token(summary):
    userinfo = summary["userinfo"]
    assert userinfo["sub"] == summary["id_token"]["sub"]
    assert userinfo["preferred_username"] == USERNAME
    assert userinfo["email"] == "hanako@example.jp"
    assert userinfo["given_name"] == "花子"
    assert userinfo["family_name"] == "佐藤"


def test_refresh_rotates_the_refresh_token_and_keeps_the_member(summary):
    refresh = summary["refresh"]
    assert refresh == {"new_refresh_token": True, "new_access_token": True,
                       "id_token_sub": summary["id_token"]["sub"]}


def test_client_credentials_give_an_access_token_without_refresh_token(summary):
    granted = summary["client_credentials"]
    assert granted["token_type"] == "bearer"
    assert granted["has_refresh_token"] is False
