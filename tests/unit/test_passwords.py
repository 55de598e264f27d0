"""Password hashes in Keycloak's credential shape: new argon2id hashes, and hashes imported
from Keycloak realm exports (argon2 and the PBKDF2 family) verified exactly as Keycloak does."""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import time

import pytest

from idp.security import passwords
from idp.security.passwords import (
    dummy_verify,
    hash_password,
    keycloak_json,
    needs_rehash,
    parse_keycloak_json,
    verify_password,
)

# Real credentials copied from public Keycloak realm exports whose documentation gives the
# plaintext ("password" in each case). They are the strings Keycloak itself wrote.
KEYCLOAK_26_ARGON2 = (
    # MadsRC/trustedai testing/keycloak/testrealm01-realm.json, user1 / password
    '{"value":"4DGrrRilL1dmNfEyser4lflpZT8q1iU4xLwqAezpI6w=","salt":"9aEsed7VTE6KgiAGzb7aBg==","additionalParameters":{}}',
    '{"hashIterations":5,"algorithm":"argon2","additionalParameters":{"hashLength":["32"],"memory":["7168"],'
    '"type":["id"],"version":["1.3"],"parallelism":["1"]}}',
)
KEYCLOAK_25_PBKDF2_SHA256_256_BIT = (
    # Solo.io Gloo Mesh workshop realm for Keycloak 25.0.5, user1 / password
    '{"value":"JsfNbCOIdZUbyBJ+BT+VoGI91Ec2rWLOvkLPDaX8e9k=","salt":"P5rtFkGtPfoaryJ6PizUJw==","additionalParameters":{}}',
    '{"hashIterations":27500,"algorithm":"pbkdf2-sha256","additionalParameters":{}}',
)
KEYCLOAK_PBKDF2_SHA256_512_BIT = (
    # A Keycloak database dump (CREDENTIAL table) of 2023, whose one user's password is "password"
    '{"value":"m0BD19dXBu3D0SumRDS876Gfc1VdHls+941de1g2hkgDnSqg0Coi3rlJLVToXfnqpqAiwWv0erTbgVl0/Cs7QQ==",'
    '"salt":"oTccwgqXnc+IwS9Kc/8KWg==","additionalParameters":{}}',
    '{"hashIterations":27500,"algorithm":"pbkdf2-sha256","additionalParameters":{}}',
)


def pbkdf2_credential(password: str, algorithm: str, digest: str, iterations: int, key_bytes: int):
    """A credential computed independently of the module, the way Keycloak would store it."""
    salt = b"kosmo-test-salt!"
    value = hashlib.pbkdf2_hmac(digest, password.encode("utf-8"), salt, iterations, key_bytes)
    secret = {"value": base64.b64encode(value).decode(), "salt": base64.b64encode(salt).decode(),
              "additionalParameters": {}}
    data = {"hashIterations": iterations, "algorithm": algorithm, "additionalParameters": {}}
    return secret, data


@pytest.mark.parametrize("credential", [
    KEYCLOAK_26_ARGON2, KEYCLOAK_25_PBKDF2_SHA256_256_BIT, KEYCLOAK_PBKDF2_SHA256_512_BIT,
])
def test_a_member_imported_from_keycloak_signs_in_with_the_same_password(credential):
    secret, data = credential
    assert verify_password("password", secret, data)
    assert not verify_password("Password", secret, data)
    assert not verify_password("password ", secret, data)


@pytest.mark.parametrize(
    "algorithm, digest",
    [("pbkdf2", "sha1"), ("pbkdf2-sha256", "sha256"), ("pbkdf2-sha512", "sha512")],
)
@pytest.mark.parametrize("key_bytes", [64, 32, 20])
def test_every_keycloak_pbkdf2_variant_verifies_with_the_stored_key_length(algorithm, digest, key_bytes):
    secret, data = pbkdf2_credential("やまだ太郎Pass1", algorithm, digest, 1000, key_bytes)
    assert verify_password("やまだ太郎Pass1", secret, data)
    assert not verify_password("やまだ太郎Pass2", secret, data)


def test_pbkdf2_uses_the_iterations_stored_with_the_credential():
    secret, data = pbkdf2_credential("s3cret!", "pbkdf2-sha256", "sha256", 1000, 64)
    assert not verify_password("s3cret!", secret, {**data, "hashIterations": 1001})


def test_a_new_hash_has_keycloaks_argon2_shape(settings):
    secret, data = hash_password("Tanaka#2024", settings)
    assert set(secret) == {"value", "salt", "additionalParameters"}
    assert secret["additionalParameters"] == {}
    assert len(base64.b64decode(secret["value"])) == 32
    assert len(base64.b64decode(secret["salt"])) == 16
    assert data == {
        "hashIterations": settings.argon2_time_cost,
        "algorithm": "argon2",
        "additionalParameters": {
            "hashLength": ["32"],
            "memory": [str(settings.argon2_memory_kib)],
            "type": ["id"],
            "version": ["1.3"],
            "parallelism": [str(settings.argon2_parallelism)],
        },
    }


def test_a_new_hash_verifies_and_two_hashes_of_one_password_differ(settings):
    first = hash_password("Tanaka#2024", settings)
    second = hash_password("Tanaka#2024", settings)
    assert verify_password("Tanaka#2024", *first)
    assert not verify_password("tanaka#2024", *first)
    assert first[0]["salt"] != second[0]["salt"]


def test_a_tampered_hash_or_salt_is_refused(settings):
    secret, data = hash_password("Tanaka#2024", settings)
    raw = bytearray(base64.b64decode(secret["value"]))
    raw[0] ^= 1
    assert not verify_password("Tanaka#2024", {**secret, "value": base64.b64encode(bytes(raw)).decode()}, data)
    assert not verify_password("Tanaka#2024", {**secret, "salt": base64.b64encode(b"another salt 16b").decode()}, data)


def test_a_changed_argon2_parameter_in_the_stored_data_is_refused(settings):
    secret, data = hash_password("Tanaka#2024", settings)
    changed = json.loads(json.dumps(data))
    changed["additionalParameters"]["type"] = ["i"]
    assert not verify_password("Tanaka#2024", secret, changed)
    assert not verify_password("Tanaka#2024", secret, {**data, "hashIterations": data["hashIterations"] + 1})


@pytest.mark.parametrize("kind, version", [("i", "1.3"), ("d", "1.3"), ("id", "1.0")])
def test_argon2_variants_keycloak_can_store_verify(kind, version):
    from argon2.low_level import Type, hash_secret_raw

    salt = b"0123456789abcdef"
    raw = hash_secret_raw(
        b"Pass-word1", salt, time_cost=1, memory_cost=256, parallelism=2, hash_len=24,
        type={"i": Type.I, "d": Type.D, "id": Type.ID}[kind], version={"1.3": 0x13, "1.0": 0x10}[version],
    )
    secret = {"value": base64.b64encode(raw).decode(), "salt": base64.b64encode(salt).decode()}
    data = {
        "hashIterations": 1,
        "algorithm": "argon2",
        "additionalParameters": {
            "hashLength": ["24"], "memory": ["256"], "type": [kind], "version": [version], "parallelism": ["2"],
        },
    }
    assert verify_password("Pass-word1", secret, data)
    assert not verify_password("Pass-word2", secret, data)


def test_argon2_parameters_left_out_take_keycloaks_defaults():
    secret, data = (json.loads(part) for part in KEYCLOAK_26_ARGON2)
    # id, 1.3, 32 bytes, 7168 KiB, parallelism 1 and 5 iterations are Keycloak's defaults.
    assert verify_password("password", secret, {"algorithm": "argon2"})


def test_credentials_given_as_keycloak_json_strings_or_dicts_verify_alike():
    secret, data = KEYCLOAK_25_PBKDF2_SHA256_256_BIT
    assert verify_password("password", json.loads(secret), json.loads(data))
    assert verify_password("password", secret, json.loads(data))
    assert parse_keycloak_json(keycloak_json(json.loads(secret))) == json.loads(secret)


def test_keycloak_json_is_the_compact_string_keycloak_exports():
    assert keycloak_json(json.loads(KEYCLOAK_26_ARGON2[1])) == KEYCLOAK_26_ARGON2[1]


def test_an_unknown_algorithm_is_refused_and_logged_once(caplog):
    secret, _ = KEYCLOAK_25_PBKDF2_SHA256_256_BIT
    data = '{"hashIterations":10,"algorithm":"bcrypt-for-tests","additionalParameters":{}}'
    with caplog.at_level(logging.WARNING, logger=passwords.__name__):
        assert verify_password("password", secret, data) is False
        assert verify_password("password", secret, data) is False
    assert sum("bcrypt-for-tests" in record.getMessage() for record in caplog.records) == 1


@pytest.mark.parametrize(
    "secret, data",
    [
        ("not json", '{"algorithm":"pbkdf2"}'),
        ('{"value":"%%%","salt":"AAAA"}', '{"algorithm":"pbkdf2","hashIterations":10}'),
        ('{"value":"AAAA","salt":"AAAA"}', '{"algorithm":"pbkdf2"}'),
        ('{"value":"","salt":"AAAA"}', '{"algorithm":"pbkdf2","hashIterations":10}'),
        ('{"salt":"AAAA"}', '{"algorithm":"argon2"}'),
        ('{"value":"AAAA","salt":"AAAA"}', '{"algorithm":"argon2","additionalParameters":{"type":["x"]}}'),
        ('{"value":"AAAA","salt":"AAAA"}', '{"algorithm":"argon2","additionalParameters":{"memory":["1"]}}'),
        ("[]", "{}"),
        ('{"value":"AAAA","salt":"AAAA"}', '{"algorithm":"argon2","additionalParameters":["id"]}'),
        (None, None),
    ],
)
def test_a_damaged_credential_is_refused_without_an_exception(secret, data):
    assert verify_password("password", secret, data) is False


def test_an_imported_pbkdf2_hash_is_rehashed_at_next_sign_in(settings):
    assert needs_rehash(KEYCLOAK_25_PBKDF2_SHA256_256_BIT[1], settings)
    assert needs_rehash({"algorithm": "pbkdf2-sha512", "hashIterations": 210000}, settings)


def test_a_hash_made_with_the_current_settings_is_kept(settings):
    _, data = hash_password("Tanaka#2024", settings)
    assert not needs_rehash(data, settings)
    assert not needs_rehash(keycloak_json(data), settings)


@pytest.mark.parametrize(
    "change",
    [{"argon2_time_cost": 3}, {"argon2_memory_kib": 2048}, {"argon2_parallelism": 2}],
)
def test_a_hash_is_rehashed_when_the_argon2_settings_change(settings, change):
    from dataclasses import replace

    _, data = hash_password("Tanaka#2024", settings)
    assert needs_rehash(data, replace(settings, **change))


def test_a_keycloak_argon2i_hash_or_damaged_data_is_rehashed(settings):
    _, data = hash_password("Tanaka#2024", settings)
    argon2i = json.loads(json.dumps(data))
    argon2i["additionalParameters"]["type"] = ["i"]
    assert needs_rehash(argon2i, settings)
    assert needs_rehash("not json", settings)
    assert needs_rehash({"algorithm": "argon2", "additionalParameters": ["id"]}, settings)
    assert needs_rehash({"algorithm": "argon2", "additionalParameters": {"memory": ["lots"]}}, settings)


def test_an_unknown_user_id_costs_as_much_time_as_a_wrong_password(settings):
    from dataclasses import replace

    # Costly enough that the hash, not Python overhead, dominates the timing.
    costly = replace(settings, argon2_memory_kib=8192, argon2_time_cost=2)
    credential = hash_password("Tanaka#2024", costly)

    def fastest(action) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            action()
            times.append(time.perf_counter() - start)
        return min(times)

    wrong_password = fastest(lambda: verify_password("wrong", *credential))
    unknown_user = fastest(lambda: dummy_verify("wrong", costly))
    assert 0.5 < unknown_user / wrong_password < 2.0
