"""What the lockout stories share: the demo society's brute-force settings as an operator would
change them, a sign-in attempt, what the member reads, and what the audit log holds. The steps'
clock they move is the `clock` fixture of tests/integration/conftest.py."""
from __future__ import annotations

from html import unescape

from sqlalchemy import select

from idp.db.models import AuditEvent
from idp.db.users import find_user
from idp.realms import find_realm
from tests.support.sign_in import authorize, follow_step, form_action, hidden_value, pkce_pair, submit_sign_in

LOCKED = ("ログインに失敗した回数が上限に達したため、現在ログインできません。"
          "しばらく時間をおいてから再度お試しいただくか、ご加入の健康保険組合にお問い合わせください。")
REALM = "kosmo-demo"


def brute_force(database, **settings) -> None:
    """Change the demo society's brute-force settings, as an operator's realm file would."""
    with database.session() as session:
        realm = find_realm(session, REALM)
        realm.config = {**realm.config, "brute_force": {**realm.config["brute_force"], **settings}}


def enabled(database, username: str = "hanako-01") -> bool:
    with database.session() as session:
        return find_user(session, find_realm(session, REALM), username).enabled


def events(database, type: str) -> list[AuditEvent]:
    with database.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.type == type).order_by(AuditEvent.time)))


def shows(response, text: str) -> bool:
    return text in unescape(response.get_data(as_text=True))


class Tab:
    """One browser tab at a step: posts the form it shows, with the clock two seconds on."""

    def __init__(self, client, clock, response):
        self.client, self.clock, self.response = client, clock, response

    @property
    def page(self) -> str:
        return self.response.get_data(as_text=True)

    def post(self, **fields):
        self.clock.tick()
        data = {name: hidden_value(self.page, name) for name in ("csrf_token", "tab_id", "step")}
        self.response = follow_step(self.client, self.client.post(form_action(self.page), data={**data, **fields}))
        return self.response

    def says(self, text: str) -> bool:
        return shows(self.response, text)


INVALID = "ユーザIDまたはパスワードが正しくありません。"


def attempt(client, clock, password="wrong-password-1", username="hanako-01"):
    clock.tick()
    page = authorize(client, pkce_pair()[1]).get_data(as_text=True)
    return submit_sign_in(client, page, username=username, password=password)


def error_text(response) -> str:
    text = unescape(response.get_data(as_text=True))
    return LOCKED if LOCKED in text else INVALID if INVALID in text else "(no error)"
