"""Provisioning members from a society's CSV file: every row is checked before anything is
written, then the new members are created, each with a temporary password and every first
sign-in step still ahead of them.

Decisions an operator should know:
- The file is UTF-8, with or without a BOM (Excel's "CSV UTF-8" writes one); Shift_JIS from an
  older Excel is refused with a hint rather than guessed at.
- The header names the columns in `COLUMNS` (any order, case and surrounding spaces ignored).
- Initial passwords are only checked for being present and at most 64 characters: societies
  print them on letters by their own rules, and the member replaces them at first sign-in,
  where the realm's password policy applies. The same goes for user IDs and the realm's
  user-ID policy (the member chooses their own ID later).
- Rows naming a user ID that already exists are left untouched, whatever they say, so a file
  can be imported again after adding rows.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp.db.models import Realm, User
from idp.db.users import UserExists, create_user, normalize_email

COLUMNS = ("user_id", "initial_password", "birthdate", "last_name", "first_name", "email")
MAX_USER_ID = 255
MAX_PASSWORD = 64
MAX_NAME = 255
MAX_EMAIL = 254  # the longest address SMTP can carry (RFC 5321 4.5.3.1.3)
EARLIEST_BIRTHDATE = date(1900, 1, 1)

# ISO dates, and the YYYY/M/D Excel writes for Japanese locales; one separator per date.
_DATE = re.compile(r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})")
# Printable ASCII without spaces: a full-width "ｙａｍａｄａ" from an IME is a mistake to catch.
_LOGIN = re.compile(r"[!-~]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_LOOKUP_CHUNK = 500  # values per IN (...) query: well under every database's parameter limit

# Wraps a list while it is worked through, e.g. with a progress bar: track(items, label).
Track = Callable[[list, str], AbstractContextManager[Iterable]]


def no_progress(items: list, label: str) -> AbstractContextManager[Iterable]:
    return nullcontext(items)


@dataclass(frozen=True)
class Problem:
    """What is wrong, and where: `line` counts the file's lines from 1 (the header), or is None."""

    line: int | None
    message: str


class MemberFileRefused(Exception):
    """The file cannot be imported; `problems` lists every reason found, in line order."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(problems, key=lambda problem: problem.line or 0)
        super().__init__(f"{len(self.problems)} problem(s)")


@dataclass(frozen=True)
class MemberRow:
    """One checked row: user ID and email lower-cased, the email None when the cell is empty."""

    line: int
    user_id: str
    initial_password: str
    birthdate: date
    last_name: str
    first_name: str
    email: str | None


@dataclass(frozen=True)
class ImportResult:
    created: int
    unchanged: int


def read_member_file(path: str | Path, track: Track = no_progress) -> list[MemberRow]:
    """Every row of the file, checked; raises MemberFileRefused listing all problems found."""
    records = _records(_decode(Path(path).read_bytes()))
    if not records:
        expected = ",".join(COLUMNS)
        raise MemberFileRefused([Problem(None, f"the file is empty; its first line must be the header {expected}")])
    header_line, header = records[0]
    positions = _column_positions(header_line, header)
    rows, problems = [], []
    with track(records[1:], "checking rows") as body:
        for line, cells in body:
            row, row_problems = _read_row(line, cells, positions, width=len(header))
            problems += row_problems
            if row is not None:
                rows.append(row)
    problems += _repeated_in_file(rows)
    if problems:
        raise MemberFileRefused(problems)
    return rows


def import_members(session: Session, realm: Realm, rows: list[MemberRow], settings, track: Track = no_progress,
                   hashes: dict[str, tuple[dict, dict]] | None = None) -> ImportResult:
    """Create the members whose user IDs do not exist yet; existing members stay as they are.

    `hashes` (from `hash_initial_passwords`, made before the transaction) spares the
    transaction the argon2 work; a row without one is hashed here. Raises MemberFileRefused
    when a row clashes with a stored member; the caller's transaction must then be rolled back,
    so that the file is imported whole or not at all.
    """
    new, unchanged = plan_import(session, realm, rows)
    hashes = hashes or {}
    with track(new, "creating members") as creating:
        for row in creating:
            _create_member(session, realm, row, settings, hashes.get(row.user_id))
    return ImportResult(created=len(new), unchanged=unchanged)


def hash_initial_passwords(rows: list[MemberRow], settings, track: Track = no_progress) -> dict[str, tuple[dict, dict]]:
    """argon2id hashes of the rows' initial passwords, by user ID (slow: do it outside a transaction)."""
    from idp.security.passwords import hash_password

    with track(rows, "hashing initial passwords") as hashing:
        return {row.user_id: hash_password(row.initial_password, settings) for row in hashing}


def plan_import(session: Session, realm: Realm, rows: list[MemberRow]) -> tuple[list[MemberRow], int]:
    """The rows of members still to create, and how many rows name existing members."""
    existing = _existing_users(session, realm, [row.user_id for row in rows])
    new = [row for row in rows if row.user_id not in existing]
    problems = [
        Problem(row.line, f"user_id {row.user_id!r} is the service account of a client, not a member")
        for row in rows
        if existing.get(row.user_id)
    ]
    owners = _email_owners(session, realm, [row.email for row in new if row.email])
    problems += [
        Problem(row.line, f"email {row.email!r} already belongs to member {owners[row.email]!r}")
        for row in new
        if row.email in owners
    ]
    if problems:
        raise MemberFileRefused(problems)
    return new, len(rows) - len(new)


def _create_member(session: Session, realm: Realm, row: MemberRow, settings,
                   password_hash: tuple[dict, dict] | None) -> None:
    try:
        create_user(
            session, realm, row.user_id, settings=settings, email=row.email, first_name=row.first_name,
            last_name=row.last_name, birthdate=row.birthdate, password=row.initial_password,
            password_hash=password_hash, temporary=True,
        )
    except UserExists as exc:
        # Someone took the ID or address after the check: still the whole file or nothing.
        raise MemberFileRefused([Problem(row.line, str(exc))]) from None


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise MemberFileRefused(
            [Problem(line, "this is not UTF-8 text (perhaps Shift_JIS from an older Excel): "
                           "save the file as UTF-8 (CSV UTF-8) and import it again")]
        ) from None


def _records(text: str) -> list[tuple[int, list[str]]]:
    """(line where the record starts, cells) of every record with something in it."""
    reader = csv.reader(io.StringIO(text, newline=""))
    records, start = [], 1
    try:
        for cells in reader:
            # Blank lines and Excel's ",,,,," rows (formatted but empty) carry nothing.
            if any(cell.strip() for cell in cells):
                records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise MemberFileRefused([Problem(start, f"not readable as CSV: {exc}")]) from None
    return records


def _column_positions(line: int, header: list[str]) -> dict[str, int]:
    names = [cell.strip().lower() for cell in header]
    missing = [name for name in COLUMNS if name not in names]
    unknown = [repr(name) if name else "an unnamed one" for name in names if name not in COLUMNS]
    repeated = [name for name in COLUMNS if names.count(name) > 1]
    faults = [
        f"{label} {', '.join(found)}"
        for label, found in (("missing column(s):", missing), ("unknown column(s):", unknown),
                             ("column(s) given twice:", repeated))
        if found
    ]
    if faults:
        raise MemberFileRefused([Problem(line, "; ".join(faults) + "; the header must be " + ",".join(COLUMNS))])
    return {name: names.index(name) for name in COLUMNS}


def _read_row(line: int, cells: list[str], positions: dict[str, int], width: int,
              ) -> tuple[MemberRow | None, list[Problem]]:
    if len(cells) < width or any(cell.strip() for cell in cells[width:]):
        return None, [Problem(line, f"has {len(cells)} cells; the header has {width}")]
    fields: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, check in _CHECKS.items():
        try:
            fields[name] = check(cells[positions[name]])
        except ValueError as exc:
            problems.append(Problem(line, str(exc)))
    return (None if problems else MemberRow(line=line, **fields)), problems


def _user_id(text: str) -> str:
    user_id = text.strip().lower()
    if not user_id:
        raise ValueError("user_id is empty")
    if len(user_id) > MAX_USER_ID:
        raise ValueError(f"user_id is longer than {MAX_USER_ID} characters")
    if not _LOGIN.fullmatch(user_id):
        raise ValueError(f"user_id {text.strip()!r} may hold only ASCII letters, digits and symbols, without spaces")
    return user_id


def _initial_password(text: str) -> str:
    # Never echo the password itself: the problems end up in terminals and logs.
    if not text:
        raise ValueError("initial_password is empty")
    if len(text) > MAX_PASSWORD:
        raise ValueError(f"initial_password is longer than {MAX_PASSWORD} characters")
    if text != text.strip():
        raise ValueError("initial_password starts or ends with a space")
    return text


def _birthdate(text: str) -> date:
    text = text.strip()
    if not text:
        raise ValueError("birthdate is empty")
    match = _DATE.fullmatch(text)
    if match is None:
        raise ValueError(f"birthdate {text!r} is not a date like 1980-04-01 or 1980/4/1")
    try:
        birthdate = date(int(match[1]), int(match[3]), int(match[4]))
    except ValueError:
        raise ValueError(f"birthdate {text!r} is not a real date") from None
    if birthdate > date.today():
        raise ValueError(f"birthdate {text!r} is in the future")
    if birthdate < EARLIEST_BIRTHDATE:
        raise ValueError(f"birthdate {text!r} is before {EARLIEST_BIRTHDATE:%Y}")
    return birthdate


def _name(column: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        name = text.strip()
        if len(name) > MAX_NAME:
            raise ValueError(f"{column} is longer than {MAX_NAME} characters")
        return name

    return check


def _email(text: str) -> str | None:
    # An empty cell is allowed: the update-email step asks the member at first sign-in.
    email = normalize_email(text)
    if email is not None and (len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email)):
        raise ValueError(f"email {text.strip()!r} is not an email address")
    return email


_CHECKS: dict[str, Callable[[str], object]] = {
    "user_id": _user_id,
    "initial_password": _initial_password,
    "birthdate": _birthdate,
    "last_name": _name("last_name"),
    "first_name": _name("first_name"),
    "email": _email,
}


def _repeated_in_file(rows: list[MemberRow]) -> list[Problem]:
    problems = []
    for column in ("user_id", "email"):
        first_seen: dict[str, int] = {}
        for row in rows:
            value = getattr(row, column)
            if value is None:
                continue
            if value in first_seen:
                problems.append(Problem(row.line, f"{column} {value!r} is also on line {first_seen[value]}"))
            else:
                first_seen[value] = row.line
    return problems


def _existing_users(session: Session, realm: Realm, user_ids: list[str]) -> dict[str, bool]:
    """User ID -> whether it is a client's service account, for those the realm already has."""
    found: dict[str, bool] = {}
    for chunk in _chunks(user_ids):
        query = select(User.username, User.service_account_client_id.is_not(None)).where(
            User.realm_id == realm.id, User.username.in_(chunk)
        )
        found.update(session.execute(query).all())
    return found


def _email_owners(session: Session, realm: Realm, emails: list[str]) -> dict[str, str]:
    """Email -> user ID of the member already holding it."""
    owners: dict[str, str] = {}
    for chunk in _chunks(emails):
        query = select(func.lower(User.email), User.username).where(
            User.realm_id == realm.id, func.lower(User.email).in_(chunk)
        )
        owners.update(session.execute(query).all())
    return owners


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _LOOKUP_CHUNK):
        yield values[start : start + _LOOKUP_CHUNK]
