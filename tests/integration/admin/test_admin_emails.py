"""Mails an administrator sends through the Admin API: execute-actions-email (the member opens the
link, does the actions, and lands on a done page leading back to the portal) and
send-verify-email; each refused as Keycloak refuses it, with no mail and no link left behind."""
from __future__ import annotations

from sqlalchemy import select

from idp.app import create_app
from idp.db.models import AuditEvent, Realm, User
from idp.ephemeral import ephemeral
from idp.mail import find_links
from tests.support.admin import MEMBER_PASSWORD, REALM, AdminApi, admin_realm_config, service_token, sign_in
from tests.support.mail import outbox
from tests.support.recovery import change_password
from tests.support.settings import make_settings

PORTAL_CALLBACK = "http://localhost:8081/callback"
NEW_PASSWORD = "Atarashii-Pass-26"


def _member(api, username="kosmo8001", **fields) -> str:
    fields = {"email": f"{username}@example.jp", "firstName": "一郎", "lastName": "鈴木", **fields}
    return api.create_member(username, credentials=[{"type": "password", "value": MEMBER_PASSWORD}], **fields)


def _link(mail) -> str:
    return find_links(mail.get_body(("plain",)).get_content())[0]


def _event_types(database, user_id: str) -> list[str]:
    with database.session() as session:
        query = select(AuditEvent.type).where(AuditEvent.user_id == user_id).order_by(AuditEvent.time)
        return list(session.scalars(query))


def test_the_member_opens_the_mailed_link_sets_a_password_and_is_led_back_to_the_portal(api, client, settings,
                                                                                        database):
    user_id = _member(api)
    sent = api.put(f"/users/{user_id}/execute-actions-email", ["UPDATE_PASSWORD"], client_id="kosmo-portal",
                   redirect_uri=PORTAL_CALLBACK)
    assert sent.status_code == 204
    [mail] = outbox(settings)
    text = mail.get_body(("plain",)).get_content()
    assert mail["To"] == "kosmo8001@example.jp" and mail["Subject"] == "【KOSMOWeb】アカウントの手続きのお願い"
    assert "鈴木 一郎 様" in text and "・パスワードの変更" in text and "リンクの有効期限は12時間です。" in text

    page = client.get(_link(mail))
    assert page.status_code == 200 and 'name="password_confirm"' in page.get_data(as_text=True)
    done = change_password(client, page.get_data(as_text=True), password=NEW_PASSWORD)
    shown = done.get_data(as_text=True)
    assert "お願いしていた手続きが完了しました。" in shown and f'<a href="{PORTAL_CALLBACK}">' in shown
    assert sign_in(client, "kosmo8001", NEW_PASSWORD)["status"] == 200
    assert {"EXECUTE_ACTIONS", "ADMIN_ACTION", "EXECUTE_ACTION_TOKEN", "UPDATE_PASSWORD"} <= set(
        _event_types(database, user_id))


def test_the_link_works_once(api, client, settings):
    user_id = _member(api)
    api.put(f"/users/{user_id}/execute-actions-email", ["UPDATE_PASSWORD"])
    link = _link(outbox(settings)[0])
    assert client.get(link).status_code == 200
    again = client.get(link)
    assert again.status_code == 400 and "有効期限が切れているか、すでに使用されています" in again.get_data(as_text=True)


def test_the_link_lives_as_long_as_lifespan_says_and_the_mail_says_so(api, app, client, settings):
    user_id = _member(api)
    api.put(f"/users/{user_id}/execute-actions-email", ["UPDATE_PASSWORD", "TERMS_AND_CONDITIONS"], lifespan=600)
    mail = outbox(settings)[0]
    text = mail.get_body(("plain",)).get_content()
    assert "リンクの有効期限は10分です。" in text and "・利用規約への同意" in text and "・パスワードの変更" in text
    key = _link(mail).split("key=")[1]
    with app.app_context():
        with app.extensions["idp.db"].session() as session:
            realm_id = session.scalar(select(Realm.id).where(Realm.name == REALM))
        assert 590 <= ephemeral().ttl(f"admin-actions:{realm_id}:{key}") <= 600


def test_refused_requests_send_nothing(api, settings):
    user_id = _member(api)
    no_email = _member(api, "kosmo8002", email="")
    disabled = _member(api, "kosmo8003", enabled=False)
    path = "/users/{}/execute-actions-email"
    cases = [
        (no_email, ["UPDATE_PASSWORD"], {}, "User email missing"),
        (disabled, ["UPDATE_PASSWORD"], {}, "User is disabled"),
        (user_id, ["DANCE"], {}, "Provided invalid required actions"),
        (user_id, [], {}, "Provided invalid required actions"),
        (user_id, ["UPDATE_PASSWORD"], {"client_id": "nobody"}, "Client doesn't exist"),
        (user_id, ["UPDATE_PASSWORD"], {"redirect_uri": PORTAL_CALLBACK}, "Client id missing"),
        (user_id, ["UPDATE_PASSWORD"], {"client_id": "kosmo-portal", "redirect_uri": "https://evil.example/"},
         "Invalid redirect uri."),
        (user_id, ["UPDATE_PASSWORD"], {"lifespan": "-5"}, "Invalid lifespan"),
    ]
    for target, actions, query, message in cases:
        response = api.put(path.format(target), actions, **query)
        assert (response.status_code, response.get_json()) == (400, {"errorMessage": message}), message
    assert api.put(path.format("no-such-user"), ["UPDATE_PASSWORD"]).status_code == 404
    assert outbox(settings) == []


def test_send_verify_email_mails_a_link_that_verifies_the_address(api, client, settings):
    user_id = _member(api)
    assert api.put(f"/users/{user_id}/send-verify-email", client_id="kosmo-portal", lifespan=5400).status_code == 204
    [mail] = outbox(settings)
    text = mail.get_body(("plain",)).get_content()
    assert "・メールアドレスの確認" in text and "リンクの有効期限は90分です。" in text
    opened = client.get(_link(mail))
    assert opened.status_code == 200 and "メールアドレスの確認が完了しました。" in opened.get_data(as_text=True)
    assert api.get(f"/users/{user_id}").get_json()["emailVerified"] is True
    assert api.put(f"/users/{_member(api, 'kosmo8002', email='')}/send-verify-email").get_json() == {
        "errorMessage": "User email missing"}


def test_a_mail_that_cannot_be_delivered_is_a_500_with_keycloaks_message_and_leaves_no_link(tmp_path, database):
    broken = make_settings(tmp_path, realms_dir=admin_realm_config(tmp_path / "admin-realms"),
                           mail_url="smtp://127.0.0.1:9")
    app = create_app(broken, database)
    client = app.test_client()
    api = AdminApi(client, service_token(client))
    user_id = _member(api)
    response = api.put(f"/users/{user_id}/execute-actions-email", ["UPDATE_PASSWORD"])
    assert (response.status_code, response.get_json()) == (
        500, {"errorMessage": "Failed to send execute actions email"})
    verify = api.put(f"/users/{user_id}/send-verify-email")
    assert (verify.status_code, verify.get_json()) == (500, {"errorMessage": "Failed to send verify email"})
    with database.session() as session:
        assert session.get(User, user_id).email_verified is False
        assert session.scalar(select(AuditEvent).where(AuditEvent.type == "EXECUTE_ACTIONS")) is None
