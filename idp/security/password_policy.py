"""A realm's password rules, written in Keycloak's password-policy syntax, and the check of a
new password against them.

Syntax (as Keycloak's PasswordPolicy.parse): policies joined by " and ", each `name` or
`name(argument)`, e.g. `length(8) and maxLength(64) and notUsername and digits(1)`. An omitted
or empty argument takes Keycloak's default; `undefined` (what Keycloak's admin console writes
for policies without an argument, e.g. `notUsername(undefined)`) counts as no argument.
The empty string is no policy at all.

Besides Keycloak's names there is one of our own, `allowedCharacters`: the password may contain
only the characters the members' guide lists (half-width letters and digits and
!"#$%&'()*=~/`{+}<>?_-^¥@[;:],.). The backslash is accepted as well as the yen sign: a Japanese
keyboard's ¥ key types U+005C on Windows but U+00A5 on a Mac, and both look like ¥ in
Japanese fonts, so a member cannot tell which one they typed.
"""
from __future__ import annotations

import difflib
import re
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from idp.security.passwords import ALGORITHMS, ARGON2, verify_password

GUIDE_SYMBOLS = "!\"#$%&'()*=~/`{+}<>?_-^¥@[;:],."
GUIDE_CHARACTERS = frozenset(string.ascii_letters + string.digits + GUIDE_SYMBOLS + "\\")
NO_ARGUMENT_MARKERS = ("", "undefined")


@dataclass(frozen=True)
class Violation:
    """One rule a password breaks: `key` names its Japanese message, `params` fill it in."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Member:
    username: str
    email: str
    previous_hashes: tuple[tuple[Mapping[str, Any] | str, Mapping[str, Any] | str], ...]


@dataclass(frozen=True)
class _Kind:
    """How one policy name reads its argument and checks a password (None: no check). The
    argument's type is the kind's own (a number, a pattern, none), hence Any here."""

    read: Callable[[str, str | None], Any]
    check: Callable[[Any, str, _Member], Violation | None] | None = None


class PasswordPolicy:
    """A parsed password-policy string; `violations()` lists what a new password breaks."""

    def __init__(self, text: str, rules: Iterable[tuple[str, Any]]):
        self.text = text
        self.rules: dict[str, Any] = dict(rules)

    @classmethod
    def parse(cls, text: str) -> PasswordPolicy:
        """Read Keycloak's policy syntax; ValueError names the part an operator must fix."""
        text = (text or "").strip()
        rules: dict[str, Any] = {}
        if text:
            for part in re.split(r"(?<!\S)and(?!\S)", text):
                name, config = _read_part(part.strip(), text)
                if name in rules:
                    raise ValueError(f"password policy {name!r} appears twice in {text!r}; keep one")
                rules[name] = config
        _check_lengths_agree(rules)
        return cls(text, rules.items())

    def violations(
        self,
        password: str,
        *,
        username: str | None = "",
        email: str | None = "",
        previous_hashes: Iterable[tuple[Mapping[str, Any] | str, Mapping[str, Any] | str]] = (),
    ) -> list[Violation]:
        """Every rule `password` breaks, in the order the policy lists them.

        `previous_hashes` are (secret_data, credential_data) pairs, newest first, starting with
        the member's current password; passwordHistory(n) compares with the first n of them.
        """
        member = _Member(username or "", email or "", tuple(previous_hashes))
        found = []
        for name, config in self.rules.items():
            check = KINDS[name].check
            violation = check(config, password, member) if check else None
            if violation:
                found.append(violation)
        return found

    @property
    def hash_algorithm(self) -> str:
        """Kept so a Keycloak policy round-trips; new hashes are always argon2id with the
        settings' cost (idp.security.passwords), which is at least as strong as any choice here."""
        return self.rules.get("hashAlgorithm") or ARGON2

    @property
    def hash_iterations(self) -> int | None:
        return self.rules.get("hashIterations")

    @property
    def history_count(self) -> int:
        return self.rules.get("passwordHistory", 0)

    @property
    def min_length(self) -> int:
        return self.rules.get("length", 0)

    @property
    def max_length(self) -> int | None:
        return self.rules.get("maxLength")

    @property
    def days_until_expiry(self) -> int | None:
        """forceExpiredPasswordChange(days): how long a password lasts, None when forever."""
        return self.rules.get("forceExpiredPasswordChange")

    def __repr__(self) -> str:
        return f"PasswordPolicy.parse({self.text!r})"


def _read_part(part: str, text: str) -> tuple[str, Any]:
    if not part:
        raise ValueError(f"password policy {text!r} has an empty part around 'and'")
    match = re.fullmatch(r"([A-Za-z]+)\s*(?:\((.*)\))?", part, flags=re.DOTALL)
    if not match:
        raise ValueError(f"password policy part {part!r} is not of the form name or name(argument)")
    name, raw = match.group(1), match.group(2)
    if name not in KINDS:
        raise ValueError(_unknown_name_message(name))
    return name, KINDS[name].read(name, raw)


def _unknown_name_message(name: str) -> str:
    close = difflib.get_close_matches(name, KINDS, n=1, cutoff=0.5)
    close = close or [known for known in KINDS if known.lower() == name.lower()]
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown password policy {name!r}{hint}; known policies: {', '.join(KINDS)}"


def _check_lengths_agree(rules: Mapping[str, Any]) -> None:
    if "length" in rules and "maxLength" in rules and rules["length"] > rules["maxLength"]:
        raise ValueError(
            f"password policy length({rules['length']}) is more than maxLength({rules['maxLength']}): "
            "no password could satisfy both"
        )


# Arguments


def _whole_number(default: int | None) -> Callable[[str, str | None], int | None]:
    def read(name: str, raw: str | None) -> int | None:
        if raw is None or raw.strip() == "":
            return default
        if not raw.strip().isascii() or not raw.strip().isdigit():
            example = f"{name}({default or 1})"
            raise ValueError(f"password policy {name}({raw}) needs a whole number of 0 or more, e.g. {example}")
        return int(raw.strip())

    return read


def _no_argument(name: str, raw: str | None) -> None:
    if raw is not None and raw.strip() not in NO_ARGUMENT_MARKERS:
        raise ValueError(f"password policy {name} takes no argument; write {name}, not {name}({raw})")
    return None


def _regex(name: str, raw: str | None) -> re.Pattern:
    if raw is None or not raw.strip():
        raise ValueError(f"password policy {name} needs a regular expression, e.g. {name}([A-Za-z0-9]+)")
    try:
        return re.compile(raw)
    except re.error as problem:
        raise ValueError(f"password policy {name}({raw}) is not a valid regular expression: {problem}") from None


def _algorithm(name: str, raw: str | None) -> str:
    algorithm = (raw or "").strip() or ARGON2
    if algorithm not in ALGORITHMS:
        known = ", ".join(ALGORITHMS)
        raise ValueError(f"password policy {name}({raw}): unknown hash algorithm; use one of {known}")
    return algorithm


def _iterations(name: str, raw: str | None) -> int | None:
    iterations = _whole_number(None)(name, raw)
    if iterations == 0:
        raise ValueError(f"password policy {name}(0): hashing needs at least 1 iteration")
    return iterations


# Checks


def _check_length(minimum: int, password: str, member: _Member) -> Violation | None:
    return Violation("password_policy.length", {"min": minimum}) if len(password) < minimum else None


def _check_max_length(maximum: int, password: str, member: _Member) -> Violation | None:
    return Violation("password_policy.max_length", {"max": maximum}) if len(password) > maximum else None


def _at_least(key: str, counts: Callable[[str], bool]) -> Callable[[int, str, _Member], Violation | None]:
    def check(minimum: int, password: str, member: _Member) -> Violation | None:
        return Violation(key, {"min": minimum}) if sum(map(counts, password)) < minimum else None

    return check


def _is_special(character: str) -> bool:
    # Keycloak counts as special whatever Java's Character.isLetterOrDigit rejects.
    return not character.isalnum()


def _check_not_username(config: None, password: str, member: _Member) -> Violation | None:
    # Case-insensitive, unlike Keycloak's exact comparison: "Yamada01" for user "yamada01"
    # is no safer than the user ID itself.
    same = member.username and password.casefold() == member.username.casefold()
    return Violation("password_policy.not_username") if same else None


def _check_not_contains_username(config: None, password: str, member: _Member) -> Violation | None:
    inside = member.username and member.username.casefold() in password.casefold()
    return Violation("password_policy.not_contains_username") if inside else None


def _check_not_email(config: None, password: str, member: _Member) -> Violation | None:
    same = member.email and password.casefold() == member.email.casefold()
    return Violation("password_policy.not_email") if same else None


def _check_history(count: int, password: str, member: _Member) -> Violation | None:
    recent = member.previous_hashes[:count]
    reused = any(verify_password(password, secret, data) for secret, data in recent)
    return Violation("password_policy.history", {"count": count}) if reused else None


def _check_regex(pattern: re.Pattern[str], password: str, member: _Member) -> Violation | None:
    # Java's Matcher.matches(): the whole password must match, not just a part of it.
    return None if pattern.fullmatch(password) else Violation("password_policy.regex_pattern")


def _check_allowed_characters(config: None, password: str, member: _Member) -> Violation | None:
    wrong = sorted({c for c in password if c not in GUIDE_CHARACTERS}, key=password.index)
    if not wrong:
        return None
    shown = "、".join("スペース" if c.isspace() else c for c in wrong)
    return Violation("password_policy.allowed_characters", {"invalid": shown, "characters": GUIDE_SYMBOLS})


KINDS: dict[str, _Kind] = {
    "length": _Kind(_whole_number(8), _check_length),
    "maxLength": _Kind(_whole_number(64), _check_max_length),
    "digits": _Kind(_whole_number(1), _at_least("password_policy.digits", str.isdecimal)),
    "lowerCase": _Kind(_whole_number(1), _at_least("password_policy.lower_case", str.islower)),
    "upperCase": _Kind(_whole_number(1), _at_least("password_policy.upper_case", str.isupper)),
    "specialChars": _Kind(_whole_number(1), _at_least("password_policy.special_chars", _is_special)),
    "notUsername": _Kind(_no_argument, _check_not_username),
    "notContainsUsername": _Kind(_no_argument, _check_not_contains_username),
    "notEmail": _Kind(_no_argument, _check_not_email),
    "passwordHistory": _Kind(_whole_number(3), _check_history),
    "regexPattern": _Kind(_regex, _check_regex),
    "allowedCharacters": _Kind(_no_argument, _check_allowed_characters),
    "hashAlgorithm": _Kind(_algorithm),
    "hashIterations": _Kind(_iterations),
    "forceExpiredPasswordChange": _Kind(_whole_number(365)),
}
