"""Faults injected into a running deployment (conftest.py: two instances started together,
PostgreSQL, Redis): Redis restarting empty, Redis down under load, junk requests.
Nothing acknowledged is lost, nothing revoked comes back, nothing answers 500. The figures
(requests, 503s, seconds to recover) are printed: `pytest -s tests/reliability` shows them.
Marked `reliability`: `pytest -m "not reliability"` leaves the suite out.
"""
from __future__ import annotations

import re
import threading
import time
from collections import Counter
from itertools import cycle

import pytest
import requests

from tests.support.journeys import TIMEOUT, Browser, RelyingParty, logged, sign_in, tokens
from tests.support.servers import INTEROP_CONFIDENTIAL, INTEROP_CONFIDENTIAL_SECRET

pytestmark = [pytest.mark.reliability, pytest.mark.servers]

REALM = "kosmo-demo"
LOAD_SECONDS = 12
OUTAGE_SECONDS = 3
FALLBACK_LOGGED = "rate limits are counted per process until it is back"


def signed_in(deployed) -> tuple[RelyingParty, dict]:
    """A member signs in at the first instance; the relying party's tokens."""
    portal = RelyingParty(deployed.first, deployed.first.url)
    return portal, tokens(portal.exchange(sign_in(deployed.first)))


def relying_party_on(deployed, instance) -> RelyingParty:
    return RelyingParty(deployed.first, instance.url)


def revoke(portal: RelyingParty, token: str) -> requests.Response:
    return requests.post(f"{portal.endpoints}/revoke", data={"token": token}, auth=portal.auth, timeout=TIMEOUT)


def client_credentials(portal: RelyingParty) -> requests.Response:
    return requests.post(f"{portal.endpoints}/token", data={"grant_type": "client_credentials"},
                         auth=(INTEROP_CONFIDENTIAL, INTEROP_CONFIDENTIAL_SECRET), timeout=TIMEOUT)


def fallback_count(instance) -> int:
    text = requests.get(f"{instance.url}/metrics", timeout=TIMEOUT).text
    return sum(int(count) for count in re.findall(r"^idp_rate_limit_fallback_total\{[^}]*\} (\d+)$", text, re.M))


def seconds_until_signing_in_works(deployed) -> float:
    """From now until both instances show the sign-in page again."""
    started = time.monotonic()
    for instance in deployed.instances:
        while Browser(deployed.first).arrive(instance.url).status_code != 200:
            assert time.monotonic() - started < 30, "sign-in did not come back within 30 s"
            time.sleep(0.05)
    return time.monotonic() - started


def test_a_token_revoked_before_redis_restarts_empty_stays_refused_on_both_instances(
        deployment):
    portal, issued = signed_in(deployment)
    assert revoke(portal, issued["access_token"]).status_code == 200

    deployment.redis.stop()
    deployment.redis.start()

    for instance in deployment.instances:
        on = relying_party_on(deployment, instance)
        assert on.introspect(issued["access_token"]).json() == {"active": False}
        assert on.userinfo(issued["access_token"]).status_code == 401
    assert tokens(portal.refresh(issued["refresh_token"]))["access_token"]  # its family lives on, in SQL


def test_while_redis_is_down_grants_kept_in_sql_are_served_and_sign_ins_answer_503(
        deployment):
    portal, issued = signed_in(deployment)
    logged_before = [len(logged(instance.log, FALLBACK_LOGGED)) for instance in deployment.instances]

    deployment.redis.stop()
    try:
        for instance in deployment.instances:
            on = relying_party_on(deployment, instance)
            issued = tokens(on.refresh(issued["refresh_token"]))
            assert on.userinfo(issued["access_token"]).status_code == 200
            assert tokens(client_credentials(on))["access_token"]
            assert Browser(deployment.first).arrive(instance.url).status_code == 503
            assert fallback_count(instance) > 0
    finally:
        deployment.redis.start()
    recovered = seconds_until_signing_in_works(deployment)

    for instance, before in zip(deployment.instances, logged_before, strict=True):
        # Once per outage in each process that met it: a worker process, two per instance.
        assert 1 <= len(logged(instance.log, FALLBACK_LOGGED)) - before <= 2
    print(f"\nredis down: refresh, userinfo and client credentials served on both instances; "
          f"sign-in back {recovered:.2f} s after redis")


@pytest.mark.parametrize("path", ["token", "token/introspect", "userinfo", "admin"])
def test_junk_bodies_and_headers_get_no_server_error_from_either_instance(
        deployment, path):
    nested = "[" * 1000 + "]" * 1000
    for instance in deployment.instances:
        url = (f"{instance.url}/admin/realms/{REALM}/users" if path == "admin"
               else f"{instance.url}/realms/{REALM}/protocol/openid-connect/{path}")
        answers = [
            requests.post(url, data=nested, headers={"Content-Type": "application/json"}, timeout=TIMEOUT),
            requests.post(url, data={"token": "x"}, auth=(INTEROP_CONFIDENTIAL, INTEROP_CONFIDENTIAL_SECRET),
                          headers={"Host": "idp.example.jp", "X-Forwarded-Host": "\x7f", "X-Forwarded-For": "::::"},
                          timeout=TIMEOUT),
        ]
        assert [answer.status_code < 500 for answer in answers] == [True, True], [a.text[:200] for a in answers]
        assert answers[0].status_code == 400


def test_under_load_redis_restarting_loses_nothing_acknowledged_and_brings_no_revoked_token_back(
        deployment):
    """Relying parties refresh as fast as they can on both instances while Redis stops for a few
    seconds and comes back empty. Refresh keeps its state in SQL, so none is refused meanwhile,
    and the rotation each answer acknowledged is the one its family keeps."""
    chains = [signed_in(deployment)[1] for _ in range(4)]
    revoked_portal, revoked = signed_in(deployment)
    assert revoke(revoked_portal, revoked["access_token"]).status_code == 200
    answered: Counter = Counter()
    last_acknowledged = [chain["refresh_token"] for chain in chains]
    stop = time.monotonic() + LOAD_SECONDS

    def drive(index: int) -> None:
        for instance in cycle(deployment.instances):
            if time.monotonic() >= stop:
                return
            try:
                answer = relying_party_on(deployment, instance).refresh(last_acknowledged[index])
            except requests.RequestException as error:  # the chain's state is unknown from here
                answered[type(error).__name__] += 1
                return
            answered[answer.status_code] += 1
            if answer.status_code == 200:
                last_acknowledged[index] = answer.json()["refresh_token"]

    drivers = [threading.Thread(target=drive, args=(index,)) for index in range(len(chains))]
    for driver in drivers:
        driver.start()
    time.sleep(LOAD_SECONDS / 3)
    deployment.redis.stop()
    time.sleep(OUTAGE_SECONDS)
    deployment.redis.start()
    recovered = seconds_until_signing_in_works(deployment)
    for driver in drivers:
        driver.join()

    assert set(answered) == {200}, answered
    for token in last_acknowledged:
        assert tokens(revoked_portal.refresh(token))["access_token"]
    for instance in deployment.instances:
        assert relying_party_on(deployment, instance).userinfo(revoked["access_token"]).status_code == 401
    print(f"\nload with redis down {OUTAGE_SECONDS} s: {sum(answered.values())} refreshes, "
          f"{answered[200]} × 200, {answered[503]} × 503; sign-in back {recovered:.2f} s after redis")
