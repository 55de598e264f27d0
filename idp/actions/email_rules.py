"""Which email addresses a member may set: the grammar behind the errors of docs/member-screens.md §2, step 6.

Accepted: `local@domain`, ASCII only, at most 255 characters in all (docs/member-screens.md §2), where
- the local part is a dot-atom (RFC 5322 §3.2.3) of at most 64 characters (RFC 5321 §4.5.3.1.1):
  runs of letters, digits and ``!#$%&'*+/=^_`{|}~-`` joined by single dots, so no leading,
  trailing or doubled dot. `?` is RFC-valid but docs/member-screens.md §2 names it as an invalid symbol;
- the domain is two or more labels joined by dots, each 1 to 63 letters, digits and hyphens
  that neither starts nor ends with a hyphen.
Quoted local parts, comments, address literals (`[192.0.2.1]`) and non-ASCII (full-width `＠`,
internationalised domains) are refused: members type everyday addresses, and a stricter rule
catches more typos than it turns away real mailboxes.
"""
from __future__ import annotations

import re

MAX_LENGTH = 255
MAX_LOCAL_PART_LENGTH = 64

EMPTY = "empty"
INVALID = "invalid"
TOO_LONG = "too_long"

_ATOM = r"[A-Za-z0-9!#$%&'*+/=^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_LOCAL_PART = re.compile(rf"{_ATOM}(?:\.{_ATOM})*", re.ASCII)
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+", re.ASCII)


def email_problems(address: str) -> list[str]:
    """What is wrong with `address` (already stripped): [] when it may be set, else some of
    EMPTY, INVALID, TOO_LONG. Too long always comes with INVALID, as the guide's table shows."""
    if not address:
        return [EMPTY]
    if len(address) > MAX_LENGTH:
        return [INVALID, TOO_LONG]
    return [] if is_valid_email(address) else [INVALID]


def is_valid_email(address: str) -> bool:
    local_part, at, domain = address.rpartition("@")
    return bool(
        at
        and len(address) <= MAX_LENGTH
        and len(local_part) <= MAX_LOCAL_PART_LENGTH
        and _LOCAL_PART.fullmatch(local_part)
        and _DOMAIN.fullmatch(domain)
    )
