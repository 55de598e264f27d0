"""利用規約: the member agrees to the realm's terms; the version and time are stored, and a new
version asks again."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from idp.actions.accept_terms import AcceptTerms
from idp.db.models import TermsAcceptance
from idp.flows.api import Done, Page
from idp.realms.schema import TermsOfUse
from tests.support import steps
from tests.support.sign_in import redirect_params
from tests.support.steps import Browser, render

NOW = datetime(2025, 4, 1, 1, 0, tzinfo=UTC)
TERMS = TermsOfUse(version="2025-04", text="第1条（目的）\nこの規約は、サービスの利用条件を定めます。\n\n\n"
                                           "第2条（同意）\n会員は本規約に同意します。")


@pytest.fixture
def member_id(database, settings):
    return steps.create_member(database, settings, "kosmo0001")


class Member(steps.Member):
    """A member at the terms step; each call runs in its own transaction, as requests do."""

    def __init__(self, database, settings, user_id, terms=TERMS):
        super().__init__(database, settings, user_id, AcceptTerms, now=NOW, config_update={"terms": terms})

    def agrees(self) -> Page | Done:
        return self.submit(decision="agree", terms_version=self.sees().values["version"])

    def acceptances(self) -> list[tuple[str, datetime]]:
        with self.database.session() as session:
            rows = session.scalars(select(TermsAcceptance).where(TermsAcceptance.user_id == self.user_id))
            return sorted((row.version, row.accepted_at) for row in rows)


@pytest.fixture
def member(database, settings, member_id):
    return Member(database, settings, member_id)


def test_the_member_reads_the_terms_and_agrees_to_this_version(member):
    assert member.needed()
    page = member.sees()
    assert page.template == "actions/accept-terms.html"
    assert page.values["title"] == "利用規約" and page.values["version"] == "2025-04"
    assert page.values["paragraphs"] == [
        ["第1条（目的）", "この規約は、サービスの利用条件を定めます。"],
        ["第2条（同意）", "会員は本規約に同意します。"],
    ]

    assert member.agrees() == Done()

    assert member.acceptances() == [("2025-04", NOW)]
    assert member.events == [("ACCEPT_TERMS", {"version": "2025-04"})]
    assert not member.needed()


def test_a_new_version_asks_again_and_both_acceptances_are_kept(database, settings, member):
    member.agrees()
    newer = Member(database, settings, member.user_id, terms=TERMS.model_copy(update={"version": "2026-01"}))
    newer.now = NOW + timedelta(days=300)

    assert newer.needed()
    assert newer.agrees() == Done()
    assert not newer.needed()
    assert member.acceptances() == [("2025-04", NOW), ("2026-01", NOW + timedelta(days=300))]


def test_a_realm_without_terms_never_asks(database, settings, member_id):
    assert not Member(database, settings, member_id, terms=None).needed()


def test_declining_explains_that_sign_in_cannot_continue_and_stores_nothing(member):
    page = member.submit(decision="decline", terms_version="2025-04")

    assert page.errors == {"": ["accept_terms.declined"]}
    assert page.values["declined"] and page.values["version"] == "2025-04"
    assert member.acceptances() == [] and member.events == []
    assert member.needed()


def test_a_form_without_a_decision_is_shown_again_and_stores_nothing(member):
    page = member.submit(terms_version="2025-04")

    assert page.errors == {"": ["accept_terms.choose"]}
    assert member.acceptances() == [] and member.events == []


def test_agreeing_to_an_older_screen_shows_the_updated_terms_instead(member):
    page = member.submit(decision="agree", terms_version="2024-10")

    assert page.errors == {"": ["accept_terms.updated"]}
    assert page.values["version"] == "2025-04"
    assert member.acceptances() == [] and member.events == []


def test_the_page_shows_the_terms_in_a_scrollable_region_with_the_guide_s_button(app, member):
    html = render(app, member.sees())

    assert 'class="terms-text" id="terms-text" tabindex="0" role="region" aria-labelledby="terms-title"' in html
    assert "この規約は、サービスの利用条件を定めます。" in html
    assert '<button type="submit" class="button primary" name="decision" value="agree">同意する</button>' in html
    assert 'name="terms_version" value="2025-04"' in html


def test_the_declined_page_offers_the_way_back_to_the_portal(app, member):
    from idp.db.models import Client

    page = member.submit(decision="decline", terms_version="2025-04")
    html = render(app, page, client=Client(base_url="http://portal.example/"))

    assert "ログインを続けることはできません" in html
    assert '<a href="http://portal.example/">ポータルに戻る</a>' in html


@pytest.fixture
def browser(tmp_path):
    terms = {"version": "2025-04", "text": "第1条（目的）\nこの規約は、サービスの利用条件を定めます。"}
    with Browser(tmp_path, "  - action: accept-terms\n    if: terms-outdated\n", "kosmo0001", "Sakura-2025!",
                 realm={"terms": terms}) as browser:
        yield browser


def test_through_the_browser_declining_then_agreeing_reaches_the_portal_and_is_stored(browser):
    assert "<h1>利用規約</h1>" in browser.page and "この規約は、サービスの利用条件を定めます。" in browser.page

    browser.submit(decision="decline", terms_version="2025-04")
    assert "ログインを続けることはできません" in browser.page

    assert "code" in redirect_params(browser.submit(decision="agree", terms_version="2025-04"))
    with browser.database.session() as session:
        stored = session.scalars(select(TermsAcceptance).where(TermsAcceptance.user_id == browser.user_id)).all()
        assert [row.version for row in stored] == ["2025-04"]
