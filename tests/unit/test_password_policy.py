"""A society's password rules in Keycloak's policy syntax: parsing with operator-friendly
errors, and the Japanese reasons a member's new password is refused."""
from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from idp.config import CHECKOUT
from idp.security.password_policy import KINDS, PasswordPolicy, Violation
from idp.security.passwords import hash_password

MESSAGES = CHECKOUT / "themes" / "ja" / "messages" / "password-policy.yaml"


def keys(policy: str, password: str, **member) -> list[str]:
    return [violation.key for violation in PasswordPolicy.parse(policy).violations(password, **member)]


# Parsing


def test_the_default_realm_policy_parses_with_keycloaks_values():
    policy = PasswordPolicy.parse("length(8) and maxLength(64) and notUsername")
    assert policy.rules == {"length": 8, "maxLength": 64, "notUsername": None}
    assert (policy.min_length, policy.max_length) == (8, 64)


@pytest.mark.parametrize(
    "text, name, default",
    [
        ("length", "length", 8),
        ("length()", "length", 8),
        ("maxLength", "maxLength", 64),
        ("digits", "digits", 1),
        ("lowerCase()", "lowerCase", 1),
        ("upperCase", "upperCase", 1),
        ("specialChars", "specialChars", 1),
        ("passwordHistory", "passwordHistory", 3),
        ("forceExpiredPasswordChange", "forceExpiredPasswordChange", 365),
    ],
)
def test_an_omitted_argument_takes_keycloaks_default(text, name, default):
    assert PasswordPolicy.parse(text).rules[name] == default


def test_a_policy_exported_by_keycloaks_admin_console_parses():
    text = (
        "length(12) and maxLength(64) and notUsername(undefined) and notEmail(undefined) and digits(1) "
        "and lowerCase(1) and upperCase(1) and specialChars(1) and passwordHistory(5) "
        "and forceExpiredPasswordChange(90) and hashIterations(27500) and hashAlgorithm(pbkdf2-sha256)"
    )
    policy = PasswordPolicy.parse(text)
    assert policy.hash_algorithm == "pbkdf2-sha256"
    assert policy.hash_iterations == 27500
    assert policy.history_count == 5
    assert policy.days_until_expiry == 90
    assert policy.rules["notEmail"] is None


def test_an_empty_policy_allows_any_password_and_hashes_with_argon2():
    for text in ("", "   ", None):
        policy = PasswordPolicy.parse(text)
        assert policy.violations("x") == []
        assert (policy.hash_algorithm, policy.hash_iterations, policy.history_count) == ("argon2", None, 0)


def test_policies_may_be_spread_over_lines_in_the_realm_file():
    assert PasswordPolicy.parse("length(10)\n  and digits(2)").rules == {"length": 10, "digits": 2}


def test_a_misspelt_policy_name_is_named_with_a_suggestion():
    with pytest.raises(ValueError, match=r"unknown password policy 'lenght' \(did you mean 'length'\?\)"):
        PasswordPolicy.parse("lenght(8) and digits")


def test_a_policy_name_in_the_wrong_case_gets_the_right_spelling():
    with pytest.raises(ValueError, match=r"'MaxLength' \(did you mean 'maxLength'\?\)"):
        PasswordPolicy.parse("MaxLength(64)")


def test_a_made_up_policy_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown password policy 'zzz'; known policies: length, maxLength"):
        PasswordPolicy.parse("zzz")


@pytest.mark.parametrize(
    "text, problem",
    [
        ("length(eight)", r"length\(eight\) needs a whole number"),
        ("length(-1)", r"length\(-1\) needs a whole number"),
        ("digits(１)", r"digits\(１\) needs a whole number"),
        ("notUsername(3)", r"notUsername takes no argument"),
        ("allowedCharacters(abc)", r"allowedCharacters takes no argument"),
        ("regexPattern", r"regexPattern needs a regular expression"),
        ("regexPattern([a-z)", r"regexPattern\(\[a-z\) is not a valid regular expression"),
        ("hashAlgorithm(md5)", r"unknown hash algorithm; use one of argon2, pbkdf2, pbkdf2-sha256, pbkdf2-sha512"),
        ("hashIterations(0)", r"at least 1 iteration"),
        ("length(8) and length(10)", r"'length' appears twice"),
        ("length(70) and maxLength(64)", r"length\(70\) is more than maxLength\(64\)"),
        ("length(8) and", r"empty part around 'and'"),
        ("length(8) and  and digits", r"empty part around 'and'"),
        ("length(8", r"'length\(8' is not of the form name or name\(argument\)"),
    ],
)
def test_a_bad_part_of_the_policy_is_named_for_the_operator(text, problem):
    with pytest.raises(ValueError, match=problem):
        PasswordPolicy.parse(text)


def test_the_realm_schema_refuses_a_bad_policy_through_the_parser():
    from pydantic import ValidationError

    from idp.realms.schema import RealmConfig

    with pytest.raises(ValidationError, match="did you mean 'length'"):
        RealmConfig(realm="kosmo", password_policy="lenght(8)")


# Checking a new password


def test_too_short_and_too_long_passwords_are_refused_with_the_limits():
    policy = PasswordPolicy.parse("length(8) and maxLength(12)")
    assert policy.violations("Abc1234") == [Violation("password_policy.length", {"min": 8})]
    assert policy.violations("Abc12345") == []
    assert policy.violations("Abc123456789") == []
    assert policy.violations("Abc1234567890") == [Violation("password_policy.max_length", {"max": 12})]


@pytest.mark.parametrize(
    "policy, key, weak, strong",
    [
        ("digits(2)", "password_policy.digits", "abcdefg1", "abcdef12"),
        ("lowerCase(2)", "password_policy.lower_case", "ABCDEFa1", "ABCDEab1"),
        ("upperCase(2)", "password_policy.upper_case", "abcdefA1", "abcdeAB1"),
        ("specialChars(2)", "password_policy.special_chars", "abcdef#1", "abcd#$12"),
    ],
)
def test_character_class_counts_are_enforced(policy, key, weak, strong):
    assert PasswordPolicy.parse(policy).violations(weak) == [Violation(key, {"min": 2})]
    assert PasswordPolicy.parse(policy).violations(strong) == []


def test_the_user_id_as_password_is_refused_whatever_its_case():
    assert keys("notUsername", "Yamada01", username="yamada01") == ["password_policy.not_username"]
    assert keys("notUsername", "yamada01x", username="yamada01") == []
    assert keys("notUsername", "anything", username="") == []


def test_a_password_containing_the_user_id_is_refused_when_the_realm_asks():
    assert keys("notContainsUsername", "my-YAMADA01-pw", username="yamada01") == [
        "password_policy.not_contains_username"]
    assert keys("notContainsUsername", "my-pw", username="yamada01") == []


def test_the_email_address_as_password_is_refused():
    assert keys("notEmail", "Hanako@Example.jp", email="hanako@example.jp") == ["password_policy.not_email"]
    assert keys("notEmail", "hanako@example.jp!", email="hanako@example.jp") == []
    assert keys("notEmail", "hanako@example.jp", email="") == []


def test_a_recently_used_password_is_refused(settings):
    newest_first = [hash_password(password, settings) for password in ("Current#1", "Older#2", "Oldest#3")]
    policy = PasswordPolicy.parse("passwordHistory(2)")
    assert policy.violations("Current#1", previous_hashes=newest_first) == [
        Violation("password_policy.history", {"count": 2})
    ]
    assert keys("passwordHistory(2)", "Older#2", previous_hashes=newest_first) == ["password_policy.history"]
    # Only the last two count: the oldest one may come back.
    assert keys("passwordHistory(2)", "Oldest#3", previous_hashes=newest_first) == []
    assert keys("passwordHistory(2)", "Brand-new#4", previous_hashes=newest_first) == []


def test_the_regex_pattern_must_match_the_whole_password_like_java_matches():
    assert keys("regexPattern([a-z]+[0-9]+)", "abc123") == []
    assert keys("regexPattern([a-z]+[0-9]+)", "abc123!") == ["password_policy.regex_pattern"]


def test_hash_settings_and_expiry_never_refuse_a_password():
    policy = PasswordPolicy.parse("hashAlgorithm(pbkdf2) and hashIterations(1000) and forceExpiredPasswordChange(30)")
    assert policy.violations("x") == []


def test_every_character_of_the_members_guide_is_allowed():
    guide = "abcxyzABCXYZ0189" + "!\"#$%&'()*=~/`{+}<>?_-^¥@[;:],."
    assert keys("allowedCharacters", guide) == []


def test_a_backslash_is_allowed_because_the_yen_key_types_it_on_windows():
    assert keys("allowedCharacters", "Yamada\\2024") == []


@pytest.mark.parametrize("password, shown", [
    ("ｙａｍａｄａ2024", "ｙ、ａ、ｍ、ｄ"), ("yama da", "スペース"), ("pass|word", "|"), ("パス1", "パ、ス"),
])
def test_characters_outside_the_guide_are_refused_and_named(password, shown):
    [violation] = PasswordPolicy.parse("allowedCharacters").violations(password)
    assert violation.key == "password_policy.allowed_characters"
    assert violation.params["invalid"] == shown


def test_all_violations_are_reported_in_the_order_of_the_policy():
    assert keys("upperCase and length(10) and digits", "abc") == [
        "password_policy.upper_case",
        "password_policy.length",
        "password_policy.digits",
    ]


# Messages


def every_violation() -> list[Violation]:
    """At least one violation of every checking policy, produced by the real checks."""
    policy = PasswordPolicy.parse(
        "length(20) and maxLength(20) and digits and lowerCase and upperCase and specialChars "
        "and notUsername and notContainsUsername and notEmail and regexPattern(x) and allowedCharacters"
    )
    found = policy.violations("あ", username="あ", email="あ")
    found += policy.violations("a" * 21)
    return found + [Violation("password_policy.history", {"count": 3})]


def test_every_violation_has_a_japanese_message_with_its_placeholders():
    texts = YAML(typ="safe").load(MESSAGES.read_text(encoding="utf-8"))
    violations = every_violation()
    checking = {name for name, kind in KINDS.items() if kind.check}
    assert len({v.key for v in violations}) == len(checking)
    for violation in violations:
        text = texts[violation.key].format(**violation.params)
        assert "{" not in text.replace(violation.params.get("characters", ""), "")
        assert any("\u3040" <= c <= "\u30ff" for c in text), f"{violation.key} is not Japanese"


def test_the_allowed_characters_message_lists_the_guides_symbols():
    texts = YAML(typ="safe").load(MESSAGES.read_text(encoding="utf-8"))
    [violation] = PasswordPolicy.parse("allowedCharacters").violations("ａ")
    text = texts[violation.key].format(**violation.params)
    assert "（ａ）" in text
    assert text.endswith("!\"#$%&'()*=~/`{+}<>?_-^¥@[;:],.")


def test_the_messages_file_defines_only_password_policy_keys():
    texts = YAML(typ="safe").load(Path(MESSAGES).read_text(encoding="utf-8"))
    assert all(key.startswith("password_policy.") for key in texts)
