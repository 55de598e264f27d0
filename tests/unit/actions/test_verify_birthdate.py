"""生年月日の入力: a member confirms their date of birth; wrong dates are counted and lock the step."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from idp.actions.verify_birthdate import BirthdateOptions, VerifyBirthdate
from idp.db.models import User
from idp.ephemeral import make_store
from idp.flows.api import Done
from idp.realms.schema import BruteForceSettings
from tests.support import steps
from tests.support.sign_in import redirect_params
from tests.support.steps import Browser, render

NOW = datetime(2025, 4, 1, 1, 0, tzinfo=UTC)  # 10:00 in Japan
BIRTHDATE = {"year": "1985", "month": "4", "day": "1"}
WRONG = {"year": "1985", "month": "4", "day": "2"}


@pytest.fixture
def store(database):
    return make_store(None, database)


@pytest.fixture
def member_id(database, settings):
    return steps.create_member(database, settings, "kosmo0001", birthdate=date(1985, 4, 1))


class Member(steps.Member):
    """One sign-in attempt at a time: each `submit` runs in its own transaction, as requests do.

    The step's own lock alone: the realm's brute-force detection (on in the demo realm, and it
    would see these instant answers as a machine's) is the subject of tests/integration/
    test_lockout_factors.py."""

    def __init__(self, database, settings, store, user_id, **options):
        super().__init__(database, settings, user_id, VerifyBirthdate, BirthdateOptions(**options), store=store,
                         now=NOW, config_update={"brute_force": BruteForceSettings(enabled=False)})

    def user(self) -> User:
        with self.database.session() as session:
            user = session.get(User, self.user_id)
            session.expunge(user)
            return user

    def event_types(self) -> list[str]:
        return [type for type, _ in self.events]


@pytest.fixture
def member(database, settings, store, member_id):
    return Member(database, settings, store, member_id)


def test_the_right_date_of_birth_is_confirmed_once_and_for_all(member):
    assert member.needed()
    page = member.sees()
    assert page.template == "actions/verify-birthdate.html" and not page.has_errors

    assert member.submit(**BIRTHDATE) == Done()

    assert member.user().birthdate_verified_at == NOW
    assert member.event_types() == ["VERIFY_BIRTHDATE"]
    assert not member.needed()


def test_full_width_digits_from_a_japanese_keyboard_are_read_as_numbers(member):
    assert member.submit(year="１９８５", month="０４", day=" ０１ ") == Done()


def test_a_member_without_a_date_of_birth_on_file_skips_the_step_with_a_warning(database, member, caplog):
    with database.session() as session:
        session.get(User, member.user_id).birthdate = None
    assert not member.needed()
    assert "no date of birth on file" in caplog.text


@pytest.mark.parametrize("form, key", [
    ({"year": "", "month": "4", "day": "1"}, "verify_birthdate.missing"),
    ({}, "verify_birthdate.missing"),
    ({"year": "1985", "month": "四", "day": "1"}, "verify_birthdate.not_a_number"),
    ({"year": "1985", "month": "-4", "day": "1"}, "verify_birthdate.not_a_number"),
    ({"year": "1985", "month": "2", "day": "30"}, "verify_birthdate.no_such_date"),
    ({"year": "1985", "month": "13", "day": "1"}, "verify_birthdate.no_such_date"),
    ({"year": "1899", "month": "12", "day": "31"}, "verify_birthdate.out_of_range"),
    ({"year": "2025", "month": "4", "day": "2"}, "verify_birthdate.out_of_range"),
])
def test_something_that_is_no_date_of_birth_gets_its_own_message_and_is_not_counted(member, store, form, key):
    page = member.submit(**form)

    assert page.errors == {"birthdate": [key]}
    assert member.user().birthdate_verified_at is None
    assert member.events == []
    assert store.get(f"verify-birthdate:attempts:{member.user().realm_id}:{member.user_id}") is None


def test_a_wrong_date_says_so_keeps_what_was_typed_and_warns_how_many_tries_are_left(member):
    page = member.submit(**WRONG)

    assert page.errors == {"birthdate": ["verify_birthdate.mismatch"]}
    assert page.values["day"] == "2" and page.values["attempts_left"] == 4
    assert member.user().birthdate_verified_at is None
    assert member.events == [("VERIFY_BIRTHDATE_ERROR", {"error": "birthdate_mismatch", "attempt": 1})]


def test_wrong_birthdate_five_times_locks_the_step_even_for_the_right_date(member):
    for _ in range(4):
        member.submit(**WRONG)
    page = member.submit(**WRONG)

    assert page.errors == {"": ["verify_birthdate.locked"]}
    assert page.values["locked"] and page.values["retry_at"] == "4月1日 10:30"
    assert member.event_types().count("USER_LOCKED") == 1
    assert member.events[-1] == ("USER_LOCKED", {"reason": "verify-birthdate", "until": "2025-04-01T01:30:00+00:00"})

    member.now = NOW + timedelta(minutes=29)
    assert member.sees().errors == {"": ["verify_birthdate.locked"]}
    assert member.submit(**BIRTHDATE).errors == {"": ["verify_birthdate.locked"]}
    assert member.user().birthdate_verified_at is None
    assert member.event_types().count("USER_LOCKED") == 1


@pytest.mark.redis
def test_the_lock_works_the_same_with_redis(database, settings, member_id, redis_url):
    from idp.ephemeral import RedisStore

    member = Member(database, settings, RedisStore(redis_url), member_id, max_attempts=2)
    member.submit(**WRONG)
    assert member.submit(**WRONG).values["locked"]
    assert member.submit(**BIRTHDATE).errors == {"": ["verify_birthdate.locked"]}
    assert member.event_types().count("USER_LOCKED") == 1


def test_the_lock_ends_after_its_period_with_a_fresh_count(member):
    for _ in range(5):
        member.submit(**WRONG)
    member.now = NOW + timedelta(minutes=31)

    assert not member.sees().values["locked"]
    assert member.submit(**WRONG).values["attempts_left"] == 4
    assert member.submit(**BIRTHDATE) == Done()


def test_the_right_date_clears_earlier_wrong_tries(member, store):
    member.submit(**WRONG)
    member.submit(**BIRTHDATE)
    assert store.get(f"verify-birthdate:attempts:{member.user().realm_id}:{member.user_id}") is None


def test_operators_choose_the_number_of_tries_and_the_lock_period(database, settings, store, member_id):
    member = Member(database, settings, store, member_id, max_attempts=2, lock_minutes=60)
    assert member.submit(**WRONG).values["attempts_left"] == 1
    page = member.submit(**WRONG)
    assert page.values["locked"] and page.values["retry_at"] == "4月1日 11:00"


@pytest.mark.parametrize("options", [{"max_attempts": 0}, {"lock_minutes": 0}, {"lock_minutes": 100000}, {"tries": 3}])
def test_options_out_of_range_are_refused(options):
    with pytest.raises(ValidationError):
        BirthdateOptions(**options)


def test_two_members_are_counted_apart(database, settings, store, member, member_id):
    other_id = steps.create_member(database, settings, "kosmo0002", birthdate=date(1990, 1, 1))
    for _ in range(5):
        member.submit(**WRONG)
    other = Member(database, settings, store, other_id)
    assert not other.sees().values["locked"]


def test_the_page_has_three_numeric_boxes_labelled_year_month_day(app, member):
    html = render(app, member.sees())

    assert "<h1>生年月日の入力</h1>" in html
    for part, label in (("year", "年"), ("month", "月"), ("day", "日")):
        assert f'id="{part}" name="{part}" type="text" inputmode="numeric"' in html
        assert f'autocomplete="bday-{part}"' in html
        assert f'<label for="{part}">{label}</label>' in html


def test_a_wrong_date_is_announced_and_tied_to_the_boxes(app, member):
    html = render(app, member.submit(**WRONG))

    assert '<ul class="field-errors" id="birthdate-errors" role="alert">' in html
    assert "生年月日が一致しません。" in html and "あと4回間違えると、30分間入力できなくなります。" in html
    assert 'aria-describedby="birthdate-example birthdate-errors" aria-invalid="true"' in html


def test_the_locked_page_says_when_to_retry_and_has_no_boxes(app, member):
    for _ in range(5):
        page = member.submit(**WRONG)
    html = render(app, page)

    assert "一時的に入力できなくなっています。" in html and "4月1日 10:30以降にもう一度お試しください。" in html
    assert 'name="year"' not in html


JOURNEY = """\
  - action: verify-birthdate
    if: birthdate-not-verified
    with:
      max_attempts: 2
"""


@pytest.fixture
def browser(tmp_path):
    with Browser(tmp_path, JOURNEY, "kosmo0001", "Sakura-2025!", birthdate=date(1985, 4, 1)) as browser:
        yield browser


def test_through_the_browser_a_wrong_date_then_the_right_one_in_full_width_reaches_the_portal(browser):
    assert "<h1>生年月日の入力</h1>" in browser.page

    browser.submit(**WRONG)
    assert "生年月日が一致しません。" in browser.page

    assert "code" in redirect_params(browser.submit(year="１９８５", month="４", day="１"))


def test_through_the_browser_the_lock_outlives_the_refused_requests(browser):
    browser.submit(**WRONG)
    browser.submit(**WRONG)
    assert "一時的に入力できなくなっています。" in browser.page

    assert "一時的に入力できなくなっています。" in browser.reload() and 'name="year"' not in browser.page
