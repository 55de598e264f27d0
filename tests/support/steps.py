"""What the action tests share: the StepContext the engine hands a step, a member answering it in
requests of their own, the page as the member reads it, and a whole sign-in in a test browser."""
from __future__ import annotations

import html
import re
import shutil
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import select

from idp import events
from idp.config import Settings
from idp.db.models import AuditEvent, Realm, User
from idp.db.users import create_user
from idp.flows.api import Done, Page, Step, StepContext
from idp.realms import find_realm, realm_config
from tests.support.settings import make_settings
from tests.support.sign_in import add_member, authorize, form_action, hidden_value, pkce_pair, submit_sign_in

REALM = "kosmo-demo"
IP_ADDRESS = "192.0.2.1"
SIGN_IN_TIME = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)


def create_member(database, settings, username: str, **fields) -> str:
    """A member of the demo society with only the given fields (no password unless given); their id."""
    with database.session() as session:
        return create_user(session, find_realm(session, REALM), username, settings=settings, **fields).id


def flow_settings(tmp_path, steps: str, name: str = "journey") -> Settings:
    """Settings whose browser flow `name` is the password followed by `steps` (flow-file lines)."""
    flows = tmp_path / "flows"
    flows.mkdir()
    flow = f"flow: {name}\nsteps:\n  - authenticate: password\n{steps}"
    (flows / f"{name}.yaml").write_text(flow, encoding="utf-8")
    return make_settings(tmp_path, browser_flow=name, flows_dir=flows)


def step_context(session, settings, member: str | User, step_class_or_options: type[Step] | BaseModel, *,
                 store=None, send_mail=None, make_link=None, now: datetime = SIGN_IN_TIME, data: dict | None = None,
                 config_update: dict | None = None, record_event=None, **options) -> StepContext:
    """What the engine hands a step for `member` (a username in the demo realm, or their row).

    The step's options are built from `options`, or given ready-made instead of its class;
    `config_update` replaces realm settings (e.g. the terms). Events go to the audit log as the
    engine writes them, unless `record_event` takes them.
    """
    if isinstance(member, User):
        user, realm = member, session.get(Realm, member.realm_id)
    else:
        realm = find_realm(session, REALM)
        user = session.scalar(select(User).where(User.realm_id == realm.id, User.username == member))
    if isinstance(step_class_or_options, BaseModel):
        if options:
            raise TypeError("options are given ready-made: pass no option keywords")
        step_options = step_class_or_options
    else:
        step_options = step_class_or_options.Options(**options)

    def audit(type, **details):
        events.record(session, realm.id, type, user_id=user.id, ip_address=IP_ADDRESS, **details)

    config = realm_config(realm)
    return StepContext(
        realm=realm, config=config.model_copy(update=config_update) if config_update else config, session=session,
        settings=settings, store=store, user=user, client=None, options=step_options,
        data={} if data is None else data, ip_address=IP_ADDRESS, now=now, send_mail=send_mail,
        make_link=make_link, record_event=record_event or audit,
    )


def submit(database, settings, username: str, step_class: type[Step], form: dict, **options) -> Page | Done:
    """The member presses the step's button: committed as the engine does after Done (a Page rolls back)."""
    with database.session() as session:
        answer = step_class().process(step_context(session, settings, username, step_class, **options), form)
        if isinstance(answer, Page):
            session.rollback()
        return answer


def audit_trail(session, user_id: str) -> list[tuple[str, dict]]:
    """The member's audit events as (type, details), oldest first."""
    rows = session.scalars(select(AuditEvent).where(AuditEvent.user_id == user_id)).all()
    return [(row.type, row.details) for row in rows]


def stored(database, username: str, *columns: str) -> tuple:
    """The member's `columns` as stored now, then their audit trail."""
    with database.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        return (*(getattr(user, column) for column in columns), audit_trail(session, user.id))


class Member:
    """A member at one step; each call runs in its own transaction, as requests do, and the events
    the step reports are kept in `events`. `now` may be moved between calls."""

    def __init__(self, database, settings, user_id: str, step_class: type[Step], options: BaseModel | None = None,
                 *, store=None, now: datetime = SIGN_IN_TIME, config_update: dict | None = None):
        self.database, self.settings, self.user_id, self.step_class = database, settings, user_id, step_class
        self.options = options or step_class.Options()
        self.store, self.now, self.config_update = store, now, config_update
        self.events: list[tuple[str, dict]] = []

    def run(self, call):
        with self.database.session() as session:
            ctx = step_context(session, self.settings, session.get(User, self.user_id), self.options,
                               store=self.store, now=self.now, config_update=self.config_update,
                               record_event=lambda type, **details: self.events.append((type, details)))
            return call(self.step_class(), ctx)

    def needed(self) -> bool:
        return self.run(lambda step, ctx: step.needed(ctx))

    def sees(self) -> Page:
        return self.run(lambda step, ctx: step.challenge(ctx))

    def submit(self, **form) -> Page | Done:
        return self.run(lambda step, ctx: step.process(ctx, form))


def render(app, page: Page, client=None) -> str:
    """The step's page as the browser gets it (`client`: the portal it came from, if any)."""
    from flask import render_template

    with app.test_request_context("/realms/kosmo-demo/login-actions/step"):
        return render_template(page.template, values=page.values, errors=page.errors, form_action="/step",
                               tab_id="tab", step_token="token", client=client)


def shown(app, page: Page, field: str) -> list[str]:
    """The error texts the member reads under `field` on the rendered page."""
    listing = re.search(rf'<ul class="field-errors" id="{field}-errors"[^>]*>(.*?)</ul>', render(app, page), re.S)
    if listing is None:
        return []
    texts = re.findall(r"<li>(.*?)</li>", listing[1], re.S)
    return [html.unescape(re.sub(r"\s+", " ", text).strip()) for text in texts]


def demo_society(tmp_path, steps: str, realm: dict | None = None):
    """The demo society whose flow runs `steps` after the password, `realm` updating its YAML: its
    settings, its migrated and prepared database, and the app serving it."""
    from ruamel.yaml import YAML

    from idp.app import create_app
    from idp.db import Database
    from idp.setup import prepare

    settings = flow_settings(tmp_path, steps)
    shutil.copy("flows/browser.yaml", settings.flows_dir / "browser.yaml")
    realm_file = settings.realms_dir / "kosmo-demo.yaml"
    yaml = YAML()
    yaml.dump({**yaml.load(realm_file.read_text(encoding="utf-8")), **(realm or {})}, realm_file)
    database = Database(settings.database_url)
    database.upgrade()
    prepare(settings, database)
    app = create_app(settings, database)
    app.config.update(TESTING=True)
    return settings, database, app


class Browser:
    """A member's browser in a sign-in run by the flow engine: `steps` follow the password in the
    realm's flow, `realm` updates the realm's YAML (e.g. terms). Closes its database on leaving `with`."""

    def __init__(self, tmp_path, steps: str, username: str, password: str, realm: dict | None = None, **member):
        self.settings, self.database, app = demo_society(tmp_path, steps, realm)
        self.user_id = add_member(self.database, self.settings, username, password, **member)
        self.client = app.test_client()
        self.page = authorize(self.client, pkce_pair()[1]).get_data(as_text=True)
        self.page = submit_sign_in(self.client, self.page, username=username, password=password).get_data(as_text=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.database.dispose()

    def submit(self, **fields):
        """Post the step's form as shown, with `fields` filled in; the answer becomes the page."""
        data = {name: hidden_value(self.page, name) for name in ("csrf_token", "tab_id", "step")}
        response = self.client.post(form_action(self.page), data={**data, **fields})
        self.page = response.get_data(as_text=True)
        return response

    def reload(self) -> str:
        self.page = self.client.get(form_action(self.page)).get_data(as_text=True)
        return self.page
