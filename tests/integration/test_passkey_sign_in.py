"""Passkeys through the flow engine over HTTP: a member registers one on their first sign-in and
confirms the next sign-in with it; a cancelled dialog leads to 再試行してください; a sign count that
went backwards is refused and lands in the audit log. A software authenticator plays the phone."""
from __future__ import annotations

import json
import re
from html import unescape

import pytest
from sqlalchemy import select

from idp.db.models import AuditEvent, Credential, User
from conftest import make_settings
from tests.integration.test_login import (add_member, authorize, follow_step, pkce_pair, redirect_params,
                                          submit_sign_in)
from tests.unit.actions.steps import Browser
from tests.unit.test_passkey_soft_authenticator import SoftAuthenticator

# The passkey is asked for once the member has one; until then they register one.
FLOW = "  - authenticate: passkey\n  - action: webauthn-register\n    if: no-second-factor\n"


class Member(Browser):
    """The member's browser; `press` posts the page's form and follows the engine to the next page."""

    def press(self, **fields):
        response = follow_step(self.client, self.submit(**fields))
        self.page = response.get_data(as_text=True)
        return response

    def options(self) -> dict:
        block = re.search(r'<script type="application/json" id="passkey-options"[^>]*>(.*?)</script>', self.page, re.S)
        assert block, self.page[:800]
        return json.loads(unescape(block[1]))

    def sign_in_again(self, password: str = "Initial-2025") -> None:
        """A new browser (no SSO cookie) signs in with the user ID and password."""
        self.client = self.client.application.test_client()
        page = authorize(self.client, pkce_pair()[1]).get_data(as_text=True)
        self.page = submit_sign_in(self.client, page, username="kosmo0001", password=password).get_data(as_text=True)

    def passkeys(self) -> list[Credential]:
        with self.database.session() as session:
            found = list(session.scalars(select(Credential).where(Credential.user_id == self.user_id,
                                                                  Credential.type == "webauthn")))
            session.expunge_all()
            return found

    def audit(self, type: str) -> list[dict]:
        """The member's audit events of `type`: their details, with the error."""
        with self.database.session() as session:
            rows = session.scalars(select(AuditEvent).where(AuditEvent.user_id == self.user_id,
                                                            AuditEvent.type == type))
            return [{**row.details, "error": row.error} for row in rows]


@pytest.fixture
def member(tmp_path):
    with Member(tmp_path, FLOW, "kosmo0001", "Initial-2025") as browser:
        yield browser


def register(member: Member, phone: SoftAuthenticator, label: str = "わたしのiPhone", **fields):
    member.press(credential=phone.create(member.options()), **fields)
    assert 'value="パスキー"' in member.page
    return member.press(label=label)


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



class Visitor(Member):
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
