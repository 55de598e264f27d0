"""Rate-limit settings read as an operator writes them ("600/1m", "off"), refused loudly when
mistyped, and the address a request is counted under (an IPv6 /64 is one subscriber)."""
from __future__ import annotations

import pytest

from idp.config import RateLimit, Settings, SettingsError
from idp.security.rate_limit import client_address

KEY = {"IDP_SECRET_KEY": "k" * 32}


def table(**variables) -> dict:
    return Settings.from_env(environ={**KEY, **variables}).rate_limit_table()


def test_the_defaults_let_an_office_of_hundreds_sign_in_and_a_portal_refresh_for_everyone():
    assert table() == {
        "sign-in": RateLimit(600, 60),
        "code-sending": RateLimit(60, 600),
        "recovery": RateLimit(300, 600),
        "token": RateLimit(3000, 60),
        "token-client": RateLimit(6000, 60),
    }


@pytest.mark.parametrize("raw, expected", [
    ("5/2s", RateLimit(5, 2)), ("100 / 10m", RateLimit(100, 600)), ("1000/1H", RateLimit(1000, 3600)),
    ("off", None), ("OFF", None),
])
def test_a_limit_is_count_per_period_or_off(raw, expected):
    assert table(IDP_RATE_LIMIT_SIGN_IN=raw)["sign-in"] == expected


def test_switching_rate_limits_off_leaves_every_group_unlimited():
    assert set(table(IDP_RATE_LIMITS="false").values()) == {None}


@pytest.mark.parametrize("variable, raw", [
    ("IDP_RATE_LIMIT_TOKEN", "600 per minute"),
    ("IDP_RATE_LIMIT_RECOVERY", "10/0m"),
    ("IDP_RATE_LIMIT_CODE_SENDING", "0/1m"),
    ("IDP_RATE_LIMIT_TOKEN_CLIENT", "10/25h"),
    ("IDP_RATE_LIMIT_SIGN_IN", "600"),
])
def test_a_mistyped_limit_stops_the_start_naming_its_variable(variable, raw):
    with pytest.raises(SettingsError, match=variable):
        table(**{variable: raw})


@pytest.mark.parametrize("remote_addr, counted_as", [
    ("203.0.113.10", "203.0.113.10"),
    ("2001:db8:40:7:ae21:1:2:3", "2001:db8:40:7::/64"),
    ("2001:db8:40:7::1", "2001:db8:40:7::/64"),
    ("::ffff:203.0.113.10", "203.0.113.10"),
    (None, "unknown"),
])
def test_requests_are_counted_per_ipv4_address_and_per_ipv6_network(remote_addr, counted_as):
    assert client_address(remote_addr) == counted_as
