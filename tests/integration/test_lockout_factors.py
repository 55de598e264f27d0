"""Brute-force detection on every factor after the password: an authenticator app's code, a
mailed code and the date of birth. Wrong answers lock the member as wrong passwords do; during
the lock even the right answer is refused, in the words the sign-in page uses for any locked
user ID, known or not; when the wait is over it works. A permanent lockout started at a second
factor disables the member until an operator unlocks them."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from idp.authenticators.totp import code_at
from idp.db.models import Credential, User
from tests.support.cli import cli
from tests.support.factors import member_with_app_and_email_codes
from tests.support.lockout import LOCKED, Tab, brute_force, enabled, events
from tests.support.mail import MailCatcher, text_part
from tests.support.settings import make_settings
from tests.support.sign_in import add_member, authorize, form_action, pkce_pair, redirect_params, submit_sign_in

APP_SECRET = b"12345678901234567890"
ADDRESS = "hanako-01@example.jp"
FLOWS = {
    "password-then-mail": "  - authenticate: email-code\n",
    # The step's own lock (20 wrong dates) is left far behind the realm's (10 failures).
    "password-then-birthdate": "  - action: verify-birthdate\n    with: {max_attempts: 20}\n",
    "password-then-own-factor": "  - authenticate: second-factor\n",
}


@pytest.fixture(scope="module")
def catcher():
    with MailCatcher() as catcher:
        yield catcher


@pytest.fixture
def flow() -> str | None:
    """Keycloak's browser flow (password, then the app) unless a test parametrizes one of FLOWS."""
    return None


@pytest.fixture
def settings(tmp_path, catcher, flow):
    if flow is None:
        return make_settings(tmp_path, mail_url=catcher.url)
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / f"{flow}.yaml").write_text(f"flow: {flow}\nsteps:\n  - authenticate: password\n{FLOWS[flow]}")
    return make_settings(tmp_path, browser_flow=flow, flows_dir=flows, mail_url=catcher.url)


def signed_in_with_password(client, clock) -> Tab:
    """A new sign-in in `client`, past the password: the tab now shows the next factor."""
    clock.tick()
    page = authorize(client, pkce_pair()[1]).get_data(as_text=True)
    return Tab(client, clock, submit_sign_in(client, page))


# -- the authenticator app ---------------------------------------------------------------------

@pytest.fixture
def app_member(database, settings):
    user_id = add_member(database, settings)
    with database.session() as session:
        member = session.get(User, user_id)
        member.credentials.append(Credential(
            type="otp", user_label="スマートフォン", secret_data={"value": APP_SECRET.decode()},
            credential_data={"subType": "totp", "digits": 6, "period": 30, "counter": 0, "algorithm": "HmacSHA1"}))
    return user_id


def app_code(clock, steps_away: int = 0) -> str:
    return code_at(APP_SECRET, int(clock.now.timestamp() // 30) + steps_away)


def wrong_app_code(clock) -> str:
    return app_code(clock, steps_away=10)


def test_ten_wrong_app_codes_lock_the_member_until_the_wait_is_over(app, client, clock, app_member, database):
    tab = signed_in_with_password(client, clock)
    for _ in range(10):
        tab.post(otp=wrong_app_code(clock))
        assert tab.says("認証コードが異なります")

    refused = tab.post(otp=app_code(clock))
    assert refused.status_code == 401 and tab.says(LOCKED) and not tab.says("認証コードが異なります")
    [locked] = events(database, "USER_LOCKED")
    assert (locked.user_id, locked.details["factor"], locked.details["num_failures"]) == (app_member, "otp", 10)
    assert events(database, "LOGIN_ERROR")[-1].error == "user_temporarily_disabled"
    other_browser = app.test_client()
    assert signed_in_with_password(other_browser, clock).says(LOCKED)  # the member, not the factor, is locked

    clock.tick(seconds=61)
    assert redirect_params(tab.post(otp=app_code(clock)))["code"]


def test_a_reload_during_the_lock_already_says_so(client, clock, app_member):
    tab = signed_in_with_password(client, clock)
    for _ in range(10):
        tab.post(otp=wrong_app_code(clock))

    reloaded = Tab(client, clock, client.get(form_action(tab.page)))
    assert reloaded.says(LOCKED) and reloaded.says('name="otp"')


def test_the_password_alone_does_not_clear_guesses_at_the_app(client, clock, app_member):
    for _ in range(3):
        tab = signed_in_with_password(client, clock)  # the right password each time
        for _ in range(3):
            tab.post(otp=wrong_app_code(clock))
    tab = signed_in_with_password(client, clock)
    tab.post(otp=wrong_app_code(clock))

    assert tab.post(otp=app_code(clock)).status_code == 401 and tab.says(LOCKED)


def test_a_completed_sign_in_clears_the_failures(app, client, clock, app_member):
    tab = signed_in_with_password(client, clock)
    for _ in range(9):
        tab.post(otp=wrong_app_code(clock))
    assert redirect_params(tab.post(otp=app_code(clock)))["code"]

    clock.tick(seconds=30)  # the next time step: a new code
    tab = signed_in_with_password(app.test_client(), clock)
    tab.post(otp=wrong_app_code(clock))
    assert redirect_params(tab.post(otp=app_code(clock)))["code"]


def test_permanent_lockout_at_the_app_disables_the_member_until_unlocked(client, clock, app_member, database,
                                                                         settings):
    brute_force(database, permanent_lockout=True, failure_factor=3)
    tab = signed_in_with_password(client, clock)
    for _ in range(3):
        tab.post(otp=wrong_app_code(clock))

    assert not enabled(database)
    [disabled] = events(database, "USER_DISABLED_BY_PERMANENT_LOCKOUT")
    assert (disabled.user_id, disabled.details["reason"]) == (app_member, "brute_force_attack detected")
    clock.tick(days=7)
    assert tab.post(otp=app_code(clock)).status_code == 401 and tab.says(LOCKED)
    assert events(database, "LOGIN_ERROR")[-1].error == "user_disabled"

    result = cli(settings)("user", "unlock", "--realm", "kosmo-demo", "hanako-01")
    assert result.exit_code == 0 and enabled(database)
    tab = signed_in_with_password(client, clock)
    assert redirect_params(tab.post(otp=app_code(clock)))["code"]


# -- the mailed code ---------------------------------------------------------------------------

@pytest.fixture
def mail_member(database, settings, catcher):
    catcher.messages.clear()
    return add_member(database, settings, email=ADDRESS, email_verified=True)


def newest_code(catcher, address: str = ADDRESS) -> str:
    return re.search(r"^(\d{6})$", text_part(catcher.wait_for_mail(address)), re.M)[1]


@pytest.mark.parametrize("flow", ["password-then-mail"])
def test_wrong_mailed_codes_lock_the_member_and_no_code_is_mailed_meanwhile(client, clock, mail_member, catcher,
                                                                           database):
    brute_force(database, failure_factor=3)
    tab = signed_in_with_password(client, clock)
    code = newest_code(catcher)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(3):
        tab.post(action="verify", code=wrong)
        assert tab.says("ワンタイムパスワードが正しくありません。")

    refused = tab.post(action="verify", code=code)
    assert refused.status_code == 401 and tab.says(LOCKED)
    clock.tick(seconds=30)
    tab.post(action="resend")
    assert tab.says(LOCKED) and len([m for m in catcher.messages if m["To"] == ADDRESS]) == 1
    [locked] = events(database, "USER_LOCKED")
    assert (locked.user_id, locked.details["factor"]) == (mail_member, "email-code")

    clock.tick(seconds=31)
    assert redirect_params(tab.post(action="verify", code=code))["code"]


# -- the member's own factor, and 別の方法を試す -------------------------------------------------

@pytest.mark.parametrize("flow", ["password-then-own-factor"])
def test_another_factor_during_the_lock_is_refused_too_and_mails_no_code(client, clock, database, settings,
                                                                        catcher):
    catcher.messages.clear()
    member_with_app_and_email_codes(database, settings)
    tab = signed_in_with_password(client, clock)
    for _ in range(10):
        tab.post(otp=wrong_app_code(clock))

    tab.post(try_another="1")
    tab.post(factor="email-code")
    assert tab.says("メール認証") and tab.says(LOCKED)
    tab.post(action="verify", code="123456")
    assert tab.response.status_code == 401 and tab.says(LOCKED)
    assert catcher.messages == []

    clock.tick(seconds=61)
    reloaded = Tab(client, clock, client.get(form_action(tab.page)))
    assert not reloaded.says(LOCKED)
    assert redirect_params(reloaded.post(action="verify", code=newest_code(catcher, "hanako@example.jp")))["code"]


# -- the date of birth -------------------------------------------------------------------------

@pytest.fixture
def first_timer(database, settings):
    return add_member(database, settings, birthdate=date(1985, 4, 1))


def dates(tab, year="1985", month="4", day="2"):
    return tab.post(year=year, month=month, day=day)


@pytest.mark.parametrize("flow", ["password-then-birthdate"])
def test_wrong_dates_of_birth_lock_the_member_as_wrong_passwords_do(app, client, clock, first_timer, database):
    tab = signed_in_with_password(client, clock)
    for _ in range(9):
        dates(tab)
        assert tab.says("生年月日が一致しません。")
    dates(tab)
    assert tab.says(LOCKED) and not tab.says("生年月日が一致しません。")

    assert dates(tab, day="1").status_code == 200 and tab.says(LOCKED)
    with database.session() as session:
        assert session.get(User, first_timer).birthdate_verified_at is None
    assert [e.error for e in events(database, "VERIFY_BIRTHDATE_ERROR")][-1] == "user_temporarily_disabled"
    [locked] = events(database, "USER_LOCKED")
    assert (locked.user_id, locked.details["factor"]) == (first_timer, "birthdate")
    assert signed_in_with_password(app.test_client(), clock).says(LOCKED)

    clock.tick(seconds=61)
    assert redirect_params(dates(tab, day="1"))["code"]


@pytest.mark.parametrize("flow", ["password-then-birthdate"])
def test_the_lock_of_the_date_of_birth_holds_for_a_new_sign_in_too(client, clock, first_timer, database):
    brute_force(database, failure_factor=2, wait_increment_seconds=600)
    tab = signed_in_with_password(client, clock)
    dates(tab)
    dates(tab)
    clock.tick(seconds=300)

    refused = signed_in_with_password(client, clock)
    assert refused.response.status_code == 401 and refused.says(LOCKED)
    with database.session() as session:
        member = session.scalar(select(User).where(User.id == first_timer))
        assert member.enabled and member.birthdate_verified_at is None


@pytest.mark.parametrize("flow", ["password-then-birthdate"])
def test_permanent_lockout_at_the_date_of_birth_disables_the_member(client, clock, first_timer, database, settings):
    brute_force(database, permanent_lockout=True, failure_factor=3)
    tab = signed_in_with_password(client, clock)
    for _ in range(3):
        dates(tab)

    assert not enabled(database) and tab.says(LOCKED)
    assert [e.user_id for e in events(database, "USER_DISABLED_BY_PERMANENT_LOCKOUT")] == [first_timer]
    assert cli(settings)("user", "unlock", "--realm", "kosmo-demo", "hanako-01").exit_code == 0
    assert redirect_params(dates(tab, day="1"))["code"]
