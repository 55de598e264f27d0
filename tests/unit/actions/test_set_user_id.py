"""set-user-id (ユーザーIDの変更・認証方法の設定): a member picks their own user ID and second factor
on one page; every kind of mistake gets its own message and changes nothing."""
from __future__ import annotations

import re
from datetime import UTC

import pytest
from pydantic import ValidationError
from sqlalchemy import event, select

from idp.actions.set_user_id import SetUserId
from idp.db import Database
from idp.db.models import Credential, User
from idp.flows.api import Done
from tests.support import steps
from tests.support.settings import make_settings
from tests.support.steps import SIGN_IN_TIME, audit_trail, render, shown, step_context

NOW = SIGN_IN_TIME
EMPTY = "ユーザーIDを入力してください。"
TOO_SHORT = "ユーザーIDは8文字以上で入力してください。"
TOO_LONG = "ユーザーIDは13文字以内で入力してください。"
TAKEN = "他のアカウントで設定されているユーザーIDです。別のユーザーIDを入力してください。"
NO_FACTOR = "認証方法を選択してください。"
NO_PLATFORM = ("この端末では生体認証を利用できません。"
               "ワンタイムパスワード (OTP) アプリ認証またはメール認証を選択してください。")


def full_width(characters: str) -> str:
    return f"全角文字 ({characters}) は使用できません。半角英数字で入力してください。"


def forbidden(characters: str) -> str:
    return f"ユーザーIDに使用できない文字 ({characters}) が含まれています。「利用不可文字一覧を見る」でご確認ください。"
# 生体認証 as rendered: hidden and disabled until platform-authenticator.js says the device has one.
PASSKEY_WAITS = (r'<div id="passkey-choice" hidden>\s*<div class="choice checkbox">'
                 r'\s*<input[^>]*value="passkey" disabled>')


def submit(database, settings, username, user_id, factor="totp", platform=False, **options):
    """The member types `user_id`, picks `factor` and presses 実行 (see steps.submit)."""
    form = {"user_id": user_id, "second_factor": factor}
    if platform:
        form["platform_authenticator"] = "1"
    return steps.submit(database, settings, username, SetUserId, form, **options)


def stored(database, user_id_of_row):
    """The member's row (found by its id) and their audit events."""
    with database.session() as session:
        user = session.get(User, user_id_of_row)
        return (user.username, user.user_id_chosen_at, user.second_factor), audit_trail(session, user.id)


def row_id(database, username):
    with database.session() as session:
        return session.scalar(select(User.id).where(User.username == username))


@pytest.fixture
def taro(database, settings):
    steps.create_member(database, settings, "taro0001", email="taro@example.jp")
    return "taro0001"


def test_the_page_prefills_the_societys_id_and_offers_the_three_choices_in_the_guides_order(app, database, settings,
                                                                                            taro):
    with database.session() as session:
        page = SetUserId().challenge(step_context(session, settings, taro, SetUserId))
    assert page.values["user_id"] == "taro0001"
    assert page.values["factors"] == ["passkey", "totp", "email"]
    text = render(app, page)
    assert "ユーザーIDの変更・認証方法の設定" in text
    assert '<label for="user_id">ユーザーID *</label>' in text
    assert "<legend>認証方法 *</legend>" in text
    for label in ("生体認証", "ワンタイムパスワード (OTP) アプリ認証", "ワンタイムパスワード (OTP) メール認証",
                  ">実行<"):
        assert label in text
    assert 'value="taro0001"' in text and 'autocomplete="username"' in text


def test_the_forbidden_characters_open_without_javascript(app, database, settings, taro):
    with database.session() as session:
        text = render(app, SetUserId().challenge(step_context(session, settings, taro, SetUserId)))
    listing = re.search(r"<details[^>]*>\s*<summary>利用不可文字一覧を見る</summary>(.*?)</details>", text, re.S)
    assert listing is not None
    assert "以下の文字はユーザーIDに利用できません：" in listing[1]
    assert "空白文字 (スペース、タブ、改行など)" in listing[1]
    for char, name in [("&lt;", "小なり記号"), ("#", "ハッシュ記号"), ("§", "セクション記号"), (";", "セミコロン"),
                       (":", "コロン"), ("~", "チルダ"), ("`", "バッククォート"), ("(", "左丸括弧")]:
        assert f"<code>{char}</code> ({name})" in listing[1]
    for allowed in ("-", "_", ".", "@"):
        assert f"<code>{allowed}</code>" not in listing[1]


def test_passkey_is_hidden_and_disabled_until_the_browser_reports_a_platform_authenticator(app, database, settings,
                                                                                           taro):
    with database.session() as session:
        text = render(app, SetUserId().challenge(step_context(session, settings, taro, SetUserId)))
    assert re.search(PASSKEY_WAITS, text)
    assert '<input type="hidden" id="platform-authenticator" name="platform_authenticator" value="">' in text
    assert "js/platform-authenticator.js" in text
    assert re.search(r'<input[^>]*value="totp">', text) and re.search(r'<input[^>]*value="email">', text)


def test_a_new_id_is_stored_lower_case_with_the_chosen_factor(database, settings, taro):
    member = row_id(database, taro)
    assert submit(database, settings, taro, "  Yamada.Taro ", factor="email") == Done()
    (username, chosen_at, factor), events = stored(database, member)
    assert (username, factor) == ("yamada.taro", "email")
    assert chosen_at.replace(tzinfo=UTC) == NOW
    assert ("UPDATE_PROFILE", {"previous_username": "taro0001", "updated_username": "yamada.taro"}) in events
    assert ("CUSTOM_REQUIRED_ACTION", {"custom_required_action": "select-second-factor",
                                       "second_factor": "email"}) in events


def test_the_step_is_needed_only_until_the_member_has_chosen_an_id(database, settings, taro):
    with database.session() as session:
        assert SetUserId().needed(step_context(session, settings, taro, SetUserId))
    submit(database, settings, taro, "yamadataro")
    with database.session() as session:
        assert not SetUserId().needed(step_context(session, settings, "yamadataro", SetUserId))


def test_keeping_the_societys_id_is_accepted_as_keycloak_accepts_an_unchanged_username(database, settings, taro):
    member = row_id(database, taro)
    assert submit(database, settings, taro, "TARO0001") == Done()
    (username, chosen_at, factor), events = stored(database, member)
    assert (username, factor) == ("taro0001", "totp") and chosen_at is not None
    assert ("UPDATE_PROFILE", {}) in events


@pytest.mark.parametrize("user_id", ["abcdefgh", "abcdefghijklm", "a-b_c.d@e1", "ABCDEFGH12"])
def test_8_to_13_half_width_letters_digits_and_the_four_symbols_are_accepted(database, settings, taro, user_id):
    assert submit(database, settings, taro, user_id) == Done()
    assert stored(database, row_id(database, user_id.lower()))[0][0] == user_id.lower()


@pytest.mark.parametrize("user_id, message", [("", EMPTY), ("   ", EMPTY), ("abcdefg", TOO_SHORT),
                                              ("abcdefghijklmn", TOO_LONG)])
def test_empty_too_short_and_too_long_each_say_so(app, database, settings, taro, user_id, message):
    page = submit(database, settings, taro, user_id)
    assert shown(app, page, "user_id") == [message]


def test_the_lengths_in_the_messages_follow_the_realms_policy(app, database, settings, taro):
    with database.session() as session:
        ctx = step_context(session, settings, taro, SetUserId)
        ctx.config = ctx.config.model_copy(update={"user_id_policy": ctx.config.user_id_policy.model_copy(
            update={"min_length": 10, "max_length": 12})})
        short = SetUserId().process(ctx, {"user_id": "abcdefghi", "second_factor": "totp"})
        long = SetUserId().process(ctx, {"user_id": "abcdefghijklm", "second_factor": "totp"})
        session.rollback()
    assert shown(app, short, "user_id") == ["ユーザーIDは10文字以上で入力してください。"]
    assert shown(app, long, "user_id") == ["ユーザーIDは12文字以内で入力してください。"]
    assert "半角英数字と記号 - _ . @ で、10文字以上12文字以内で入力してください。" in render(app, short)


@pytest.mark.parametrize("user_id, characters", [
    ("ａｂｃｄｅｆｇｈ", "「ａ」「ｂ」「ｃ」「ｄ」「ｅ」「ｆ」「ｇ」「ｈ」"),
    ("taro０１２３", "「０」「１」「２」「３」"),
    ("やまだたろう01", "「や」「ま」「だ」「た」「ろ」「う」"),
    ("taro\u3000yamada", "「全角スペース」"),
])
def test_full_width_characters_are_refused_with_a_request_for_half_width(app, database, settings, taro, user_id,
                                                                         characters):
    assert shown(app, submit(database, settings, taro, user_id), "user_id") == [full_width(characters)]


def test_each_forbidden_symbol_is_named_in_the_message(app, database, settings, taro):
    for char in "<>&\"'$%!#?§,;:*~/\\|^=[]{}()`+":
        page = submit(database, settings, taro, f"taro{char}0001")
        assert shown(app, page, "user_id") == [forbidden(f"「{char}」")], char


@pytest.mark.parametrize("whitespace, name", [(" ", "スペース"), ("\t", "タブ"), ("\n", "改行"), ("\r\n", "改行"),
                                              ("\v", "垂直タブ"), ("\x00", "制御文字")])
def test_spaces_tabs_and_newlines_are_named_because_they_cannot_be_seen(app, database, settings, taro, whitespace,
                                                                        name):
    page = submit(database, settings, taro, f"taro{whitespace}yamada")
    assert shown(app, page, "user_id") == [forbidden(f"「{name}」")]


def test_several_mistakes_are_all_reported_each_character_once(app, database, settings, taro):
    page = submit(database, settings, taro, "ta#ro#ｘ ")
    assert shown(app, page, "user_id") == [TOO_SHORT, full_width("「ｘ」"), forbidden("「#」")]


def test_an_id_another_member_uses_is_refused_whatever_its_case(app, database, settings, taro):
    steps.create_member(database, settings, "hanako01")
    member = row_id(database, taro)
    before = stored(database, member)
    page = submit(database, settings, taro, "Hanako01")
    assert shown(app, page, "user_id") == [TAKEN]
    assert page.values["user_id"] == "Hanako01" and page.values["second_factor"] == "totp"
    assert stored(database, member) == before


def test_the_member_object_keeps_its_id_after_a_refused_claim(database, settings, taro):
    steps.create_member(database, settings, "hanako01")
    with database.session() as session:
        ctx = step_context(session, settings, taro, SetUserId)
        SetUserId().process(ctx, {"user_id": "hanako01", "second_factor": "totp"})
        assert (ctx.user.username, ctx.user.second_factor, ctx.user.user_id_chosen_at) == ("taro0001", None, None)


@pytest.fixture
def racing_database(database_url, tmp_path):
    """A database of its own (SQLite, or PostgreSQL when configured) with the demo realm."""
    from idp.setup import prepare

    settings = make_settings(tmp_path, database_url=database_url)
    database = Database(database_url)
    database.upgrade()
    prepare(settings, database)
    yield database, settings
    database.dispose()


def test_two_members_racing_for_one_id_cannot_both_win(app, racing_database):
    """Hanako takes the ID after Taro's page was checked but before his write reaches the index.

    On PostgreSQL her commit lands inside Taro's transaction, just before his flush; SQLite
    lets one writer at a time in (BEGIN IMMEDIATE), so there her commit lands just before his
    transaction starts.
    """
    database, settings = racing_database
    steps.create_member(database, settings, "taro0001")
    steps.create_member(database, settings, "hanako01")
    taro = row_id(database, "taro0001")

    def hanako_takes_the_id():
        with database.session() as other:
            other.scalar(select(User).where(User.username == "hanako01")).username = "wanted2025"

    with database.session() as session:
        ctx = step_context(session, settings, "taro0001", SetUserId)
        if database.url.startswith("sqlite"):
            session.commit()
            hanako_takes_the_id()
        else:
            event.listen(session, "before_flush", lambda *_: hanako_takes_the_id(), once=True)
        page = SetUserId().process(ctx, {"user_id": "Wanted2025", "second_factor": "totp"})
        session.rollback()
    assert shown(app, page, "user_id") == [TAKEN]
    assert stored(database, taro)[0] == ("taro0001", None, None)
    assert row_id(database, "wanted2025") != taro


def test_passkey_is_refused_without_the_browsers_platform_authenticator_flag(app, database, settings, taro):
    member = row_id(database, taro)
    page = submit(database, settings, taro, "yamadataro", factor="passkey")
    assert shown(app, page, "second_factor") == [NO_PLATFORM]
    assert shown(app, page, "user_id") == []
    assert stored(database, member)[0] == ("taro0001", None, None)


def test_passkey_is_stored_when_the_browser_reports_a_platform_authenticator(database, settings, taro):
    assert submit(database, settings, taro, "yamadataro", factor="passkey", platform=True) == Done()
    assert stored(database, row_id(database, "yamadataro"))[0][2] == "passkey"


@pytest.mark.parametrize("factor", ["", "sms", "passkey"])
def test_a_missing_or_unoffered_factor_is_refused(app, database, settings, taro, factor):
    page = submit(database, settings, taro, "yamadataro", factor=factor, platform=True, offer=["totp", "email"])
    assert shown(app, page, "second_factor") == [NO_FACTOR]
    assert page.values["factors"] == ["totp", "email"]
    assert 'value="passkey"' not in render(app, page)


def test_a_bad_submission_changes_nothing(app, database, settings, taro):
    member = row_id(database, taro)
    before = stored(database, member)
    page = submit(database, settings, taro, "ta ro", factor="passkey")
    assert shown(app, page, "user_id") == [TOO_SHORT, forbidden("「スペース」")]
    assert shown(app, page, "second_factor") == [NO_PLATFORM]
    assert 'value="ta ro"' in render(app, page)
    assert stored(database, member) == before


def test_without_choose_second_factor_the_page_asks_for_the_id_only(app, database, settings, taro):
    with database.session() as session:
        page = SetUserId().challenge(step_context(session, settings, taro, SetUserId, choose_second_factor=False))
    text = render(app, page)
    assert "<h1>ユーザーIDの変更</h1>" in text and "認証方法" not in text
    assert submit(database, settings, taro, "yamadataro", factor="", choose_second_factor=False) == Done()
    assert stored(database, row_id(database, "yamadataro"))[0][2] is None


def test_a_member_who_already_has_an_authenticator_app_is_not_asked_again(database, settings, taro):
    with database.session() as session:
        session.add(Credential(user_id=row_id(database, taro), type="otp"))
    with database.session() as session:
        assert SetUserId().challenge(step_context(session, settings, taro, SetUserId)).values["factors"] == []
    assert submit(database, settings, taro, "yamadataro", factor="") == Done()
    assert stored(database, row_id(database, "yamadataro"))[0][2] is None


@pytest.mark.parametrize("offer", [[], ["totp", "totp"], ["sms"]])
def test_the_offer_option_must_name_each_known_factor_once(offer):
    with pytest.raises(ValidationError):
        SetUserId.Options(offer=offer)


def test_a_taken_id_and_a_refused_passkey_are_reported_together_and_change_nothing(app, database, settings, taro):
    steps.create_member(database, settings, "hanako01")
    member = row_id(database, taro)
    before = stored(database, member)
    with database.session() as session:
        ctx = step_context(session, settings, taro, SetUserId)
        page = SetUserId().process(ctx, {"user_id": "HANAKO01", "second_factor": "passkey"})
        assert ctx.user.username == "taro0001"
    assert shown(app, page, "user_id") == [TAKEN]
    assert shown(app, page, "second_factor") == [NO_PLATFORM]
    assert stored(database, member) == before


def test_a_free_id_with_a_refused_passkey_is_given_back(database, settings, taro):
    member = row_id(database, taro)
    with database.session() as session:
        ctx = step_context(session, settings, taro, SetUserId)
        page = SetUserId().process(ctx, {"user_id": "yamadataro", "second_factor": "passkey"})
        assert page.errors == {"second_factor": ["select_second_factor.error.no_platform_authenticator"]}
        assert ctx.user.username == "taro0001"
    assert stored(database, member)[0] == ("taro0001", None, None)
