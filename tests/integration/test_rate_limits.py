"""Request rate limits as members and relying parties meet them: a fourth sign-in request in the
minute, a third 再送信, a third recovery page or form, a flood at the token endpoint or a relying
party's used-up allowance is answered 429 with Retry-After, changes nothing, and passes again in
the next window; every address counts alone, and only a proved secret counts against a client.

Each story runs with the counters in SQLite and, with IDP_TEST_DATABASE_URL and IDP_TEST_REDIS_URL,
in PostgreSQL and in Redis. The limiter's clock is moved to the next window; the sign-in steps'
clock is moved past the 再送信 wait.
"""
from __future__ import annotations

import email
import email.policy
import re
from dataclasses import replace
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest
import redis
from ruamel.yaml import YAML
from sqlalchemy import func, select

import idp.login.views
from idp.app import create_app
from idp.db.models import AuditEvent, utcnow
from idp.security import rate_limit
from tests.support.settings import PG_URL, make_settings, need, reset_postgres
from tests.support.sign_in import (
    CALLBACK,
    OIDC,
    PORTAL,
    PORTAL_SECRET,
    REALM_PATH,
    add_member,
    authorize,
    follow_step,
    form_action,
    hidden_value,
    pkce_pair,
    redirect_params,
    submit_sign_in,
)

TOO_MANY = ("短い時間にアクセスが集中したため、一時的に受け付けを停止しています。"
            "しばらく時間をおいてから、もう一度お試しください。")
MAIL_PAGE = "ワンタイムパスワード (OTP) メール認証"
FLOW = "flow: password-then-mail\nsteps:\n  - authenticate: password\n  - authenticate: email-code\n"
# A society's own パスワードを忘れた方 flow; any steps do, what matters is that the realm names it.
RECOVERY_FLOW = "flow: office-reset\nsteps:\n  - authenticate: password\n"
BATCH, BATCH_SECRET = "kosmo-batch", "demo-batch-secret-change-me"
OFFICE, OTHER_OFFICE, PORTAL_SERVER = "203.0.113.10", "198.51.100.20", "192.0.2.30"
# A moment that starts a window of every length the tests use (a minute, ten minutes).
WINDOW_START = 1_800_000_000.0
LIMITS = dict(rate_limit_sign_in="3/1m", rate_limit_code_sending="2/10m", rate_limit_recovery="2/10m",
              rate_limit_token="3/1m", rate_limit_token_client="2/1m")


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def settings(request, tmp_path):
    """Small limits; the member's second factor is a mailed code, read from the outbox; the
    realm's password recovery runs `office-reset`."""
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    database_url = f"sqlite:///{tmp_path / 'idp.db'}"
    if request.param == "postgresql":
        database_url = need(PG_URL, "IDP_TEST_DATABASE_URL")
        reset_postgres(database_url)
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "password-then-mail.yaml").write_text(FLOW, encoding="utf-8")
    (flows / "office-reset.yaml").write_text(RECOVERY_FLOW, encoding="utf-8")
    settings = make_settings(tmp_path, browser_flow="password-then-mail", flows_dir=flows, redis_url=redis_url,
                             database_url=database_url, **LIMITS)
    for path in settings.realms_dir.glob("*.yaml"):
        realm = YAML().load(path.read_text(encoding="utf-8"))
        realm["reset_credentials_flow"] = "office-reset"
        YAML().dump(realm, path)
    return settings


@pytest.fixture
def clock(monkeypatch):
    """`wait` moves the limiter's clock; `wait_in_steps` the sign-in steps' clock (再送信 wait)."""
    class Clock:
        moment = WINDOW_START
        steps_offset = timedelta()

        def wait(self, seconds: int) -> None:
            self.moment += seconds

        def wait_in_steps(self, seconds: int) -> None:
            self.steps_offset += timedelta(seconds=seconds)

    clock = Clock()
    monkeypatch.setattr(rate_limit, "now", lambda: clock.moment)
    monkeypatch.setattr(idp.login.views, "utcnow", lambda: utcnow() + clock.steps_offset)
    return clock


@pytest.fixture
def member(database, settings):
    return add_member(database, settings, email_verified=True)


def browser_at(app, address: str):
    """A browser (its own cookies) on a network whose public address is `address`."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


def text_of(response) -> str:
    return unescape(response.get_data(as_text=True))


def assert_refused_page(response, retry_after: int) -> None:
    assert response.status_code == 429
    assert response.headers["Retry-After"] == str(retry_after)
    assert TOO_MANY in text_of(response) and "<h1>エラー</h1>" in text_of(response)


def assert_refused_json(response, retry_after: int) -> None:
    assert response.status_code == 429
    assert response.headers["Retry-After"] == str(retry_after)
    assert response.get_json() == {"error": "too_many_requests", "error_description": "Too many requests"}
    assert response.headers["Cache-Control"] == "no-store"


def mails(settings) -> list:
    folder = settings.mail_url.removeprefix("outbox:")
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(Path(folder).glob("*.eml"))]


def newest_code(settings) -> str:
    body = mails(settings)[-1].get_body(("plain",)).get_content().replace("\r\n", "\n")
    return re.search(r"^(\d{6})$", body, re.M)[1]


def count_events(database, type: str) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.type == type))


def press(client, page: str, **fields):
    """Submit the step on `page` with its hidden fields and `fields`; follows the step's redirect."""
    data = {name: hidden_value(page, name) for name in ("csrf_token", "tab_id", "step")}
    return follow_step(client, client.post(form_action(page), data={**data, **fields}))


def test_a_fourth_sign_in_request_in_a_minute_gets_a_japanese_page_and_the_code_still_works_later(
        client, clock, member, database, settings):
    page = text_of(authorize(client, pkce_pair()[1]))
    page = text_of(submit_sign_in(client, page, password="wrong-password-1"))
    assert "ユーザIDまたはパスワードが正しくありません。" in page
    page = text_of(submit_sign_in(client, page))
    assert MAIL_PAGE in page
    code = newest_code(settings)

    refused = press(client, page, action="verify", code=code)

    assert_refused_page(refused, retry_after=60)
    assert count_events(database, "LOGIN_ERROR") == 1 and count_events(database, "LOGIN") == 0
    clock.wait(59)
    assert_refused_page(press(client, page, action="verify", code=code), retry_after=1)
    clock.wait(1)
    back = press(client, page, action="verify", code=code)
    assert redirect_params(back)["code"] and back.headers["Location"].startswith(CALLBACK)
    assert count_events(database, "LOGIN") == 1


def test_each_address_has_its_own_allowance_and_an_ipv6_network_counts_as_one(app, clock, member):
    office = [browser_at(app, OFFICE) for _ in range(3)]
    for browser in office:
        assert authorize(browser, pkce_pair()[1]).status_code == 200
    assert_refused_page(authorize(browser_at(app, OFFICE), pkce_pair()[1]), retry_after=60)
    assert authorize(browser_at(app, OTHER_OFFICE), pkce_pair()[1]).status_code == 200

    home = ["2001:db8:40:7::1", "2001:db8:40:7:ae21::9", "2001:db8:40:7::fe"]
    for address in home:
        assert authorize(browser_at(app, address), pkce_pair()[1]).status_code == 200
    assert_refused_page(authorize(browser_at(app, "2001:db8:40:7::77"), pkce_pair()[1]), retry_after=60)
    assert authorize(browser_at(app, "2001:db8:40:8::1"), pkce_pair()[1]).status_code == 200

    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'idp_rate_limited_total{realm="kosmo-demo",group="sign-in"} 2' in metrics


def test_a_third_resend_in_ten_minutes_mails_nothing_until_the_next_window(client, clock, member, database, settings):
    page = text_of(submit_sign_in(client, text_of(authorize(client, pkce_pair()[1]))))
    for _ in range(2):
        clock.wait_in_steps(30)
        page = text_of(press(client, page, action="resend"))
        assert "ワンタイムパスワードを再送信しました" in page
    assert len(mails(settings)) == 3

    clock.wait_in_steps(30)
    refused = press(client, page, action="resend")

    assert_refused_page(refused, retry_after=600)
    assert len(mails(settings)) == 3 and count_events(database, "SEND_EMAIL_CODE") == 3
    clock.wait(600)
    page = text_of(press(client, page, action="resend"))
    assert len(mails(settings)) == 4
    back = press(client, page, action="verify", code=newest_code(settings))
    assert redirect_params(back)["code"]


def test_recovery_pages_share_one_allowance_per_address(app, clock, database):
    office = browser_at(app, OFFICE)
    assert office.get(f"{REALM_PATH}/login-actions/reset-credentials").status_code != 429
    assert office.get(f"{REALM_PATH}/login-actions/forgot-user-id").status_code != 429

    assert_refused_page(office.get(f"{REALM_PATH}/login-actions/reset-credentials"), retry_after=600)
    assert_refused_page(office.get(f"{REALM_PATH}/login-actions/forgot-user-id/sent"), retry_after=600)
    assert browser_at(app, OTHER_OFFICE).get(f"{REALM_PATH}/login-actions/forgot-user-id").status_code != 429
    store = app.extensions["idp.ephemeral"]
    assert 0 < store.ttl(f"rate-limit:recovery:{OFFICE}:{int(WINDOW_START // 600)}") <= 600
    clock.wait(600)
    assert office.get(f"{REALM_PATH}/login-actions/reset-credentials").status_code != 429


def test_a_recovery_flows_forms_count_against_the_recovery_allowance_not_the_sign_in_one(app, clock, member):
    office = browser_at(app, OFFICE)
    page = text_of(office.get(f"{REALM_PATH}/login-actions/reset-credentials?client_id={PORTAL}"))
    page = text_of(submit_sign_in(office, page, password="wrong-password-1"))
    assert "ユーザIDまたはパスワードが正しくありません。" in page

    assert_refused_page(submit_sign_in(office, page, password="wrong-password-2"), retry_after=600)
    for _ in range(3):
        assert authorize(office, pkce_pair()[1]).status_code == 200
    clock.wait(600)
    clock.wait_in_steps(2)  # not two failures within a second, which brute-force detection makes wait
    assert "ユーザIDまたはパスワードが正しくありません。" in text_of(submit_sign_in(office, page, password="wrong-3"))


def bad_refresh(portal, client_id: str = PORTAL, secret: str = PORTAL_SECRET):
    return portal.post(f"{OIDC}/token", data={"grant_type": "refresh_token", "refresh_token": "not-a-token"},
                       auth=(client_id, secret))


def test_a_flood_at_the_token_endpoint_gets_json_429_and_the_code_is_still_good_afterwards(
        app, client, clock, member, settings):
    verifier, challenge = pkce_pair()
    page = text_of(submit_sign_in(client, text_of(authorize(client, challenge))))
    code = redirect_params(press(client, page, action="verify", code=newest_code(settings)))["code"]
    portal = browser_at(app, PORTAL_SERVER)
    for client_id, secret in ((PORTAL, PORTAL_SECRET), (BATCH, BATCH_SECRET), (PORTAL, PORTAL_SECRET)):
        assert bad_refresh(portal, client_id, secret).status_code == 400
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": verifier}

    refused = portal.post(f"{OIDC}/token", data=exchange, auth=(PORTAL, PORTAL_SECRET))

    assert_refused_json(refused, retry_after=60)
    clock.wait(60)
    tokens = portal.post(f"{OIDC}/token", data=exchange, auth=(PORTAL, PORTAL_SECRET))
    assert tokens.status_code == 200 and tokens.get_json()["access_token"]


def test_a_relying_party_is_limited_across_addresses_by_the_requests_that_proved_its_secret(app, clock):
    for address in ("192.0.2.41", "192.0.2.42", "192.0.2.43"):
        assert bad_refresh(browser_at(app, address), secret="guessed-secret").status_code == 401
    assert bad_refresh(browser_at(app, "192.0.2.31")).status_code == 400
    # client_secret_post names the client in the form instead: the same relying party.
    form = {"grant_type": "refresh_token", "refresh_token": "x", "client_id": PORTAL, "client_secret": PORTAL_SECRET}
    assert browser_at(app, "192.0.2.32").post(f"{OIDC}/token", data=form).status_code == 400

    assert_refused_json(bad_refresh(browser_at(app, "192.0.2.33")), retry_after=60)
    batch = browser_at(app, "192.0.2.33").post(f"{OIDC}/token", data={"grant_type": "client_credentials"},
                                               auth=(BATCH, BATCH_SECRET))
    assert batch.status_code == 200
    clock.wait(60)
    assert bad_refresh(browser_at(app, "192.0.2.33")).status_code == 400


def test_a_store_failing_after_the_answer_still_hands_the_relying_party_its_tokens(app, clock, monkeypatch):
    store = app.extensions["idp.ephemeral"]
    count = store.incr

    def incr(key: str, ttl: int) -> int:
        if key.startswith("rate-limit:token-client:"):
            raise redis.exceptions.ConnectionError("the store went away")
        return count(key, ttl)

    monkeypatch.setattr(store, "incr", incr)
    batch = browser_at(app, PORTAL_SERVER).post(f"{OIDC}/token", data={"grant_type": "client_credentials"},
                                                auth=(BATCH, BATCH_SECRET))
    assert batch.status_code == 200 and batch.get_json()["access_token"]


@pytest.fixture
def outage(app, monkeypatch):
    """`down()` makes every call to the ephemeral store fail as Redis's client does when the server
    is gone, until `back()`."""
    class Outage:
        is_down = False

        def down(self) -> None:
            self.is_down = True

        def back(self) -> None:
            self.is_down = False

    def unless_down(original):
        def call(*args, **kwargs):
            if outage.is_down:
                raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
            return original(*args, **kwargs)
        return call

    outage, store = Outage(), app.extensions["idp.ephemeral"]
    for name in ("put", "add", "get", "take", "delete", "incr", "ttl", "ping"):
        monkeypatch.setattr(store, name, unless_down(getattr(store, name)))
    return outage


def fallback_count(client) -> int:
    found = re.search(r'^idp_rate_limit_fallback_total\{realm="kosmo-demo"\} (\d+)$',
                      client.get("/metrics").get_data(as_text=True), re.M)
    return int(found[1]) if found else 0


def test_while_the_store_is_down_refresh_and_client_credentials_are_served_and_limited_per_process(
        app, client, clock, member, settings, outage, caplog):
    verifier, challenge = pkce_pair()
    page = text_of(submit_sign_in(client, text_of(authorize(client, challenge))))
    code = redirect_params(press(client, page, action="verify", code=newest_code(settings)))["code"]
    portal = browser_at(app, PORTAL_SERVER)
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": verifier}
    tokens = portal.post(f"{OIDC}/token", data=exchange, auth=(PORTAL, PORTAL_SECRET)).get_json()
    clock.wait(60)

    outage.down()
    refreshed = portal.post(f"{OIDC}/token", auth=(PORTAL, PORTAL_SECRET),
                            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    batch = [portal.post(f"{OIDC}/token", data={"grant_type": "client_credentials"}, auth=(BATCH, BATCH_SECRET))
             for _ in range(3)]
    sign_in = authorize(client, challenge)

    assert refreshed.status_code == 200 and refreshed.get_json()["access_token"]
    assert client.get(f"{OIDC}/userinfo",
                      headers={"Authorization": f"Bearer {refreshed.get_json()['access_token']}"}).status_code == 200
    assert [response.status_code for response in batch[:2]] == [200, 200]
    assert_refused_json(batch[2], retry_after=60)  # the address's fourth token request in the minute
    assert sign_in.status_code == 503  # a sign-in in progress lives in the store
    assert [record.getMessage().split(":")[0] for record in caplog.records
            if record.getMessage().startswith("ephemeral store")] == [
        "ephemeral store unreachable, rate limits are counted per process until it is back"]
    assert fallback_count(client) >= 4

    outage.back()
    clock.wait(60)
    assert portal.post(f"{OIDC}/token", data={"grant_type": "client_credentials"},
                       auth=(BATCH, BATCH_SECRET)).status_code == 200
    assert "ephemeral store reachable again, rate limits are shared again" in caplog.text


def test_behind_the_societys_proxy_the_forwarded_address_is_counted(settings, database, clock):
    app = create_app(replace(settings, proxy_fix=1), database)
    proxy = app.test_client()
    for _ in range(2):
        assert proxy.get(f"{REALM_PATH}/login-actions/reset-credentials",
                         headers={"X-Forwarded-For": OFFICE}).status_code != 429
    refused = proxy.get(f"{REALM_PATH}/login-actions/reset-credentials", headers={"X-Forwarded-For": OFFICE})
    assert_refused_page(refused, retry_after=600)
    other = proxy.get(f"{REALM_PATH}/login-actions/reset-credentials", headers={"X-Forwarded-For": OTHER_OFFICE})
    assert other.status_code != 429


def test_an_operator_can_switch_one_group_or_every_limit_off(settings, database, clock):
    recovery_off = create_app(replace(settings, rate_limit_recovery="off"), database)
    all_off = create_app(replace(settings, rate_limits=False), database)
    for _ in range(5):
        assert recovery_off.test_client().get(f"{REALM_PATH}/login-actions/forgot-user-id").status_code != 429
        assert all_off.test_client().get(f"{REALM_PATH}/protocol/openid-connect/auth").status_code != 429
    for _ in range(3):
        recovery_off.test_client().get(f"{REALM_PATH}/protocol/openid-connect/auth")
    assert_refused_page(recovery_off.test_client().get(f"{REALM_PATH}/protocol/openid-connect/auth"), 60)
