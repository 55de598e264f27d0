"""Reading a date of birth from the three boxes (年 / 月 / 日) every page that asks for one shows:
the date-of-birth step and ユーザIDを忘れた方はこちら."""
from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import date

PARTS = ("year", "month", "day")
EARLIEST_YEAR = 1900


class InvalidBirthdate(ValueError):
    """What the member typed is not a date of birth at all; `key` names the message."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def half_width(text: str) -> str:
    """Full-width digits (０-９), as Japanese input methods type them, become 0-9."""
    return unicodedata.normalize("NFKC", text or "").strip()


def read_birthdate(entered: Mapping[str, str], today: date) -> date:
    """The date the three boxes spell, or InvalidBirthdate saying what is wrong with it."""
    if not all(entered.get(part) for part in PARTS):
        raise InvalidBirthdate("verify_birthdate.missing")
    if not all(entered[part].isascii() and entered[part].isdigit() for part in PARTS):
        raise InvalidBirthdate("verify_birthdate.not_a_number")
    try:
        birthdate = date(*(int(entered[part]) for part in PARTS))
    except (ValueError, OverflowError):  # no such day, or more digits than int() or a date takes
        raise InvalidBirthdate("verify_birthdate.no_such_date") from None
    if not date(EARLIEST_YEAR, 1, 1) <= birthdate <= today:
        raise InvalidBirthdate("verify_birthdate.out_of_range")
    return birthdate
