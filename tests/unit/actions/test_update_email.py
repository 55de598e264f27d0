"""update-email (メールアドレスの更新): a member confirms or changes their address; the guide's four errors."""
from __future__ import annotations

import threading
from html import unescape

import pytest

from idp.actions.email_rules import email_problems
from idp.actions.update_email import UpdateEmail
from idp.db import Database
from idp.flows.api import Done, Page
from idp.i18n import messages_for
from tests.support.settings import make_settings
from tests.support.sign_in import authorize, form_action, hidden_value, pkce_pair, redirect_params, submit_sign_in
from tests.support.steps import create_member, flow_settings, step_context, stored

EMPTY = "メールアドレスを入力してください。"
TAKEN = "他のアカウントで設定されているメールアドレスです。別のメールアドレスを入力してください。"
INVALID = "無効なメールアドレスです。入力したメールアドレスに誤りがないかご確認ください。"
TOO_LONG = "設定可能なメールアドレスの最大文字数は255文字です。"
PASSWORD = "sakura-2024-spring"
ADDRESS = ("email", "email_verified")  # what stored(...) reads before the audit trail
EMAIL_STEP = "  - action: update-email\n"


@pytest.fixture
def settings(tmp_path):
    """The demo realm runs a flow of the password and this step only (for the browser test)."""
    return flow_settings(tmp_path, EMAIL_STEP, name="email-journey")


def add_member(database, settings, username, email, verified=True, password=None):
    create_member(database, settings, username, email=email, email_verified=verified, password=password)


def submit(database, settings, username, email):
    """The member presses 実行 with `email` typed; committed as the engine does after Done."""
    with database.session() as session:
        return UpdateEmail().process(step_context(session, settings, username, UpdateEmail), {"email": email})


def shown(page: Page, settings) -> list[str]:
    texts = messages_for(settings.themes_dir)
    return [texts[key] for key in page.errors["email"]]


@pytest.fixture
def taro(database, settings):
    add_member(database, settings, "taro0001", "taro@example.jp")
    return "taro0001"


def test_the_current_address_is_prefilled(database, settings, taro):
    with database.session() as session:
        page = UpdateEmail().challenge(step_context(session, settings, taro, UpdateEmail))
    assert page.template == "actions/update-email.html"
    assert page.values == {"email": "taro@example.jp"}


def test_keeping_the_address_changes_nothing_and_records_nothing(database, settings, taro):
    assert submit(database, settings, taro, " Taro@Example.JP ") == Done()
    assert stored(database, taro, *ADDRESS) == ("taro@example.jp", True, [])


def test_a_new_address_is_stored_lower_case_unverified_with_an_event(database, settings, taro):
    assert submit(database, settings, taro, "Taro.Yamada@Mail.Example.JP") == Done()
    assert stored(database, taro, *ADDRESS) == (
        "taro.yamada@mail.example.jp", False,
        [("UPDATE_EMAIL", {"previous_email": "taro@example.jp", "updated_email": "taro.yamada@mail.example.jp"})],
    )


def test_a_member_without_an_address_can_set_one(database, settings):
    add_member(database, settings, "hanako01", None, verified=False)
    assert submit(database, settings, "hanako01", "hanako@example.jp") == Done()
    assert stored(database, "hanako01", *ADDRESS)[:2] == ("hanako@example.jp", False)


@pytest.mark.parametrize("typed", ["", "   "])
def test_an_empty_address_asks_for_one(database, settings, taro, typed):
    page = submit(database, settings, taro, typed)
    assert shown(page, settings) == [EMPTY]
    assert page.values == {"email": typed}
    assert stored(database, taro, *ADDRESS) == ("taro@example.jp", True, [])


@pytest.mark.parametrize("typed", [
    "taro?@example.jp",         # the guide's example: a symbol that cannot be used
    "taro.@example.jp",         # the guide's example: a dot right before @
    "taro.example.jp",          # no @
    "taro yamada@example.jp",   # a space
    "taro..yamada@example.jp",  # two dots in a row
    ".taro@example.jp",         # a leading dot
    "taro@example",             # a domain without a dot
    "taro@example..jp",
    "taro@-example.jp",         # a label starting with a hyphen
    "taro@example.jp.",
    "taro@@example.jp",
    "@example.jp",
    "taro＠example.jp",          # a full-width ＠ typed with a Japanese keyboard
    "たろう@example.jp",
    '"taro"@example.jp',        # quoted local parts are refused on purpose
    "taro@[192.0.2.1]",
    "a" * 65 + "@example.jp",   # RFC 5321 limits the local part to 64 characters
])
def test_these_addresses_are_invalid(typed):
    assert email_problems(typed) == ["invalid"]


@pytest.mark.parametrize("typed", ["taro?@example.jp", "taro.@example.jp"])
def test_the_guides_invalid_examples_are_refused_and_change_nothing(database, settings, taro, typed):
    page = submit(database, settings, taro, typed)
    assert shown(page, settings) == [INVALID]
    assert page.values == {"email": typed}
    assert stored(database, taro, *ADDRESS) == ("taro@example.jp", True, [])


@pytest.mark.parametrize("address", [
    "taro.yamada@example.co.jp",
    "taro+portal@example.jp",
    "t-a_r.o!#$%&'*/=^`{|}~@sub-domain.example.jp",
    "0120@123.example",
    "a" * 64 + "@example.jp",
])
def test_everyday_and_rfc_addresses_are_accepted(address):
    assert email_problems(address) == []


def test_255_characters_are_accepted_but_256_show_invalid_and_too_long(database, settings, taro):
    at_limit = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 59 + ".jp"
    assert len(at_limit) == 255 and email_problems(at_limit) == []
    one_more = at_limit.replace("d", "dd", 1)  # still well formed, only too long
    page = submit(database, settings, taro, one_more)
    assert shown(page, settings) == [INVALID, TOO_LONG]
    assert stored(database, taro, *ADDRESS) == ("taro@example.jp", True, [])


def test_another_members_address_is_refused_in_any_case(database, settings, taro):
    add_member(database, settings, "hanako01", "hanako@example.jp")
    page = submit(database, settings, taro, "HANAKO@example.jp")
    assert shown(page, settings) == [TAKEN]
    assert page.values == {"email": "HANAKO@example.jp"}
    assert stored(database, taro, *ADDRESS) == ("taro@example.jp", True, [])
    assert stored(database, "hanako01", *ADDRESS)[:2] == ("hanako@example.jp", True)


def test_a_refused_address_leaves_the_transaction_usable(database, settings, taro):
    add_member(database, settings, "hanako01", "hanako@example.jp")
    with database.session() as session:
        ctx = step_context(session, settings, taro, UpdateEmail)
        assert UpdateEmail().process(ctx, {"email": "hanako@example.jp"}).has_errors
        assert ctx.user.email == "taro@example.jp" and ctx.user.email_verified
        assert UpdateEmail().process(ctx, {"email": "taro2@example.jp"}) == Done()
    assert stored(database, taro, *ADDRESS)[:2] == ("taro2@example.jp", False)


def test_two_members_racing_for_one_address_cannot_both_win(database_url, tmp_path):
    """Hanako's commit lands while Taro's request is between its checks and its commit."""
    settings = make_settings(tmp_path, database_url=database_url)
    from idp.setup import prepare

    database = Database(database_url)
    prepare(settings, database)
    add_member(database, settings, "taro0001", "taro@example.jp")
    add_member(database, settings, "hanako01", "hanako@example.jp")
    hanakos_answer = []

    def hanako_presses_jikko():
        hanakos_answer.append(submit(database, settings, "hanako01", "shared@example.jp"))

    with database.session() as session:
        ctx = step_context(session, settings, "taro0001", UpdateEmail)
        assert UpdateEmail().process(ctx, {"email": "shared@example.jp"}) == Done()
        hanako = threading.Thread(target=hanako_presses_jikko)
        hanako.start()
        # Hanako's write now waits on Taro's transaction (the row lock on PostgreSQL, the write
        # lock on SQLite); Taro commits when this block ends.
        hanako.join(timeout=0.5)
        assert hanako.is_alive()
    hanako.join(timeout=30)
    assert shown(hanakos_answer[0], settings) == [TAKEN]
    assert stored(database, "taro0001", *ADDRESS)[:2] == ("shared@example.jp", False)
    assert stored(database, "hanako01", *ADDRESS) == ("hanako@example.jp", True, [])
    database.dispose()


def test_in_the_browser_the_member_sees_their_address_fixes_a_mistake_and_returns_to_the_portal(
        client, database, settings):
    add_member(database, settings, "taro0001", "taro@example.jp", password=PASSWORD)
    add_member(database, settings, "hanako01", "hanako@example.jp")
    sign_in = authorize(client, pkce_pair()[1]).get_data(as_text=True)
    page = submit_sign_in(client, sign_in, username="taro0001", password=PASSWORD).get_data(as_text=True)
    assert "<h1>メールアドレスの更新</h1>" in page
    assert 'type="email" value="taro@example.jp"' in page and 'autocomplete="email"' in page

    def press_jikko(page, email):
        fields = {name: hidden_value(page, name) for name in ("csrf_token", "tab_id", "step")}
        return client.post(form_action(page), data={**fields, "email": email})

    refused = press_jikko(page, "hanako@example.jp")
    assert refused.status_code == 200 and TAKEN in unescape(refused.get_data(as_text=True))
    refused = press_jikko(refused.get_data(as_text=True), "taro.@example.jp")
    assert INVALID in unescape(refused.get_data(as_text=True))
    assert stored(database, "taro0001", *ADDRESS) == ("taro@example.jp", True, [])

    done = press_jikko(refused.get_data(as_text=True), "taro.yamada@example.jp")
    assert "code" in redirect_params(done)
    assert stored(database, "taro0001", *ADDRESS)[:2] == ("taro.yamada@example.jp", False)
