"""Members in bulk for the benchmark: written straight into the app's tables (COPY on PostgreSQL,
one multi-row insert on SQLite) without the app, and as the files operators import — a
society's CSV for `idp members import` and a Keycloak realm export."""
from __future__ import annotations

import csv
import itertools
import json
import uuid
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import select

from idp.db import make_engine
from idp.db.models import Credential, Realm, User
from idp.security.passwords import keycloak_json

CHECKOUT = Path(__file__).resolve().parent.parent
KEYCLOAK_EXPORT = CHECKOUT / "tests" / "fixtures" / "keycloak" / "kosmo-kc-realm.json"
BIRTHDATE = date(1980, 4, 1)
SEEDED_ID_PREFIX = 0xBE4C400000000000  # the ids' upper half: a UUID no import writes


def username(number: int) -> str:
    return f"bench{number:07d}"


def _member_id(number: int) -> str:
    # Derived from the number, so the credentials pass finds its member without a lookup.
    return str(uuid.UUID(int=(SEEDED_ID_PREFIX << 64) | number))


def _users(realm_id: str, count: int) -> Iterator[dict]:
    """Members with every first sign-in step done."""
    now = datetime.now(timezone.utc)
    for number in range(count):
        yield {"id": _member_id(number), "realm_id": realm_id, "username": username(number),
               "email": f"{username(number)}@example.jp", "email_verified": True, "first_name": "太郎",
               "last_name": "健保", "birthdate": BIRTHDATE, "enabled": True, "attributes": {}, "roles": [],
               "client_roles": {}, "groups": [], "not_before": 0, "created_at": now,
               "birthdate_verified_at": now, "user_id_chosen_at": now, "first_login_completed_at": now}


def _passwords(count: int, password_hash: tuple[dict, dict]) -> Iterator[dict]:
    now = datetime.now(timezone.utc)
    secret_data, credential_data = password_hash
    for number in range(count):
        yield {"id": str(uuid.uuid4()), "user_id": _member_id(number), "type": "password", "user_label": "",
               "secret_data": secret_data, "credential_data": credential_data, "temporary": False,
               "priority": 10, "created_at": now}


def seed_members(database_url: str, realm_name: str, count: int, password_hash: tuple[dict, dict]) -> None:
    """Adds members `username(0)` … `username(count - 1)` to the realm, all with the same hash."""
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            realm_id = connection.execute(select(Realm.id).where(Realm.name == realm_name)).scalar_one()
        tables = ((User, _users(realm_id, count)), (Credential, _passwords(count, password_hash)))
        if engine.dialect.name == "postgresql":
            _copy(engine, tables)
        else:
            with engine.begin() as connection:
                for model, rows in tables:
                    connection.execute(model.__table__.insert(), list(rows))
    finally:
        engine.dispose()


def _copy(engine, tables) -> None:
    """COPY each table in one transaction, then ANALYZE so the planner knows their size."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for model, rows in tables:
            first = next(rows)
            with cursor.copy(f"COPY {model.__tablename__} ({', '.join(first)}) FROM STDIN") as copy:
                for row in itertools.chain([first], rows):
                    copy.write_row([json.dumps(value) if isinstance(value, (dict, list)) else value
                                    for value in row.values()])
        raw.commit()
        cursor.execute("ANALYZE users")
        cursor.execute("ANALYZE credentials")
        raw.commit()
    finally:
        raw.close()


def write_member_csv(path: Path, count: int, password: str) -> Path:
    """A society's member file of `count` new members for `idp members import`."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["user_id", "initial_password", "birthdate", "last_name", "first_name", "email"])
        for number in range(count):
            writer.writerow([f"import{number:07d}", password, BIRTHDATE.isoformat(), "健保", "花子",
                             f"import{number:07d}@example.jp"])
    return path


def write_keycloak_export(path: Path, count: int, password_hash: tuple[dict, dict]) -> Path:
    """The test fixture's Keycloak 26 realm export with `count` members, each with an argon2
    password credential as Keycloak stores it."""
    realm = json.loads(KEYCLOAK_EXPORT.read_text(encoding="utf-8"))
    secret_data, credential_data = (keycloak_json(part) for part in password_hash)
    realm["users"] = [{
        "id": str(uuid.uuid4()), "username": f"kc{number:07d}", "firstName": "次郎", "lastName": "健保",
        "email": f"kc{number:07d}@example.jp", "emailVerified": True, "enabled": True,
        "createdTimestamp": 1730000000000, "attributes": {"birthdate": [BIRTHDATE.isoformat()]},
        "credentials": [{"id": str(uuid.uuid4()), "type": "password", "createdDate": 1730000001000,
                         "secretData": secret_data, "credentialData": credential_data}],
        "disableableCredentialTypes": [], "requiredActions": [], "realmRoles": [f"default-roles-{realm['realm']}"],
        "notBefore": 0, "groups": []} for number in range(count)]
    path.write_text(json.dumps(realm, ensure_ascii=False), encoding="utf-8")
    return path
