"""Every form of the sign-in steps and the account pages, filled in by hypothesis with arbitrary
text, odd Unicode, over-long values, missing and repeated fields: the member never gets a server
error, a refused submission changes no stored row, and what a step accepts keeps its rules.

Each example is a new member in a new browser, signed in and looking at the step, on SQLite and
(when configured) PostgreSQL.
"""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import select

from fuzz_support import (  # noqa: F401 - stage_on is a fixture
    PASSWORD, Stage, assert_answered, assert_unchanged, form, fuzz, plausible, stage_on, value_of,
)
from idp.actions.email_rules import is_valid_email
from idp.actions.set_user_id import user_id_mistakes
from idp.db.models import TermsAcceptance, User
from idp.db.users import check_password, normalize_email
from idp.realms import find_realm, realm_config

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
        import unicodedata
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
