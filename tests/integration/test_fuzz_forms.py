"""Every form of the sign-in steps and the account pages, filled in by hypothesis with arbitrary
text, odd Unicode, over-long values, missing and repeated fields: the member never gets a server
error, a refused submission changes no stored row, and what a step accepts keeps its rules.

Each example is a new member in a new browser, signed in and looking at the step, on SQLite and
(when configured) PostgreSQL.
"""
from __future__ import annotations

import json
import re
import unicodedata
from datetime import date
from html import unescape

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from idp.actions.email_rules import is_valid_email
from idp.actions.set_user_id import user_id_mistakes
from idp.db.models import Credential, TermsAcceptance, User
from idp.db.users import check_password, normalize_email
from idp.realms import find_realm, realm_config
from tests.support.fuzz import (
    PASSWORD,
    AtStep,
    Stage,
    assert_answered,
    assert_unchanged,
    filled,
    form,
    fuzz,
    json_values,
    nasty_text,
    passkey_options,
    plausible,
    value_of,
)
from tests.support.passkeys import SoftAuthenticator
from tests.support.sign_in import REALM_PATH, hidden_value

ACCOUNT = f"{REALM_PATH}/account"
BIRTHDATE = date(1980, 4, 1)
FIRST_SIGN_IN_DONE = dict(birthdate=BIRTHDATE, email_verified=True)


def submit_fuzzed(stage: Stage, visit, submission) -> tuple[bool, object]:
    """Send `submission` at the step: no server error; when the step did not move on, not a row
    changed. Returns whether it moved on, and the response."""
    before = stage.snapshot()
    response = visit.send(submission)
    assert_answered(response, dict(submission.lists()))
    after = stage.snapshot()
    moved_on = visit.now_at() != visit.token
    if not moved_on:
        assert_unchanged(before, after, dict(submission.lists()))
    return moved_on, response


def stored_member(stage: Stage, user_id: str) -> User:
    with stage.database.session() as session:
        user = session.get(User, user_id)
        session.expunge(user)
        return user


# --- the sign-in page ------------------------------------------------------------------------

@fuzz(examples=15)
@given(data=st.data())
def test_the_sign_in_page_refuses_anything_but_the_members_password(stage_on, data):
    stage = stage_on("  - action: accept-terms\n")
    member = stage.member(birthdate=BIRTHDATE)
    submission = data.draw(form({
        "username": value_of(plausible(member.username, member.username.upper(), f" {member.username} ",
                                       member.email)),
        "password": value_of(plausible(PASSWORD, PASSWORD.lower(), PASSWORD + "\x00")),
        "remember_me": value_of(plausible("y", "on")),
    }))
    visit = stage.sign_in_page()
    moved_on, _ = submit_fuzzed(stage, visit, submission)
    if moved_on:
        assert submission.get("password") == PASSWORD


# --- 生年月日の入力 -----------------------------------------------------------------------------

@fuzz(examples=15)
@given(data=st.data())
def test_the_birthdate_step_accepts_only_the_members_date(stage_on, data):
    stage = stage_on("  - action: verify-birthdate\n")
    member = stage.member(birthdate=BIRTHDATE)
    submission = data.draw(form({
        "year": value_of(plausible("1980", "１９８０", " 1980 ", "0", "99999")),
        "month": value_of(plausible("4", "04", "４", "13")),
        "day": value_of(plausible("1", "01", "１", "31")),
    }))
    visit = stage.at_step(member, "生年月日の入力")
    moved_on, _ = submit_fuzzed(stage, visit, submission)
    if moved_on:
        assert stored_member(stage, member.id).birthdate_verified_at is not None
        typed = [int(unicodedata.normalize("NFKC", submission.get(part)).strip()) for part in ("year", "month", "day")]
        assert date(*typed) == BIRTHDATE


# --- 利用規約 -----------------------------------------------------------------------------------

@fuzz(examples=12)
@given(data=st.data())
def test_the_terms_are_accepted_only_with_agree_and_the_shown_version(stage_on, data):
    stage = stage_on("  - action: accept-terms\n")
    member = stage.member(**FIRST_SIGN_IN_DONE)
    with stage.database.session() as session:
        version = realm_config(find_realm(session, "kosmo-demo")).terms.version
    submission = data.draw(form({
        "decision": value_of(plausible("agree", "decline", "AGREE")),
        "terms_version": value_of(plausible(version, version + " ")),
    }))
    visit = stage.at_step(member, "利用規約")
    moved_on, _ = submit_fuzzed(stage, visit, submission)
    if moved_on:
        assert (submission.get("decision"), submission.get("terms_version")) == ("agree", version)
        with stage.database.session() as session:
            assert session.scalars(select(TermsAcceptance.version).where(
                TermsAcceptance.user_id == member.id)).all() == [version]


# --- メールアドレスの更新 -------------------------------------------------------------------------

@fuzz(examples=20)
@given(data=st.data())
def test_the_email_step_stores_only_valid_addresses(stage_on, data):
    stage = stage_on("  - action: update-email\n")
    taken = stage.member(**FIRST_SIGN_IN_DONE)
    member = stage.member(**FIRST_SIGN_IN_DONE)
    submission = data.draw(form({"email": value_of(plausible(
        "hanako@example.jp", " Hanako@Example.JP ", taken.email, taken.email.upper(), member.email,
        "hanako.@example.jp", "hanako@example", "a" * 250 + "@x.jp", "hanako＠example.jp", "はなこ@example.jp"))}))
    visit = stage.at_step(member, "メールアドレスの更新")
    moved_on, _ = submit_fuzzed(stage, visit, submission)
    if moved_on:
        stored = stored_member(stage, member.id).email
        assert stored == normalize_email(submission.get("email"))
        assert is_valid_email(stored) and stored != taken.email


# --- メール認証 ---------------------------------------------------------------------------------

@fuzz(examples=8)
@given(data=st.data())
def test_the_verify_email_page_waits_for_the_link_whatever_is_pressed(stage_on, data):
    stage = stage_on("  - action: verify-email\n")
    member = stage.member(birthdate=BIRTHDATE)
    submission = data.draw(form({"action": value_of(plausible("resend", "continue"))}))
    visit = stage.at_step(member, "メール認証")
    moved_on, _ = submit_fuzzed(stage, visit, submission)
    assert not moved_on


# --- ユーザーIDの変更・認証方法の設定 -----------------------------------------------------------

FACTORS = plausible("passkey", "totp", "email", "TOTP", "sms")


@fuzz(examples=20)
@given(data=st.data())
def test_the_user_id_step_stores_only_ids_the_policy_allows(stage_on, data):
    stage = stage_on("  - action: set-user-id\n")
    taken = stage.member(**FIRST_SIGN_IN_DONE)
    member = stage.member(**FIRST_SIGN_IN_DONE)
    submission = data.draw(form({
        "user_id": value_of(plausible("Hanako-2026", "hanako_2026@", taken.username, taken.username.upper(),
                                      member.username, "ｈａｎａｋｏ２０２６", "hanako 2026", "短い", "a" * 14)),
        "second_factor": value_of(FACTORS),
        "platform_authenticator": value_of(plausible("1", "0")),
    }))
    visit = stage.at_step(member, "ユーザーIDの変更・認証方法の設定")
    moved_on, _ = submit_fuzzed(stage, visit, submission)
    if moved_on:
        stored = stored_member(stage, member.id)
        with stage.database.session() as session:
            policy = realm_config(find_realm(session, "kosmo-demo")).user_id_policy
        assert stored.username == submission.get("user_id").strip().lower() != taken.username
        assert not user_id_mistakes(stored.username, policy).keys
        assert stored.second_factor == submission.get("second_factor") in ("totp", "email", "passkey")


# --- 認証方法の設定 -----------------------------------------------------------------------------

@fuzz(examples=10)
@given(data=st.data())
def test_the_factor_choice_stores_only_an_offered_factor(stage_on, data):
    stage = stage_on("  - action: select-second-factor\n")
    member = stage.member(**FIRST_SIGN_IN_DONE)
    submission = data.draw(form({"second_factor": value_of(FACTORS),
                                 "platform_authenticator": value_of(plausible("1"))}))
    visit = stage.at_step(member)
    moved_on, _ = submit_fuzzed(stage, visit, submission)
    if moved_on:
        assert stored_member(stage, member.id).second_factor == submission.get("second_factor")


# --- パスワード更新 -----------------------------------------------------------------------------

@fuzz(examples=15)
@given(data=st.data())
def test_the_new_password_is_stored_only_when_the_policy_and_confirmation_agree(stage_on, data):
    stage = stage_on("  - action: update-password\n")
    member = stage.member(temporary=True, **FIRST_SIGN_IN_DONE)
    new_password = data.draw(value_of(plausible("Sakura_2026-spring", "short", "パスワード2026abc",
                                                member.username, PASSWORD)))
    submission = data.draw(form({"password": st.just(new_password),
                                 "password_confirm": value_of(st.just(new_password))}))
    visit = stage.at_step(member, "パスワード更新")
    moved_on, _ = submit_fuzzed(stage, visit, submission)
    if moved_on:
        assert submission.get("password") == submission.get("password_confirm")
        with stage.database.session() as session:
            user = session.get(User, member.id)
            assert check_password(session, user, submission.get("password"), stage.settings)


# --- ワンタイムパスワードの設定 (an authenticator app) ---------------------------------------------

@fuzz(examples=12)
@given(data=st.data())
def test_an_app_is_stored_only_with_its_code_and_a_usable_name(stage_on, data):
    stage = stage_on("  - action: configure-totp\n")
    member = stage.member(**FIRST_SIGN_IN_DONE)
    stage.add_app(member, "iPhone")
    visit = stage.at_step(member, "ワンタイムパスワードの設定")
    secret = hidden_data(visit.page, "data-copy")
    submission = filled(data.draw(form({
        "totp": value_of(plausible("{code}", "{code} ", "000000", "１２３４５６")),
        "userLabel": value_of(plausible("Android", "iPhone", " iPhone ", "a" * 255, "a" * 256)),
        "logout-sessions": value_of(plausible("on")),
    })), code=pyotp.TOTP(secret).now())
    moved_on, _ = submit_fuzzed(stage, visit, submission)
    if moved_on:
        labels = app_labels(stage, member.id)
        assert sorted(labels) == sorted(["iPhone", submission.get("userLabel").strip()])
        assert 0 < len(labels[-1]) <= 255


@fuzz(examples=12)
@given(data=st.data())
def test_the_apps_code_at_sign_in_is_the_only_way_past_it(stage_on, data):
    stage = stage_on("  - authenticate: otp\n")
    member = stage.member(**FIRST_SIGN_IN_DONE)
    device, secret = stage.add_app(member)
    code = pyotp.TOTP(secret).now()
    submission = filled(data.draw(form({"otp": value_of(plausible("{code}", " {code}", "123456")),
                                        "device": value_of(plausible("{device}"))})), code=code, device=device)
    visit = stage.at_step(member)
    moved_on, _ = submit_fuzzed(stage, visit, submission)
    if moved_on:
        assert unicodedata.normalize("NFKC", submission.get("otp")).strip() == code


# --- ワンタイムパスワード (OTP) メール認証 -------------------------------------------------------

@fuzz(examples=12)
@given(data=st.data())
def test_the_mailed_code_is_the_only_way_past_the_email_step(stage_on, data):
    stage = stage_on("  - authenticate: email-code\n")
    member = stage.member(second_factor="email", **FIRST_SIGN_IN_DONE)
    visit = stage.at_step(member, "ワンタイムパスワード (OTP) メール認証")
    code = stage.mailed_code(member.email)
    submission = filled(data.draw(form({"code": value_of(plausible("{code}", "{code}\u3000", "000000")),
                                        "action": value_of(plausible("resend", "verify"))})), code=code)
    moved_on, _ = submit_fuzzed(stage, visit, submission)
    if moved_on:
        assert submission.get("action") != "resend" and code in "".join(submission.get("code").split())


# --- 別の方法を試す ------------------------------------------------------------------------------

@fuzz(examples=12)
@given(data=st.data())
def test_choosing_another_factor_accepts_only_the_members_own(stage_on, data):
    stage = stage_on("  - authenticate: second-factor\n")
    member = stage.member(second_factor="totp", attributes={"email_code_enabled": True}, **FIRST_SIGN_IN_DONE)
    stage.add_app(member)
    visit = stage.at_step(member)
    submission = data.draw(form({"try_another": value_of(plausible("1")),
                                 "factor": value_of(plausible("email-code", "otp", "passkey", "password"))}))
    moved_on, response = submit_fuzzed(stage, visit, submission)
    assert not moved_on  # choosing a factor only shows its page


# --- 生体認証 (passkeys) -------------------------------------------------------------------------

REGISTRATION = st.fixed_dictionaries({
    "id": json_values(), "rawId": json_values(), "type": value_of(plausible("public-key")),
    "response": st.one_of(json_values(), st.fixed_dictionaries({"clientDataJSON": json_values(),
                                                                "attestationObject": json_values()})),
}).map(json.dumps)
CEREMONY = {
    "credential": st.one_of(REGISTRATION, json_values().map(json.dumps), nasty_text(), plausible("{real}")),
    "webauthn_error": value_of(plausible("NotAllowedError", "InvalidStateError")),
    "retry": value_of(plausible("1")), "sign_out_everywhere": value_of(plausible("on")),
}


def at_passkey_registration(stage_on):
    """A member at セキュリティの設定, and what their phone answers to the page's options."""
    stage = stage_on("  - action: webauthn-register\n")
    member = stage.member(**FIRST_SIGN_IN_DONE)
    visit = stage.at_step(member, "セキュリティの設定")
    return stage, member, visit, SoftAuthenticator().create(passkey_options(visit.page))


@fuzz(examples=15)
@given(data=st.data())
def test_a_passkey_registration_answer_of_any_shape_is_refused_unless_real(stage_on, data):
    stage, member, visit, real = at_passkey_registration(stage_on)
    submission = filled(data.draw(form(CEREMONY)), real=real)
    moved_on, _ = submit_fuzzed(stage, visit, submission)
    assert not moved_on  # even a real answer only leads to the label screen
    assert app_labels(stage, member.id, "webauthn") == []


@fuzz(examples=12)
@given(data=st.data())
def test_a_new_passkey_is_stored_only_with_a_usable_name(stage_on, data):
    stage, member, visit, answer = at_passkey_registration(stage_on)
    label_page = visit.send(MultiDict({"credential": answer}))
    visit = AtStep(visit.client, label_page.get_data(as_text=True))
    submission = data.draw(form({"label": value_of(plausible("パスキー", " 私のiPhone ", "a" * 255, "a" * 256))}))
    moved_on, _ = submit_fuzzed(stage, visit, submission)
    if moved_on:
        assert app_labels(stage, member.id, "webauthn") == [submission.get("label").strip()]
        assert 0 < len(submission.get("label").strip()) <= 255


@fuzz(examples=12)
@given(data=st.data())
def test_a_passkey_sign_in_answer_of_any_shape_is_refused_unless_real(stage_on, data):
    stage = stage_on("  - authenticate: passkey\n")
    member = stage.member(**FIRST_SIGN_IN_DONE)
    authenticator = SoftAuthenticator()
    stage.add_passkey(member, authenticator)
    visit = stage.at_step(member)
    real = authenticator.get(passkey_options(visit.page))
    assertion = st.fixed_dictionaries({"id": json_values(), "rawId": json_values(), "type": json_values(),
                                       "response": json_values()}).map(json.dumps)
    submission = filled(data.draw(form({**CEREMONY, "credential": st.one_of(
        assertion, json_values().map(json.dumps), nasty_text(), plausible("{real}"))})), real=real)
    moved_on, _ = submit_fuzzed(stage, visit, submission)
    if moved_on:
        assert submission.get("credential") == real and not submission.get("webauthn_error")


@fuzz(examples=12)
@given(data=st.data())
def test_the_sign_in_page_with_passkeys_refuses_anything_but_a_member(stage_on, data):
    stage = stage_on(first_step="  - authenticate: passkey-login\n", steps="  - action: accept-terms\n",
                     realm={"webauthn": {"passkey_first_factor": True}})
    member = stage.member(birthdate=BIRTHDATE)
    visit = stage.sign_in_page()
    submission = data.draw(form({**CEREMONY, "username": value_of(plausible(member.username)),
                                 "password": value_of(plausible(PASSWORD))}))
    moved_on, _ = submit_fuzzed(stage, visit, filled(submission, real="{}"))
    if moved_on:
        assert submission.get("password") == PASSWORD


# --- the account pages' forms ----------------------------------------------------------------

@fuzz(examples=15)
@given(data=st.data())
def test_renaming_a_factor_keeps_only_usable_distinct_names(stage_on, data):
    stage = stage_on()
    member = stage.member(second_factor="totp", **FIRST_SIGN_IN_DONE)
    app, _ = stage.add_app(member, "iPhone")
    stage.add_app(member, "Android")
    browser = stage.signed_in(member)
    page = browser.get(f"{ACCOUNT}/security/{app}/rename").get_data(as_text=True)
    submission = data.draw(form({"label": value_of(plausible("Android", " Pixel ", "iPhone", "a" * 256)),
                                 "csrf_token": st.one_of(st.just(hidden_value(page, "csrf_token")), nasty_text())}))
    response = stage.refused(lambda: browser.post(f"{ACCOUNT}/security/{app}/rename", data=submission),
                             dict(submission.lists())) if not _may_rename(submission, page) else \
        browser.post(f"{ACCOUNT}/security/{app}/rename", data=submission)
    assert_answered(response, dict(submission.lists()))
    if response.status_code == 303:
        assert sorted(app_labels(stage, member.id)) == sorted(["Android", submission.get("label").strip()])


def _may_rename(submission: MultiDict, page: str) -> bool:
    label = (submission.get("label") or "").strip()
    return (submission.get("csrf_token") == hidden_value(page, "csrf_token")
            and 0 < len(label) <= 255 and label != "Android")


@fuzz(examples=10)
@given(data=st.data())
def test_the_preferred_factor_is_only_one_the_member_has(stage_on, data):
    stage = stage_on()
    member = stage.member(second_factor="totp", **FIRST_SIGN_IN_DONE)
    stage.add_app(member)
    browser = stage.signed_in(member)
    page = browser.get(f"{ACCOUNT}/security").get_data(as_text=True)
    submission = data.draw(form({"second_factor": value_of(plausible("totp", "passkey", "email", "otp")),
                                 "csrf_token": st.just(hidden_value(page, "csrf_token"))}))
    stage.refused(lambda: browser.post(f"{ACCOUNT}/security/preferred", data=submission), dict(submission.lists()))
    assert stored_member(stage, member.id).second_factor == "totp"


def hidden_data(page: str, attribute: str) -> str:
    return unescape(re.search(rf'{attribute}="([^"]*)"', page).group(1))


def app_labels(stage: Stage, user_id: str, kind: str = "otp") -> list[str]:
    with stage.database.session() as session:
        return list(session.scalars(select(Credential.user_label).where(Credential.user_id == user_id,
                                                                         Credential.type == kind)
                                    .order_by(Credential.created_at)))


# --- パスワードを忘れた方 / ユーザIDを忘れた方 ---------------------------------------------------

@fuzz(examples=12)
@given(data=st.data())
def test_asking_for_a_password_reset_link_changes_no_row_whatever_is_typed(stage_on, data):
    stage = stage_on()
    member = stage.member(**FIRST_SIGN_IN_DONE)
    visit = recovery_page(stage, "reset-credentials")
    submission = data.draw(form({"username": value_of(plausible(member.username, member.email, "nobody-01"))}))
    stage.refused(lambda: visit.send(submission), dict(submission.lists()))  # a mailed link is TTL state only


@fuzz(examples=12)
@given(data=st.data())
def test_asking_for_the_user_id_by_mail_changes_no_row_whatever_is_typed(stage_on, data):
    stage = stage_on()
    member = stage.member(**FIRST_SIGN_IN_DONE)
    visit = recovery_page(stage, "forgot-user-id")
    submission = data.draw(form({
        "email": value_of(plausible(member.email, member.email.upper(), "nobody@example.jp")),
        "year": value_of(plausible("1980", "１９８０")), "month": value_of(plausible("4", "04")),
        "day": value_of(plausible("1", "１"))}))
    stage.refused(lambda: visit.send(submission), dict(submission.lists()))


def recovery_page(stage: Stage, page: str) -> AtStep:
    """The first page of a recovery flow, reached from the sign-in page's link."""
    browser = stage.browser()
    response = browser.get(f"{REALM_PATH}/login-actions/{page}?client_id=kosmo-portal")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return AtStep(browser, response.get_data(as_text=True))


@pytest.mark.parametrize("year", ["9" * 40, "1" * 10_000])
def test_a_year_of_many_digits_is_no_such_date_at_the_birthdate_step_and_the_user_id_page(stage_on, year):
    """date() overflowed past a C int and int() refuses over 4300 digits: both were 500s."""
    stage = stage_on("  - action: verify-birthdate\n")
    member = stage.member(birthdate=BIRTHDATE)
    for visit, fields in ((stage.at_step(member, "生年月日の入力"), {}),
                          (recovery_page(stage, "forgot-user-id"), {"email": member.email})):
        submission = MultiDict({"year": year, "month": "4", "day": "1", **fields})
        response = stage.refused(lambda visit=visit, submission=submission: visit.send(submission), year[:10])
        assert response.status_code in (200, 400)
        assert "存在しない日付です" in response.get_data(as_text=True)


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def test_an_apps_code_in_full_width_digits_sets_the_app_up(stage_on):
    """compare_digest refused the non-ASCII text with a TypeError (a 500); a Japanese keyboard
    types full-width digits, which the mailed code already forgives."""
    stage = stage_on("  - action: configure-totp\n")
    member = stage.member(**FIRST_SIGN_IN_DONE)
    visit = stage.at_step(member, "ワンタイムパスワードの設定")
    code = pyotp.TOTP(hidden_data(visit.page, "data-copy")).now()
    moved_on, _ = submit_fuzzed(stage, visit, MultiDict({"totp": code.translate(FULL_WIDTH), "userLabel": "iPhone"}))
    assert moved_on and app_labels(stage, member.id) == ["iPhone"]


def test_an_apps_code_in_full_width_digits_signs_in(stage_on):
    stage = stage_on("  - authenticate: otp\n")
    member = stage.member(**FIRST_SIGN_IN_DONE)
    _, secret = stage.add_app(member)
    visit = stage.at_step(member)
    moved_on, _ = submit_fuzzed(stage, visit, MultiDict({"otp": pyotp.TOTP(secret).now().translate(FULL_WIDTH)}))
    assert moved_on


@pytest.mark.parametrize("answer", ["null", "[]", "5", '"public-key"'])
def test_a_passkey_answer_that_is_no_json_object_is_refused_at_both_passkey_sign_ins(stage_on, answer):
    """fido2 read `null` as no answer at all, which failed outside the checks (a 500)."""
    stage = stage_on("  - authenticate: passkey\n")
    member = stage.member(**FIRST_SIGN_IN_DONE)
    stage.add_passkey(member, SoftAuthenticator())
    visit = stage.at_step(member)
    moved_on, response = submit_fuzzed(stage, visit, MultiDict({"credential": answer}))
    assert not moved_on and "再試行してください" in response.get_data(as_text=True)

    stage = stage_on(first_step="  - authenticate: passkey-login\n", realm={"webauthn": {"passkey_first_factor": True}})
    visit = stage.sign_in_page()
    moved_on, response = submit_fuzzed(stage, visit, MultiDict({"credential": answer}))
    assert not moved_on and response.status_code == 400


def test_a_registration_answer_with_an_empty_attestation_is_refused(stage_on):
    """fido2's CBOR decoder raised IndexError on it, which the ceremony's checks did not expect (a 500)."""
    stage, member, visit, _ = at_passkey_registration(stage_on)
    answer = json.dumps({"id": "a" * 64, "rawId": "a" * 64, "type": "public-key",
                         "response": {"clientDataJSON": None, "attestationObject": []}})
    moved_on, response = submit_fuzzed(stage, visit, MultiDict({"credential": answer}))
    assert not moved_on and "再試行してください" in response.get_data(as_text=True)
    assert app_labels(stage, member.id, "webauthn") == []
