"""Every ephemeral-store key keeps its spelling, so what a running server stored before an upgrade
(sign-ins in progress, locks, counters) is found after it."""
from __future__ import annotations

import inspect

import pytest

from idp.ephemeral import keys

SPELLINGS = [
    ("auth_session", ("r1", "root", "tab"), "auth:r1:root:tab"),
    ("authorization_code", ("r1", "abc"), "code:r1:abc"),
    ("redeemed_code", ("r1", "abc"), "code-used:r1:abc"),
    ("sign_in_link", ("r1", "k"), "link:r1:k"),
    ("admin_actions_link", ("r1", "k"), "admin-actions:r1:k"),
    ("recovery_mails_to_address", ("reset-credentials", "r1", "d1"), "recovery:reset-credentials:address:r1:d1"),
    ("recovery_mails_from_ip", ("forgot-user-id", "r1", "10.0.0.1"), "recovery:forgot-user-id:ip:r1:10.0.0.1"),
    ("brute_force_member", ("r1", "U-1"), "brute-force:r1:user:u-1"),
    ("brute_force_member", ("r1", "login:Taro"), "brute-force:r1:user:login:taro"),
    ("brute_force_ip", ("r1", "10.0.0.1"), "brute-force:r1:ip:10.0.0.1"),
    ("rate_limit_count", ("sign-in", "10.0.0.1", 42), "rate-limit:sign-in:10.0.0.1:42"),
    ("rate_limit_used_up", ("token-client", "portal", 42), "rate-limit:token-client:portal:42:used-up"),
    ("used_otp_step", ("device-1", 37037037), "otp-used:device-1:37037037"),
    ("mailed_code", ("r1", "u1"), "email-code:r1:u1"),
    ("mailed_code_tries", ("r1", "u1", "n1"), "email-code:r1:u1:tries:n1"),
    ("mailed_code_send_slot", ("r1", "u1", 490000, 2), "email-code-sent:r1:u1:490000:2"),
    ("birthdate_attempts", ("r1", "u1"), "verify-birthdate:attempts:r1:u1"),
    ("birthdate_lock", ("r1", "u1"), "verify-birthdate:lock:r1:u1"),
]


@pytest.mark.parametrize("builder, arguments, stored", SPELLINGS)
def test_each_key_is_spelled_as_before(builder, arguments, stored):
    assert getattr(keys, builder)(*arguments) == stored


def test_every_builder_has_its_spelling_pinned():
    builders = {name for name, value in inspect.getmembers(keys, inspect.isfunction)
                if value.__module__ == keys.__name__}
    assert builders == {builder for builder, _, _ in SPELLINGS}
