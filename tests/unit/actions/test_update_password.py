"""パスワード更新: the member replaces the society's temporary password with one that keeps the
realm's policy; a refused password changes nothing."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from idp.actions.update_password import UpdatePassword
from idp.db.models import Credential, User
from idp.db.users import check_password
from idp.flows.api import Done, Page
from tests.support import steps
from tests.support.sign_in import redirect_params
from tests.support.steps import Browser, render

NOW = datetime(2025, 4, 1, 1, 0, tzinfo=UTC)
GUIDE_POLICY = "length(8) and maxLength(64) and notUsername and allowedCharacters and passwordHistory(2)"


@pytest.fixture
def member_id(database, settings):
    return steps.create_member(database, settings, "kosmo0001", email="taro@example.jp", password="Initial-2025",
                               temporary=True)


class Member(steps.Member):
    """A member at the password step; each call runs in its own transaction, as requests do."""

    def __init__(self, database, settings, user_id, policy=GUIDE_POLICY):
        super().__init__(database, settings, user_id, UpdatePassword, now=NOW,
                         config_update={"password_policy": policy})

    def submit(self, password: str, confirmation: str | None = None) -> Page | Done:
        return super().submit(password=password, password_confirm=password if confirmation is None else confirmation)

    def credentials(self) -> list[tuple]:
        with self.database.session() as session:
            rows = session.scalars(select(Credential).where(Credential.user_id == self.user_id))
            return sorted((c.type, c.temporary, repr(c.secret_data)) for c in rows)

    def can_sign_in_with(self, password: str) -> bool:
        with self.database.session() as session:
            return check_password(session, session.get(User, self.user_id), password, self.settings)


@pytest.fixture
def member(database, settings, member_id):
    return Member(database, settings, member_id)


def test_a_new_password_replaces_the_temporary_one(member):
    page = member.sees()
    assert page.template == "actions/update-password.html" and not page.has_errors

    assert member.submit("Sakura-2025!") == Done()

    assert member.can_sign_in_with("Sakura-2025!")
    assert not member.can_sign_in_with("Initial-2025")
    assert [(kind, temporary) for kind, temporary, _ in member.credentials()][0] == ("password", False)
    assert member.events == [("UPDATE_PASSWORD", {})]


def test_the_rules_are_shown_before_the_member_types(member):
    rules = member.sees().values["rules"]

    assert rules[0] == {"key": "update_password.rule_length", "params": {"min": 8, "max": 64}}
    assert rules[1]["key"] == "update_password.rule_characters"
    assert rules[1]["params"]["characters"].startswith("!\"#$%&'()*=~/")
    assert rules[2]["key"] == "update_password.rule_not_user_id"


@pytest.mark.parametrize("password, confirmation, field, keys", [
    ("", "", "password", ["update_password.missing"]),
    ("Short-1", None, "password", ["password_policy.length"]),
    ("x" * 65, None, "password", ["password_policy.max_length"]),
    ("KOSMO0001", None, "password", ["password_policy.not_username"]),
    ("Sakura 2025", None, "password", ["password_policy.allowed_characters"]),
    ("桜さくら2025-spring", None, "password", ["password_policy.allowed_characters"]),
    ("Initial-2025", None, "password", ["password_policy.history"]),
    ("Sakura-2025!", "", "password_confirm", ["update_password.missing_confirmation"]),
    ("Sakura-2025!", "Sakura-2025?", "password_confirm", ["update_password.confirmation_differs"]),
])
def test_a_refused_password_says_why_and_changes_nothing(member, password, confirmation, field, keys):
    before = member.credentials()

    page = member.submit(password, confirmation)

    assert page.errors == {field: keys}
    assert [problem["key"] for problem in page.values["problems"][field]] == keys
    assert member.credentials() == before
    assert member.events == []
    assert member.can_sign_in_with("Initial-2025")


def test_messages_carry_the_realm_s_numbers(member):
    page = member.submit("Short-1")
    assert page.values["problems"]["password"] == [{"key": "password_policy.length", "params": {"min": 8}}]


def test_the_user_id_is_refused_even_where_the_policy_forgets_not_username(database, settings, member_id):
    member = Member(database, settings, member_id, policy="length(8)")
    assert member.submit("kosmo0001").errors == {"password": ["password_policy.not_username"]}
    assert member.sees().values["rules"] == [
        {"key": "update_password.rule_min_length", "params": {"min": 8}},
        {"key": "update_password.rule_not_user_id", "params": {}},
    ]


def test_every_broken_rule_is_listed_at_once(database, settings, member_id):
    member = Member(database, settings, member_id, policy="length(12) and digits(2) and upperCase")
    assert member.submit("sakura").errors == {
        "password": ["password_policy.length", "password_policy.digits", "password_policy.upper_case"]}


def test_the_page_has_two_new_password_fields_with_the_eye_button_and_the_rules(app, member):
    html = render(app, member.sees())

    assert "<h1>パスワード更新</h1>" in html and ">送信</button>" in html
    assert "8文字以上64文字以内で入力してください。" in html
    for name in ("password", "password_confirm"):
        assert f'id="{name}" name="{name}" type="password" autocomplete="new-password"' in html
        assert f'data-toggle-password="{name}"' in html
    assert "js/password-toggle.js" in html


def test_a_refused_password_s_message_is_filled_in_and_tied_to_the_field(app, member):
    html = render(app, member.submit("Short-1"))

    assert "パスワードは8文字以上で入力してください。" in html
    assert 'aria-describedby="password-rules password-errors" aria-invalid="true"' in html


@pytest.fixture
def browser(tmp_path):
    with Browser(tmp_path, "  - action: update-password\n    if: password-temporary\n", "kosmo0001",
                 "Initial-2025", temporary=True) as browser:
        yield browser


def test_through_the_browser_a_refused_password_then_a_good_one_reaches_the_portal(browser):
    assert "<h1>パスワード更新</h1>" in browser.page and "8文字以上64文字以内で入力してください。" in browser.page

    browser.submit(password="Short-1", password_confirm="Short-1")
    assert "パスワードは8文字以上で入力してください。" in browser.page

    assert "code" in redirect_params(browser.submit(password="Sakura-2025!", password_confirm="Sakura-2025!"))
    with browser.database.session() as session:
        assert check_password(session, session.get(User, browser.user_id), "Sakura-2025!", browser.settings)
