"""TOTP codes match RFC 6238's published test vectors and Keycloak's look-around window."""
from __future__ import annotations

import pytest

from idp.authenticators.totp import code_at, matching_counter, matching_step

# RFC 6238 Appendix B: the seeds are ASCII "12345678901234567890" repeated to the hash size.
SEEDS = {
    "HmacSHA1": b"12345678901234567890",
    "HmacSHA256": b"12345678901234567890123456789012",
    "HmacSHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize("when, sha1, sha256, sha512", VECTORS)
def test_codes_match_rfc_6238(when, sha1, sha256, sha512):
    for algorithm, expected in (("HmacSHA1", sha1), ("HmacSHA256", sha256), ("HmacSHA512", sha512)):
        assert code_at(SEEDS[algorithm], when // 30, digits=8, algorithm=algorithm) == expected


def test_a_code_one_step_early_or_late_is_accepted_and_two_steps_is_not():
    key = SEEDS["HmacSHA1"]
    now = 1111111111
    step = now // 30
    assert matching_step(key, code_at(key, step - 1), now=now) == step - 1
    assert matching_step(key, code_at(key, step + 1), now=now) == step + 1
    assert matching_step(key, code_at(key, step + 2), now=now) is None


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", "12 34 56"])
def test_malformed_codes_never_match(typed):
    assert matching_step(SEEDS["HmacSHA1"], typed, now=59) is None


def test_counter_based_devices_accept_the_next_counter_and_report_it():
    key = SEEDS["HmacSHA1"]
    assert matching_counter(key, code_at(key, 8), counter=7) == 8
    assert matching_counter(key, code_at(key, 9), counter=7) is None
