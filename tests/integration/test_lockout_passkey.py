"""Passkeys under brute-force detection, as Keycloak counts a refused WebAuthn answer: a passkey
that does not verify (here, one signed for another site) counts like a wrong password, while a
cancelled browser dialog guessed nothing and does not count. During the lock even the member's
own passkey is refused, unchecked, with the sign-in page's lockout message."""
from __future__ import annotations

import pytest

from tests.support.lockout import LOCKED
from tests.support.passkeys import SoftAuthenticator, first_sign_in, register
from tests.support.sign_in import redirect_params

PHISHING_SITE = "http://kosmo-web.example.net"


@pytest.fixture
def member(tmp_path):
    with first_sign_in(tmp_path) as browser:
        yield browser


def refused_passkey(member, clock, phone) -> None:
    """An answer signed for another site; the member presses 再試行 on the page that follows."""
    clock.tick()
    member.press(credential=phone.get(member.options(), origin=PHISHING_SITE))
    assert "再試行してください" in member.page
    member.press(retry="1")


def test_ten_refused_passkeys_lock_the_member_even_against_their_own(member, clock):
    phone = SoftAuthenticator()
    register(member, phone)
    member.sign_in_again()
    for _ in range(10):
        refused_passkey(member, clock, phone)

    clock.tick()
    locked = member.press(credential=phone.get(member.options()))
    assert locked.status_code == 401 and LOCKED in member.page
    assert member.audit("USER_LOCKED")[0]["factor"] == "passkey"
    assert member.audit("LOGIN_ERROR")[-1]["error"] == "user_temporarily_disabled"
    assert member.passkeys()[0].last_used_at is None  # not even checked

    clock.tick(seconds=61)
    assert "code" in redirect_params(member.press(credential=phone.get(member.options())))


def test_cancelled_dialogs_do_not_count(member, clock):
    phone = SoftAuthenticator()
    register(member, phone)
    member.sign_in_again()
    for _ in range(12):
        clock.tick()
        member.press(webauthn_error="NotAllowedError")
        member.press(retry="1")

    assert "code" in redirect_params(member.press(credential=phone.get(member.options())))
    assert member.audit("USER_LOCKED") == []
