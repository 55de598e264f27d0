"""The demo portal as a member sees it: the KOSMO Web top page, sign-out, and the development mailbox.

The full sign-in through the real identity provider is driven by the browser tests; here the
identity provider's discovery document is stood in for, so nothing leaves the test process.
"""
from __future__ import annotations

import re
import socket
from urllib.parse import parse_qs, urlsplit

import pytest

from examples.portal import create_portal
from idp.mail import send_mail
from tests.support.settings import make_settings

IDP = "http://idp.test"
DISCOVERY = {
    "issuer": f"{IDP}/realms/kosmo-demo",
    "authorization_endpoint": f"{IDP}/realms/kosmo-demo/protocol/openid-connect/auth",
    "token_endpoint": f"{IDP}/realms/kosmo-demo/protocol/openid-connect/token",
    "end_session_endpoint": f"{IDP}/realms/kosmo-demo/protocol/openid-connect/logout",
    "jwks_uri": f"{IDP}/realms/kosmo-demo/protocol/openid-connect/certs",
}
HANAKO = {"sub": "f3b1", "family_name": "山田", "given_name": "花子", "preferred_username": "hanako01"}


def make_portal(monkeypatch, **config):
    portal = create_portal(
        {
            "PORTAL_IDP_URL": IDP,
            "PORTAL_URL": "http://portal.test",
            "PORTAL_SECRET_KEY": "portal-test-secret-0123456789",
            "PORTAL_OUTBOX_DIR": "",
            **config,
        }
    )
    portal.config.update(TESTING=True)
    monkeypatch.setattr(portal.extensions["portal.idp"], "load_server_metadata", lambda: DISCOVERY)
    return portal


@pytest.fixture
def portal(monkeypatch):
    return make_portal(monkeypatch)


def sign_in(client, id_token="header.payload.signature", userinfo=HANAKO):
    with client.session_transaction() as session:
        session["id_token"] = id_token
        session["userinfo"] = userinfo


def csrf_token_from(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_a_signed_out_visitor_sees_ログイン_at_the_top_right(portal):
    page = portal.test_client().get("/").get_data(as_text=True)

    assert '<html lang="ja">' in page
    assert '<a class="button login-button" href="/login">ログイン</a>' in page
    assert "service-tile" not in page


def test_a_signed_in_member_sees_their_name_and_the_services(portal):
    client = portal.test_client()
    sign_in(client)

    page = client.get("/").get_data(as_text=True)

    assert "山田 花子 さん" in page
    assert 'href="/logout/confirm"' in page
    assert "ログアウトしてもよろしいですか？" in page
    for service in ["医療費のお知らせ", "健診結果", "各種申請", "お知らせ"]:
        assert service in page
    assert "login-button" not in page


def test_the_name_claim_wins_and_the_user_id_is_the_last_resort(portal):
    client = portal.test_client()
    sign_in(client, userinfo={**HANAKO, "name": "山田 花子（本人）"})
    assert "山田 花子（本人） さん" in client.get("/").get_data(as_text=True)

    sign_in(client, userinfo={"sub": "f3b1", "preferred_username": "hanako01"})
    assert "hanako01 さん" in client.get("/").get_data(as_text=True)


def test_pages_forbid_inline_scripts(portal):
    response = portal.test_client().get("/")

    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "<script>" not in response.get_data(as_text=True)


def test_logout_is_not_possible_by_a_plain_link(portal):
    client = portal.test_client()
    sign_in(client)

    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    with client.session_transaction() as session:
        assert session["id_token"] == "header.payload.signature"


def test_logout_ends_the_portal_session_and_asks_the_idp_to_end_its_own(portal):
    client = portal.test_client()
    sign_in(client, id_token="the.id.token")
    confirm = client.get("/logout/confirm").get_data(as_text=True)
    assert "ログアウトしてもよろしいですか？" in confirm and "ログアウトする" in confirm

    response = client.post("/logout", data={"csrf_token": csrf_token_from(confirm)})

    assert response.status_code == 302
    target = urlsplit(response.location)
    assert f"{target.scheme}://{target.netloc}{target.path}" == DISCOVERY["end_session_endpoint"]
    query = {key: values[0] for key, values in parse_qs(target.query).items()}
    assert query["id_token_hint"] == "the.id.token"
    assert query["post_logout_redirect_uri"] == "http://portal.test/"
    assert query["client_id"] == "kosmo-portal"
    assert len(query["state"]) >= 16
    with client.session_transaction() as session:
        assert "id_token" not in session and "userinfo" not in session

    back = client.get("/", query_string={"state": query["state"]}).get_data(as_text=True)
    assert "ログアウトしました。" in back
    assert '<a class="button login-button" href="/login">ログイン</a>' in back


def test_login_sends_the_member_to_the_idp_with_pkce(portal):
    response = portal.test_client().get("/login")

    target = urlsplit(response.location)
    query = {key: values[0] for key, values in parse_qs(target.query).items()}
    assert response.location.startswith(DISCOVERY["authorization_endpoint"])
    assert query["client_id"] == "kosmo-portal"
    assert query["redirect_uri"] == "http://portal.test/callback"
    assert query["code_challenge_method"] == "S256"
    assert query["scope"] == "openid profile email"
    assert query["state"] and query["nonce"] and query["code_challenge"]


def test_the_mailbox_does_not_exist_without_an_outbox(portal):
    client = portal.test_client()

    assert client.get("/dev/mailbox/").status_code == 404
    assert "開発用メールボックス" not in client.get("/").get_data(as_text=True)


def test_the_mailbox_lists_a_mail_from_the_idp_outbox_with_its_link(tmp_path, monkeypatch):
    outbox = tmp_path / "outbox"
    settings = make_settings(tmp_path, mail_url=f"outbox:{outbox}")
    link = "http://localhost:8080/realms/kosmo-demo/login-actions/action-token?key=abc.def"
    send_mail(
        settings,
        to="hanako@example.jp",
        subject="【KOSMOWeb】メールアドレスの確認",
        text=f"下のリンクを開いてください。\n{link}\n",
        html=f'<p><a href="{link}">メールアドレスの確認</a></p><script>alert(1)</script>',
    )
    client = make_portal(monkeypatch, PORTAL_OUTBOX_DIR=str(outbox)).test_client()

    listing = client.get("/dev/mailbox/").get_data(as_text=True)

    assert "【KOSMOWeb】メールアドレスの確認" in listing
    assert "hanako@example.jp" in listing
    assert f'<a href="{link}" target="_blank" rel="noopener noreferrer">{link}</a>' in listing
    assert 'href="/dev/mailbox/"' in client.get("/").get_data(as_text=True)

    [file_name] = [path.name for path in outbox.glob("*.eml")]
    mail = client.get(f"/dev/mailbox/{file_name}").get_data(as_text=True)
    assert f'<a href="{link}"' in mail
    assert "<script>alert(1)</script>" not in mail
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mail


def test_the_mailbox_lists_the_newest_mail_first(tmp_path, monkeypatch):
    outbox = tmp_path / "outbox"
    settings = make_settings(tmp_path, mail_url=f"outbox:{outbox}")
    for subject in ["一通目", "二通目", "三通目"]:
        send_mail(settings, to="hanako@example.jp", subject=subject, text="本文")
    client = make_portal(monkeypatch, PORTAL_OUTBOX_DIR=str(outbox)).test_client()

    listing = client.get("/dev/mailbox/").get_data(as_text=True)

    assert listing.index("三通目") < listing.index("二通目") < listing.index("一通目")


def test_the_mailbox_serves_only_files_of_the_outbox(tmp_path, monkeypatch):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (tmp_path / "secret.eml").write_text("Subject: not yours\n\nsecret")
    client = make_portal(monkeypatch, PORTAL_OUTBOX_DIR=str(outbox)).test_client()

    assert client.get("/dev/mailbox/..%2Fsecret.eml").status_code == 404
    assert client.get("/dev/mailbox/missing.eml").status_code == 404


def test_sign_in_says_so_when_the_idp_cannot_be_reached():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    portal = create_portal({"PORTAL_IDP_URL": f"http://127.0.0.1:{closed_port}", "PORTAL_SECRET_KEY": "x" * 32})

    response = portal.test_client().get("/login")

    assert response.status_code == 503
    assert "認証サーバーに接続できません。" in response.get_data(as_text=True)


def test_a_refused_or_forged_callback_does_not_sign_anyone_in(portal):
    client = portal.test_client()

    refused = client.get("/callback", query_string={"error": "access_denied", "state": "s"})
    forged = client.get("/callback", query_string={"code": "stolen", "state": "not-ours"})

    for response in (refused, forged):
        assert response.status_code == 400
        assert "ログインを完了できませんでした。" in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "id_token" not in session
