"""Passkeys through the flow engine over HTTP: a member registers one on their first sign-in and
confirms the next sign-in with it; a cancelled dialog leads to 再試行してください; a sign count that
went backwards is refused and lands in the audit log. A software authenticator plays the phone."""
from __future__ import annotations

import pytest

from idp.db.models import User
from tests.support.passkeys import PasskeyMember, SoftAuthenticator, first_sign_in, register
from tests.support.settings import make_settings
from tests.support.sign_in import add_member, authorize, pkce_pair, redirect_params


@pytest.fixture
def member(tmp_path):
    with first_sign_in(tmp_path) as browser:
        yield browser


def test_a_member_registers_a_passkey_and_the_next_sign_in_asks_for_it(member):
    assert "<h1>セキュリティの設定</h1>" in member.page and "セキュリティキーの登録" in member.page
    assert "全てのデバイスからサインアウトする" in member.page
    phone = SoftAuthenticator()

    assert "code" in redirect_params(register(member, phone))
    [passkey] = member.passkeys()
    assert passkey.user_label == "わたしのiPhone"
    assert [details["credential_type"] for details in member.audit("UPDATE_CREDENTIAL")] == ["webauthn"]
    with member.database.session() as session:
        assert session.get(User, member.user_id).second_factor == "passkey"

    member.sign_in_again()
    assert "<h1>生体認証</h1>" in member.page and "生体認証でログイン" in member.page
    assert "code" in redirect_params(member.press(credential=phone.get(member.options())))
    assert member.passkeys()[0].last_used_at is not None


def test_a_cancelled_dialog_shows_the_retry_page_which_returns_to_the_registration(member):
    member.press(webauthn_error="NotAllowedError")
    assert "再試行してください" in member.page and 'name="retry"' in member.page

    member.press(retry="1")
    assert "セキュリティキーの登録" in member.page and 'data-ceremony="create"' in member.page
    assert "code" in redirect_params(register(member, SoftAuthenticator()))


def test_a_cancelled_sign_in_returns_to_the_passkey_step(member):
    phone = SoftAuthenticator()
    register(member, phone)
    member.sign_in_again()

    member.press(webauthn_error="NotAllowedError")
    assert "再試行してください" in member.page
    member.press(retry="1")
    assert "code" in redirect_params(member.press(credential=phone.get(member.options())))


def test_a_sign_count_that_went_backwards_is_refused_and_audited(member):
    phone = SoftAuthenticator()
    register(member, phone)
    member.sign_in_again()
    member.press(credential=phone.get(member.options(), sign_count=20))
    member.sign_in_again()

    refused = member.press(credential=phone.get(member.options(), sign_count=5))

    assert refused.status_code == 401 and "このパスキーではログインできません" in member.page
    assert member.audit("LOGIN_ERROR")[-1] == {"error": "webauthn_sign_count", "credential_type": "webauthn",
                                               "credential_id": member.passkeys()[0].id,
                                               "stored_sign_count": 20, "received_sign_count": 5}
    assert member.passkeys()[0].credential_data["counter"] == 20


class Visitor(PasskeyMember):
    """A browser at the sign-in page of a realm offering passkeys alone (passkey-login), where the
    member already has a passkey."""

    def __init__(self, tmp_path, phone: SoftAuthenticator):
        from ruamel.yaml import YAML

        from idp.app import create_app
        from idp.db import Database
        from idp.setup import prepare

        flows = tmp_path / "flows"
        flows.mkdir()
        (flows / "passkeys.yaml").write_text(
            "flow: passkeys\nsteps:\n  - authenticate: passkey-login\n  - action: webauthn-register\n"
            "    if: no-second-factor\n", encoding="utf-8")
        self.settings = make_settings(tmp_path, browser_flow="passkeys", flows_dir=flows)
        realm_file = self.settings.realms_dir / "kosmo-demo.yaml"
        yaml = YAML()
        yaml.dump({**yaml.load(realm_file.read_text(encoding="utf-8")), "webauthn": {"passkey_first_factor": True}},
                  realm_file)
        self.database = Database(self.settings.database_url)
        self.database.upgrade()
        prepare(self.settings, self.database)
        app = create_app(self.settings, self.database)
        app.config.update(TESTING=True)
        self.user_id = add_member(self.database, self.settings, "kosmo0001", "Initial-2025")
        self.client = app.test_client()
        self.sign_in_again()
        register(self, phone)
        self.client = app.test_client()
        self.page = authorize(self.client, pkce_pair()[1]).get_data(as_text=True)


def test_with_passkeys_as_first_factor_the_sign_in_page_offers_them_in_autofill(tmp_path):
    phone = SoftAuthenticator()
    with Visitor(tmp_path, phone) as visitor:
        assert "<h1>ログイン</h1>" in visitor.page and 'data-ceremony="login"' in visitor.page
        assert 'name="password"' in visitor.page and "生体認証でログイン" in visitor.page
        assert visitor.options()["publicKey"].get("allowCredentials") is None

        assert "code" in redirect_params(visitor.press(credential=phone.get(visitor.options())))
