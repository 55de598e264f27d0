"""オフラインアクセスを許可したアプリ on ログイン中の端末: the member sees which apps keep access
after signing out, and takes it back (Keycloak's account console lists offline tokens the same way)."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from test_account import ACCOUNT, browser, events_of, landing, member, post, text_of  # noqa: F401 - fixtures
from test_login import authorize, pkce_pair, submit_sign_in
from test_oidc_token import exchange, refresh

from idp.db.models import OfflineSession


def offline_sign_in_at_portal(client) -> dict:
    """The portal, on another device, asks for offline access as the member signs in there."""
    verifier, challenge = pkce_pair()
    page = authorize(client, challenge, scope="openid offline_access").get_data(as_text=True)
    location = submit_sign_in(client, page).headers["Location"]
    return exchange(client, parse_qs(urlsplit(location).query)["code"][0], verifier).get_json()


def test_an_app_with_offline_access_is_listed_and_the_member_revokes_it(app, database, browser):  # noqa: F811
    tokens = offline_sign_in_at_portal(app.test_client())

    page = text_of(browser.get(f"{ACCOUNT}/sessions"))
    assert "オフラインアクセスを許可したアプリ" in page and "KOSMO Web ポータル 許可した日時" in page
    with database.session() as session:
        client_uuid = session.scalar(select(OfflineSession.client_id))

    answer = post(browser, f"{ACCOUNT}/sessions/offline/{client_uuid}/revoke", f"{ACCOUNT}/sessions")

    assert "アプリのオフラインアクセスの許可を取り消しました。" in text_of(browser.get(landing(answer)))
    assert refresh(app.test_client(), tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert "オフラインアクセスを許可したアプリ" not in text_of(browser.get(f"{ACCOUNT}/sessions"))
    assert events_of(database, "REVOKE_GRANT")[0].details["revoked_client"] == client_uuid


def test_signing_out_every_other_device_leaves_offline_access_in_place(app, browser):  # noqa: F811
    """Pins Keycloak: ending SSO sessions does not end offline sessions; only revoking the grant does."""
    tokens = offline_sign_in_at_portal(app.test_client())

    post(browser, f"{ACCOUNT}/sessions/others/logout", f"{ACCOUNT}/sessions")

    assert refresh(app.test_client(), tokens["refresh_token"]).status_code == 200
    assert "オフラインアクセスを許可したアプリ" in text_of(browser.get(f"{ACCOUNT}/sessions"))
