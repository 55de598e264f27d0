"""Twenty members press 実行 at the same moment, each claiming the same email address or the same
user ID, against a real `idp serve` (four gunicorn workers): exactly one wins, the other nineteen
read the guide's "already in use" message (never a server error), and the database has one owner.
On SQLite and on PostgreSQL (with Redis for the ephemeral state, as deployed).

The members are made directly in the database at the state the step needs; each then signs in
over HTTP in a browser session of its own and waits on the step's page until all press at once.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from idp.config import CHECKOUT
from idp.db import Database
from idp.db.models import TermsAcceptance, User, utcnow
from idp.db.users import create_user
from idp.i18n import messages_for
from idp.realms import find_realm, realm_config
from tests.support.servers import REALM, IdpServer, sign_in_form
from tests.support.settings import PG_URL, REDIS_URL, make_settings, need, reset_postgres

MEMBERS = 20
PASSWORD = "Race-pass-2026"
TEXTS = messages_for(CHECKOUT / "themes")
EMAIL_TAKEN = TEXTS["update_email.error.taken"]
USER_ID_TAKEN = TEXTS["set_user_id.error.taken"]
# The guide's claims (docs/member-screens.md §2 steps 6 and 9) without the steps around them that a race does not
# need; the account pages reach update-email through kc_action=UPDATE_EMAIL.
RACE_FLOW = """flow: race
steps:
  - authenticate: password
  - action: update-email
    if: first-login
  - action: set-user-id
    if: user-id-not-set
    with: {choose_second_factor: false}
"""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory):
    """One identity provider per database for the module's races; PostgreSQL runs with Redis."""
    folder = tmp_path_factory.mktemp(f"races-{request.param}")
    flows = folder / "flows"
    flows.mkdir()
    (flows / "race.yaml").write_text(RACE_FLOW, encoding="utf-8")
    env = {"IDP_FLOWS_DIR": str(flows)}
    if request.param == "postgresql":
        env["IDP_DATABASE_URL"] = need(PG_URL, "IDP_TEST_DATABASE_URL")
        env["IDP_REDIS_URL"] = need(REDIS_URL, "IDP_TEST_REDIS_URL")
        reset_postgres(env["IDP_DATABASE_URL"])
        import redis

        redis.Redis.from_url(env["IDP_REDIS_URL"]).flushdb()
    with IdpServer(folder, workers=4, env=env, browser_flow="race") as idp:
        idp.database = Database(idp.env["IDP_DATABASE_URL"])
        idp.settings = make_settings(folder, database_url=idp.env["IDP_DATABASE_URL"])
        yield idp
        idp.database.dispose()


def add_members(server, prefix: str, *, first_login_done: bool, user_id_chosen: bool) -> list[str]:
    """Twenty members of the demo society, written straight into the database; their user IDs."""
    usernames = [f"{prefix}{number:02d}" for number in range(MEMBERS)]
    with server.database.session() as session:
        realm = find_realm(session, REALM)
        terms = realm_config(realm).terms
        for username in usernames:
            user = create_user(session, realm, username, settings=server.settings, password=PASSWORD,
                               email=f"{username}@example.jp", email_verified=True, birthdate=date(1980, 4, 1))
            user.birthdate_verified_at = utcnow()
            user.first_login_completed_at = utcnow() if first_login_done else None
            user.user_id_chosen_at = utcnow() if user_id_chosen else None
            if terms is not None:
                session.add(TermsAcceptance(user_id=user.id, version=terms.version))
    return usernames


class Browser:
    """One member's browser: follows redirects within the identity provider, stops at others."""

    def __init__(self, server):
        self.server = server
        self.http = requests.Session()

    def go(self, response: requests.Response) -> requests.Response:
        while response.is_redirect:
            target = urljoin(response.url, response.headers["Location"])
            if urlsplit(target).netloc != urlsplit(self.server.url).netloc:
                return response
            response = self.http.get(target, allow_redirects=False, timeout=30)
        return response

    def open(self, url: str) -> str:
        response = self.go(self.http.get(url, allow_redirects=False, timeout=30))
        assert response.status_code == 200, response.text[:500]
        return response.text

    def press(self, page: str, **typed) -> requests.Response:
        """Send the page's form (its hidden fields and `typed`), without following the answer."""
        action, hidden = sign_in_form(page)
        return self.http.post(urljoin(self.server.url, action), data={**hidden, **typed}, allow_redirects=False,
                              timeout=60)

    def sign_in(self, username: str, client_id: str = "kosmo-portal") -> requests.Response:
        redirect_uri = f"{self.server.portal_url}/callback" if client_id == "kosmo-portal" \
            else f"{self.server.issuer()}/account/callback"
        query = urlencode({"client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code",
                           "scope": "openid", "state": "s", "code_challenge_method": "S256",
                           "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"})
        page = self.open(f"{self.server.issuer()}/protocol/openid-connect/auth?{query}")
        return self.go(self.press(page, username=username, password=PASSWORD))


def signed_in_at_the_step(server, members: list[str], heading: str) -> list[tuple[Browser, str]]:
    """Each member signs in in a browser of their own and stays on the step titled `heading`."""
    pages = []
    for username in members:
        browser = Browser(server)
        page = browser.sign_in(username)
        assert heading in page.text, page.text[:500]
        pages.append((browser, page.text))
    return pages


def at_the_same_moment(pages: list[tuple[Browser, str]], **typed) -> list[requests.Response]:
    """Every browser presses its page's button at once (a barrier releases them together)."""
    start = threading.Barrier(len(pages))

    def press(browser_and_page):
        browser, page = browser_and_page
        start.wait()
        return browser.press(page, **typed)

    with ThreadPoolExecutor(len(pages)) as pool:
        return list(pool.map(press, pages))


def assert_one_winner(answers: list[requests.Response], taken_message: str) -> None:
    """One answer moves on (to the next step, or with its last step done back to the relying
    party); every other one is the page again with `taken_message`."""
    assert [answer.status_code for answer in answers if answer.status_code >= 500] == []
    winners = [answer for answer in answers if answer.is_redirect]
    losers = [answer for answer in answers if not answer.is_redirect]
    assert len(winners) == 1, [answer.status_code for answer in answers]
    assert {loser.status_code for loser in losers} == {200}
    assert all(taken_message in loser.text for loser in losers), [loser.text[:300] for loser in losers
                                                                   if taken_message not in loser.text]


def the_one_owner(server, column, value: str) -> str:
    """The user ID of the only member whose `column` is `value` (fails unless there is exactly one)."""
    with server.database.session() as session:
        found = session.scalars(select(User.username).where(User.realm_id == find_realm(session, REALM).id,
                                                            func.lower(column) == value)).all()
    assert len(found) == 1, found
    return found[0]


def test_twenty_members_claiming_one_email_at_the_first_sign_in_leave_one_owner(server):
    members = add_members(server, "mail-race-", first_login_done=False, user_id_chosen=True)
    pages = signed_in_at_the_step(server, members, "メールアドレスの更新")

    answers = at_the_same_moment(pages, email="Hanako.Race@example.jp")

    assert_one_winner(answers, EMAIL_TAKEN)
    assert the_one_owner(server, User.email, "hanako.race@example.jp") in members


def test_twenty_members_claiming_one_email_on_the_account_pages_leave_one_owner(server):
    members = add_members(server, "acct-race-", first_login_done=True, user_id_chosen=True)
    pages = []
    for username in members:
        browser = Browser(server)
        assert browser.sign_in(username).status_code == 302  # back to the portal, signed in
        page = browser.open(f"{server.issuer()}/account/start/email")
        assert "メールアドレスの更新" in page, page[:500]
        pages.append((browser, page))

    answers = at_the_same_moment(pages, email="taro.race@example.jp")

    assert_one_winner(answers, EMAIL_TAKEN)
    assert the_one_owner(server, User.email, "taro.race@example.jp") in members


def test_twenty_members_claiming_one_user_id_leave_one_owner(server):
    members = add_members(server, "id-race-", first_login_done=True, user_id_chosen=False)
    pages = signed_in_at_the_step(server, members, "ユーザーIDの変更")

    answers = at_the_same_moment(pages, user_id="Hanako-2026")

    assert_one_winner(answers, USER_ID_TAKEN)
    assert the_one_owner(server, User.username, "hanako-2026") == "hanako-2026"
    with server.database.session() as session:
        left = session.scalar(select(func.count()).select_from(User).where(User.username.in_(members)))
    assert left == MEMBERS - 1  # the nineteen others keep the IDs their society gave them
