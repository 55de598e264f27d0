"""What the fuzz tests share: hypothesis profiles, strategies for hostile input, an identity provider
whose flow leads straight to one step, and a snapshot of every durable table to prove that a
refused request changed nothing.

`HYPOTHESIS_PROFILE=deep` runs every property with many more (and fresh random) examples; the
default profile is small and derandomized, so CI sees the same examples on every run.
"""
from __future__ import annotations

import email
import itertools
import json
import os
import re
from dataclasses import dataclass
from email import policy
from html import unescape
from pathlib import Path
from urllib.parse import urlencode

import pyotp
from fido2 import cbor
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from idp.app import create_app
from idp.authenticators.webauthn_server import encode
from idp.config import CHECKOUT
from idp.db import Database
from idp.db.models import Base, Credential, User
from idp.db.users import create_user
from idp.realms import find_realm
from idp.security.secret_box import encrypt
from idp.setup import prepare
from tests.support.settings import make_settings
from tests.support.sign_in import REALM, REALM_PATH, authorize, follow_step, form_action, hidden_value, pkce_pair

PASSWORD = "Fuzz-pass-2026"

# --- hypothesis profiles ---------------------------------------------------------------------

_QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("fuzz-ci", deadline=None, derandomize=True, database=None, print_blob=True,
                          suppress_health_check=_QUIET)
settings.register_profile("deep", deadline=None, print_blob=True, suppress_health_check=_QUIET)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "fuzz-ci")
DEEP = PROFILE == "deep"


def fuzz(examples: int):
    """A property's settings: `examples` by default (keeps the suite near a minute), 40 times
    as many under HYPOTHESIS_PROFILE=deep."""
    profile = PROFILE if PROFILE in ("fuzz-ci", "deep") else "fuzz-ci"
    return settings(settings.get_profile(profile), max_examples=examples * 40 if DEEP else examples)


# --- hostile text ----------------------------------------------------------------------------

# Characters that broke other systems: NUL and control characters, right-to-left override,
# byte-order mark, zero-width joiners, combining marks, full-width digits and symbols, the
# ideographic space, emoji (astral plane), and characters whose int()/isdigit() disagree.
ODD_CHARACTERS = ("\x00", "\x01", "\x1b", "\x7f", "\u202e", "\ufeff", "\u200b", "\u200d", "\u0301", "\u0308",
                  "１", "９", "０", "＠", "．", "\u3000", "😀", "²", "½", "٣", "ⅷ",
                  "\r", "\n", "\t", "\u2028", "ß", "İ", "ﬀ", "%", "'", '"', "<", ">", "&", "\\", "/")
ODD_STRINGS = ("", " ", "\x00", "a\x00b", "\u202eelgoog", "\ufeff1980", "１９８０", "２", "² ", "e\u0301", "null",
               "None", "[]", "{}", "0", "-1", "1e400", "NaN", "9" * 40, "' OR '1'='1", "<script>alert(1)</script>",
               "{{7*7}}", "%s%s%s", "../../etc/passwd", "\r\nSet-Cookie: x=1", "ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ",
               "山田\u3000花子", "\U0001f1ef\U0001f1f5")
# Repeated to over-long values (255 and 256 straddle the column and policy limits).
LONG_PIECES = ("a", "あ", "\x00", "1", "a@", "\u202e", "e\u0301", "😀")
LONG_LENGTHS = (64, 255, 256, 1025, 10_000)


def long_text() -> st.SearchStrategy[str]:
    """Up to 10 000 characters made by repeating a short odd piece (cheaper than drawing them)."""
    return st.builds(lambda piece, length: (piece * length)[:length], st.sampled_from(LONG_PIECES),
                     st.sampled_from(LONG_LENGTHS))


def nasty_text() -> st.SearchStrategy[str]:
    """Arbitrary text (no surrogates: a browser cannot send them), odd Unicode and over-long values."""
    odd = st.text(st.sampled_from(ODD_CHARACTERS), min_size=1, max_size=12)
    return st.one_of(st.sampled_from(ODD_STRINGS), st.text(max_size=40), odd, long_text())


def value_of(plausible: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[str]:
    """A field's value: what a member might type (`plausible`), or anything hostile."""
    return nasty_text() if plausible is None else st.one_of(plausible, nasty_text())


def plausible(*values: str) -> st.SearchStrategy[str]:
    return st.sampled_from(values)


@st.composite
def form(draw, fields: dict[str, st.SearchStrategy[str]]) -> MultiDict:
    """A submission of `fields`: each one missing, sent once, or repeated; plus maybe a stray field."""
    pairs = []
    for name, values in fields.items():
        copies = draw(st.sampled_from((0, 1, 1, 1, 2, 3)))
        pairs += [(name, draw(values)) for _ in range(copies)]
    if draw(st.booleans()):
        pairs.append((draw(st.sampled_from(("x", "__proto__", "step[]", "", "\x00", "id"))), draw(nasty_text())))
    return MultiDict(pairs)


def json_values() -> st.SearchStrategy:
    """Any JSON value, nested, with hostile strings."""
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | nasty_text()
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


# --- an identity provider at one step --------------------------------------------------------

_numbers = itertools.count(1)


def _merge(target: dict, changes: dict) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def _write_realm_config(folder: Path, flow: str, changes: dict) -> Path:
    yaml = YAML()
    folder.mkdir(parents=True, exist_ok=True)
    for shipped in (CHECKOUT / "realm-config").glob("*.yaml"):
        document = yaml.load(shipped.read_text(encoding="utf-8"))
        if document["realm"] == REALM:
            document["browser_flow"] = flow
            _merge(document, changes)
        with (folder / shipped.name).open("w", encoding="utf-8") as out:
            yaml.dump(document, out)
    return folder


class Stage:
    """The demo realm whose browser flow is the password step followed by `steps` (flow-file
    lines), on `database_url`; `realm` changes the realm's settings. Every example gets a member
    of its own and a browser with an address of its own, so no example sees another's state
    (brute-force counters, locks, mail cooldowns)."""

    def __init__(self, tmp_path: Path, database_url: str, steps: str = "", realm: dict | None = None,
                 first_step: str = "  - authenticate: password\n"):
        flows = tmp_path / "fuzz-flows"
        flows.mkdir(parents=True, exist_ok=True)
        for shipped in (CHECKOUT / "flows").glob("*.yaml"):  # the realm's other flows (recovery, ...)
            (flows / shipped.name).write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
        (flows / "fuzz.yaml").write_text(f"flow: fuzz\nsteps:\n{first_step}{steps}", encoding="utf-8")
        self.settings = make_settings(tmp_path, browser_flow="fuzz", flows_dir=flows, database_url=database_url,
                                      realms_dir=_write_realm_config(tmp_path / "fuzz-realms", "fuzz", realm or {}))
        self.database = Database(database_url)
        prepare(self.settings, self.database)
        self.app = create_app(self.settings, self.database)
        self.app.config.update(TESTING=True)

    def close(self) -> None:
        self.database.dispose()

    def member(self, **fields) -> User:
        """A new member with the password PASSWORD and `fields` (User columns or create_user
        keywords); the returned row is detached."""
        username = f"fuzz{next(_numbers):06d}"
        keywords = {key: fields.pop(key) for key in ("temporary", "email_verified", "birthdate") if key in fields}
        with self.database.session() as session:
            realm = find_realm(session, REALM)
            user = create_user(session, realm, username, settings=self.settings, password=PASSWORD,
                               email=fields.pop("email", f"{username}@example.jp"), first_name="花子",
                               last_name="山田", **keywords)
            for column, value in fields.items():
                setattr(user, column, value)
            session.commit()
            session.expunge(user)
            return user

    def add_app(self, user: User, label: str = "iPhone") -> tuple[str, str]:
        """An authenticator app (TOTP) on the member, as configure-totp stores one: (id, secret)."""
        secret = pyotp.random_base32()
        with self.database.session() as session:
            data = {"subType": "totp", "digits": 6, "period": 30, "counter": 0, "algorithm": "HmacSHA1",
                    "secretEncoding": "BASE32"}
            credential = Credential(user_id=user.id, type="otp", user_label=label, credential_data=data,
                                    secret_data={"value": encrypt(secret, self.settings.secret_key)})
            session.add(credential)
            session.commit()
            return credential.id, secret

    def add_passkey(self, user: User, authenticator, label: str = "パスキー") -> str:
        """A passkey of `authenticator` (tests/unit's SoftAuthenticator) on the member: its id."""
        data = {"credentialId": encode(authenticator.credential_id), "counter": 0,
                "credentialPublicKey": encode(cbor.encode(authenticator._cose())), "transports": ["internal"]}
        authenticator.user_handle = user.id.encode()
        with self.database.session() as session:
            credential = Credential(user_id=user.id, type="webauthn", user_label=label, credential_data=data)
            session.add(credential)
            session.commit()
            return credential.id

    def mailed_code(self, address: str) -> str | None:
        """The six digits of the newest mail to `address` in the outbox, if any."""
        folder = Path(self.settings.mail_url.removeprefix("outbox:"))
        for path in sorted(folder.glob("*.eml"), reverse=True):
            mail = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            if mail["To"] == address:
                found = re.search(r"\b(\d{6})\b", mail.get_body(("plain",)).get_content())
                return found.group(1) if found else None
        return None

    def browser(self):
        """A test client with a remote address nobody else uses."""
        number = next(_numbers)
        client = self.app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"
        return client

    def sign_in_page(self) -> AtStep:
        client = self.browser()
        response = authorize(client, pkce_pair()[1])
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        return AtStep(client, response.get_data(as_text=True))

    def at_step(self, user: User, heading: str | None = None) -> AtStep:
        """The member signed in with their password and looking at the step after it."""
        visit = self.sign_in_page()
        response = visit.send(MultiDict({"username": user.username, "password": PASSWORD}))
        visit = AtStep(visit.client, shown(follow_step(visit.client, response)))
        if heading is not None:
            assert visit.heading == heading, visit.page[:800]
        return visit

    def signed_in(self, user: User):
        """A browser in which the member finished signing in (it holds the SSO cookie)."""
        visit = self.sign_in_page()
        response = follow_step(visit.client, visit.send(MultiDict({"username": user.username,
                                                                     "password": PASSWORD})))
        assert response.status_code == 302, response.get_data(as_text=True)[:800]
        return visit.client

    def snapshot(self) -> dict:
        return snapshot(self.database)

    def refused(self, send, what=""):
        """`send()` a request that must be refused: no server error, not a stored row changed."""
        before = self.snapshot()
        response = send()
        assert_answered(response, what)
        assert_unchanged(before, self.snapshot(), what)
        return response


def filled(submission: MultiDict, **known: str) -> MultiDict:
    """The submission with placeholders ("{code}") replaced by what is known only at the step."""
    return MultiDict([(name, known.get(value[1:-1], value) if value[:1] == "{" and value[-1:] == "}" else value)
                      for name, value in submission.items(multi=True)])


def passkey_options(page: str) -> dict:
    block = re.search(r'<script type="application/json" id="passkey-options"[^>]*>(.*?)</script>', page, re.S)
    assert block, page[:800]
    return json.loads(unescape(block[1]))


def shown(response) -> str:
    assert response.status_code < 400, response.get_data(as_text=True)[:800]
    return response.get_data(as_text=True)


@dataclass
class AtStep:
    """A browser looking at a step's page; `send` posts its form with the page's hidden fields
    (csrf_token, tab_id, step) unless the submission brings its own."""

    client: object
    page: str

    @property
    def heading(self) -> str:
        found = re.search(r"<h1[^>]*>([^<]*)</h1>", self.page)
        return unescape(found.group(1)) if found else ""

    @property
    def token(self) -> str:
        return hidden_value(self.page, "step")

    @property
    def hidden(self) -> dict:
        return {name: hidden_value(self.page, name) for name in ("csrf_token", "tab_id", "step")}

    def send(self, submission: MultiDict):
        data = MultiDict(submission)
        for name, value in self.hidden.items():
            if name not in data:
                data[name] = value
        return self.client.post(form_action(self.page), data=data)

    def now_at(self) -> str | None:
        """The step token the flow is at now (None when the flow has finished)."""
        tab_id = hidden_value(self.page, "tab_id")
        response = self.client.get(f"{REALM_PATH}/login-actions/step?" + urlencode({"tab_id": tab_id}))
        assert_answered(response, "the step page")
        page = response.get_data(as_text=True)
        # Finished: back to the portal, or (once the auth session is gone) the expired-session page.
        return hidden_value(page, "step") if 'name="step"' in page else None


# --- nothing changed -------------------------------------------------------------------------

# Tables that legitimately grow on a refused request (the audit trail) or hold TTL state.
IGNORED_TABLES = {"audit_events", "ephemeral_entries"}
# Columns a refused request may touch: an SSO session's last use.
IGNORED_COLUMNS = {("user_sessions", "last_seen_at")}


def snapshot(database: Database) -> dict[str, list[str]]:
    """Every durable table's rows (as sorted reprs), audit events and TTL state left out."""
    rows = {}
    with database.session() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in IGNORED_TABLES:
                continue
            columns = [c for c in table.columns if (table.name, c.name) not in IGNORED_COLUMNS]
            rows[table.name] = sorted(repr(tuple(row)) for row in session.execute(select(*columns)))
    return rows


def assert_unchanged(before: dict, after: dict, what: str = "") -> None:
    changed = {name: {"gone": sorted(set(before[name]) - set(after[name]))[:3],
                      "new": sorted(set(after[name]) - set(before[name]))[:3]}
               for name in before if before[name] != after[name]}
    assert not changed, f"a refused request changed stored rows {what}: {changed}"


def assert_answered(response, what: str = "") -> None:
    """Anything but a server error (the error page, logged with its traceback)."""
    assert response.status_code < 500, (f"{response.status_code} for {what}: "
                                        f"{response.get_data(as_text=True)[:300]}")
