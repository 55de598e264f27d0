"""select-second-factor (認証方法の設定): a member without a second factor picks one of the guide's
three; a passkey only when the browser reports a platform authenticator."""
from __future__ import annotations

import re

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from idp.actions.select_second_factor import SelectSecondFactor
from idp.db.models import Credential, User
from idp.flows.api import Done
from tests.support.steps import create_member, render, shown, step_context, stored, submit

NO_FACTOR = "認証方法を選択してください。"
NO_PLATFORM = ("この端末では生体認証を利用できません。"
               "ワンタイムパスワード (OTP) アプリ認証またはメール認証を選択してください。")
# 生体認証 as rendered: hidden and disabled until platform-authenticator.js says the device has one.
PASSKEY_WAITS = (r'<div id="passkey-choice" hidden>\s*<div class="choice checkbox">'
                 r'\s*<input[^>]*value="passkey" disabled>')


@pytest.fixture
def taro(database, settings):
    create_member(database, settings, "taro0001")
    return "taro0001"


def test_the_page_offers_the_three_choices_with_passkey_waiting_for_the_browser(app, database, settings, taro):
    with database.session() as session:
        page = SelectSecondFactor().challenge(step_context(session, settings, taro, SelectSecondFactor))
    text = render(app, page)
    assert "<h1>認証方法の設定</h1>" in text and "<legend>認証方法 *</legend>" in text
    labels = re.findall(r'<label for="second_factor-(\w+)">([^<]+)</label>', text)
    assert labels == [("passkey", "生体認証"), ("totp", "ワンタイムパスワード (OTP) アプリ認証"),
                      ("email", "ワンタイムパスワード (OTP) メール認証")]
    assert re.search(PASSKEY_WAITS, text)
    assert '<p class="hint" id="passkey-unavailable" hidden>' in text
    assert "js/platform-authenticator.js" in text


@pytest.mark.parametrize("factor", ["totp", "email"])
def test_an_otp_choice_is_stored_and_the_flow_continues(database, settings, taro, factor):
    assert submit(database, settings, taro, SelectSecondFactor, {"second_factor": factor}) == Done()
    assert stored(database, taro, "second_factor") == (factor, [
        ("CUSTOM_REQUIRED_ACTION", {"custom_required_action": "select-second-factor", "second_factor": factor})])


def test_passkey_is_stored_when_the_browser_reports_a_platform_authenticator(database, settings, taro):
    form = {"second_factor": "passkey", "platform_authenticator": "1"}
    assert submit(database, settings, taro, SelectSecondFactor, form) == Done()
    assert stored(database, taro, "second_factor")[0] == "passkey"


@pytest.mark.parametrize("flag", [None, "", "0", "true"])
def test_passkey_without_the_platform_flag_is_refused_and_changes_nothing(app, database, settings, taro, flag):
    form = {"second_factor": "passkey"} | ({"platform_authenticator": flag} if flag is not None else {})
    page = submit(database, settings, taro, SelectSecondFactor, form)
    assert shown(app, page, "second_factor") == [NO_PLATFORM]
    assert re.search(r'<input[^>]*value="passkey" checked disabled>', render(app, page))
    assert stored(database, taro, "second_factor") == (None, [])


@pytest.mark.parametrize("form", [{}, {"second_factor": ""}, {"second_factor": "sms"}])
def test_no_choice_or_an_unknown_one_is_refused_and_changes_nothing(app, database, settings, taro, form):
    page = submit(database, settings, taro, SelectSecondFactor, form)
    assert shown(app, page, "second_factor") == [NO_FACTOR]
    assert stored(database, taro, "second_factor") == (None, [])


def test_a_realm_may_offer_fewer_factors_and_the_others_are_refused(app, database, settings, taro):
    with database.session() as session:
        ctx = step_context(session, settings, taro, SelectSecondFactor, offer=["email", "totp"])
        page = SelectSecondFactor().challenge(ctx)
    text = render(app, page)
    assert re.findall(r'value="(\w+)"', text)[-2:] == ["email", "totp"]
    assert "passkey" not in text and "platform-authenticator" not in text
    form = {"second_factor": "passkey", "platform_authenticator": "1"}
    refused = submit(database, settings, taro, SelectSecondFactor, form, offer=["email", "totp"])
    assert shown(app, refused, "second_factor") == [NO_FACTOR]


@pytest.mark.parametrize("offer", [[], ["email", "email"], ["sms"], "totp"])
def test_the_offer_option_must_name_each_known_factor_once(offer):
    with pytest.raises(ValidationError):
        SelectSecondFactor.Options(offer=offer)


def test_the_step_is_needed_only_while_the_member_has_no_second_factor(database, settings, taro):
    with database.session() as session:
        assert SelectSecondFactor().needed(step_context(session, settings, taro, SelectSecondFactor))
    submit(database, settings, taro, SelectSecondFactor, {"second_factor": "email"})
    with database.session() as session:
        assert not SelectSecondFactor().needed(step_context(session, settings, taro, SelectSecondFactor))


@pytest.mark.parametrize("kind", ["otp", "webauthn"])
def test_a_member_with_an_authenticator_set_up_is_not_asked(database, settings, taro, kind):
    with database.session() as session:
        user = session.scalar(select(User).where(User.username == taro))
        session.add(Credential(user_id=user.id, type=kind))
    with database.session() as session:
        assert not SelectSecondFactor().needed(step_context(session, settings, taro, SelectSecondFactor))
