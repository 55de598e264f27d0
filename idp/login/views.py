"""The hosted sign-in pages under `/realms/{realm}/login-actions/` (the realm blueprint's `login`
area): every page is a flow step.

The realm's browser flow (flows/<name>.yaml) decides the steps; these views only load the auth
session of the tab, let the engine pick the step, render what the step answers, and finish by
returning to the relying party with a code.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from idp import events
from idp.db import db_session
from idp.db.models import Client, User, UserSession, utcnow
from idp.ephemeral import ephemeral
from idp.flows.api import Action, Done, NoMember, Page, Step, StepContext
from idp.flows.engine import CurrentStep, Engine, FlowBroken, Progress
from idp.flows.loader import FlowLibrary
from idp.flows.registry import load_registry
from idp.flows.schema import FlowFile
from idp.login import auth_session
from idp.mail import links, send_mail
from idp.oidc import sessions
from idp.oidc.authorize import resume_authorization
from idp.realms import find_client
from idp.request_context import realm_request
from idp.security.brute_force import BruteForce

log = logging.getLogger("idp.login")
bp = Blueprint("login", __name__, url_prefix="/login-actions")


def library() -> FlowLibrary:
    return current_app.extensions["idp.flows"]


def begin_sign_in(authorization_request: dict, client: Client, user_session: UserSession | None = None) -> Response:
    """Start an auth session on the realm's browser flow and show its first step.

    With Keycloak's `kc_action` the named action runs after the flow, or alone when the member
    is already signed in (`user_session`), and the relying party learns `kc_action_status`."""
    here = realm_request()
    flow = library().get(here.config.browser_flow)
    if flow is None:
        log.error("realm %s names browser flow %r, which is not loaded", here.realm.name, here.config.browser_flow)
        return make_response(render_template("error.html", message_key="error.unavailable"), 503)
    definition = flow.definition.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    progress, fields = Progress(flow=definition), {}
    kc_action = authorization_request.get("kc_action")
    if kc_action:
        action = library().registry.action_for_alias(kc_action)
        if action is None:
            return make_response(render_template("error.html", message_key="error.invalid_request"), 400)
        # Alone only within the action's max_auth_age (Keycloak's config) of signing in; else sign in first.
        max_age = here.config.required_action(kc_action).max_auth_age
        alone = user_session is not None and (max_age is None or time.time() - user_session.auth_time <= max_age)
        steps = [] if alone else definition["steps"]
        progress = Progress(flow={"flow": definition["flow"], "steps": [*steps, {"action": action.name}]},
                            always=[len(steps)])
        fields = {"kc_action": kc_action, "user_id": user_session.user_id if user_session else None,
                  "sso_session_id": user_session.id if user_session else None}
    auth = auth_session.start(client.client_id, authorization_request, progress, **fields)
    response = _show(auth, client)
    auth_session.set_cookie(response, auth)
    return response


MEMBER_FLOW = "member-actions"


def begin_member_flow(client: Client | None, user: User, steps: list[dict], *,
                      redirect_uri: str | None = None, done_message: str = "member_flow.done") -> Response:
    """Start an auth session in this browser for a known member running `steps` (flow step
    dicts, e.g. [{"action": "update-password"}]); when done, a Japanese done page with a link to
    redirect_uri (or the client's base URL). No code is issued and no SSO session opened.

    `done_message` is a message key of themes/ja/messages."""
    # Malformed steps are the caller's bug: refuse them here, not on the member's first page.
    progress = Progress(flow=FlowFile.model_validate({"flow": MEMBER_FLOW, "steps": steps}).model_dump(
        mode="json", by_alias=True, exclude_defaults=True))
    done_page = {"message": done_message, "redirect_uri": redirect_uri}
    auth = auth_session.start(client.client_id if client else "", {}, progress, user_id=user.id,
                              done_page=done_page)
    response = _show(auth, client)
    auth_session.set_cookie(response, auth)
    return response


def _engine(auth: auth_session.AuthSession, client: Client | None) -> Engine:
    session = db_session()

    def member() -> User | None:
        return session.get(User, auth.user_id) if auth.user_id else None

    def make_context(plugin: Step, options, data: dict) -> StepContext:
        return step_context(plugin, options, data, member(), client,
                            extra={"login_hint": auth.request.get("login_hint", "")}, auth=auth)

    return Engine(library().registry, make_context, member)


def step_context(plugin: Step, options, data: dict, user: User | None, client: Client | None,
                 extra: dict | None = None, auth: auth_session.AuthSession | None = None) -> StepContext:
    """What a step may use, bound to this request's realm, member, client and auth session."""
    session, here = db_session(), realm_request()
    settings, realm_config = here.settings, here.config
    ip_address = request.remote_addr or ""

    def mail(*, to: str, subject: str, text: str, html: str | None = None) -> None:
        send_mail(settings, to=to, subject=subject, text=text, html=html,
                  sender=realm_config.email.from_address or None, sender_name=realm_config.email.from_display_name)

    def make_link(payload: dict, ttl: int, for_user: User | None = None) -> str:
        kind = "action" if isinstance(plugin, Action) else "authenticate"
        sign_in = _sign_in_snapshot(auth) if kind == "authenticate" and auth is not None else None
        member = for_user or user
        if member is None:
            raise NoMember(f"a link for step {plugin.name} names no member in realm {here.realm.name}")
        return links.step_link(here.realm.id, here.issuer, user_id=member.id, kind=kind,
                               name=plugin.name, options=options.model_dump(mode="json"), payload=payload, ttl=ttl,
                               sign_in=sign_in)

    def record_event(type: str, /, **details: Any) -> None:
        user_id = details.pop("user_id", None)
        event = dict(type=type, user_id=user_id or (user.id if user else None),
                     client_id=client.client_id if client else None, ip_address=ip_address, **details)
        g.setdefault("step_events", []).append(event)
        events.record(session, here.realm.id, **event)

    def lock_out(member: User) -> None:
        sessions.lock_out(session, member)
        g.setdefault("step_lockouts", []).append(member.id)

    def end_other_sessions() -> int:
        ended = sessions.end_other_sessions(session, user) if user else 0
        if ended:
            record_event("LOGOUT", reason="sign_out_everywhere", sessions=ended)
        return ended

    return StepContext(
        realm=here.realm, config=realm_config, session=session, settings=settings, store=ephemeral(), user=user,
        client=client, options=options, data=data, ip_address=ip_address, now=utcnow(), send_mail=mail,
        make_link=make_link, record_event=record_event, end_other_sessions=end_other_sessions,
        find_step=library().registry.step, extra=extra or {}, lock_out=lock_out,
    )


def _show(auth: auth_session.AuthSession, client: Client | None, answer: Page | None = None) -> Response:
    """Render the current step (its challenge, or `answer` when a submission was refused)."""
    engine, progress = _engine(auth, client), auth.progress
    try:
        step = engine.current(progress)
        if step is None:
            return _finish(auth, progress, client)
        page = answer or engine.challenge(progress, step)
    except FlowBroken:
        log.exception("the flow of realm %s cannot run", realm_request().realm.name)
        return make_response(render_template("error.html", message_key="error.unavailable"), 503)
    db_session().commit()
    auth_session.save(auth)
    return _render(page, step, auth, client)


def _render(page: Page, step: CurrentStep, auth: auth_session.AuthSession, client: Client | None) -> Response:
    ids: dict[str, Any] = {"tab_id": auth.tab_id, "client_id": auth.client_id}
    login_url = url_for("realm.login.show_step", **{**ids, "tab_id": auth.login_tab_id}) if auth.login_tab_id else None
    html = render_template(
        page.template, values=page.values, errors=page.errors, client=client, portal_url=_portal_url(client),
        login_url=login_url,
        kc_action_cancel=_at_kc_action(auth, auth.progress),
        tab_id=auth.tab_id, step_token=step.token, form_action=url_for("realm.login.submit_step", **ids),
        poll_url=url_for("realm.login.step_status", step=step.token, **ids),
    )
    return make_response(html, page.status)


def _portal_url(client: Client | None) -> str | None:
    if client is None:
        return None
    # A redirect URI only when it is one place: a pattern (`https://app/*`, `/app/*`) is no link.
    return client.base_url or next((uri for uri in client.redirect_uris if "*" not in uri and "://" in uri), None)


def _finish(auth: auth_session.AuthSession, progress: Progress, client: Client | None) -> Response:
    """The flow is complete: open (or keep) the SSO session and return with a code, or, for a
    flow with no authorization request to answer, show its done page."""
    session = db_session()
    user = session.get(User, auth.user_id) if auth.user_id else None
    if user is None:
        raise FlowBroken("the flow finished without recognising a member: it needs an authenticator")
    if not auth.request or _first_sign_in_pending(user, progress):
        return _done_page(auth, client)
    if user.first_login_completed_at is None:
        user.first_login_completed_at = utcnow()
    # As Keycloak, only a completed sign-in clears the member's failures: a known password must
    # not wash away the guesses at the second factor that follows it.
    here = realm_request()
    BruteForce(ephemeral(), here.realm.id, here.config.brute_force, utcnow()).succeeded(user.id)
    user_session = sessions.find_session(session, here.realm, auth.sso_session_id)
    if user_session is None:
        user_session = sessions.start_session(session, here.realm, user, remember_me=auth.remember_me,
                                              ip_address=request.remote_addr or "")
        events.record(session, here.realm.id, "LOGIN", user_id=user.id, client_id=auth.client_id,
                      session_id=user_session.id, ip_address=request.remote_addr or "", username=user.username)
        # The tab learns its session before the session is stored: should the store fail after
        # the commit, a reload finds this session instead of opening a second one.
        auth.sso_session_id = user_session.id
        auth_session.save(auth)
    session.commit()
    auth_session.finish(auth)
    extra = {"kc_action_status": auth.kc_action_status or "success"} if auth.kc_action else {}
    return resume_authorization(auth.request, user_session, extra)


def _first_sign_in_pending(user: User, progress: Progress) -> bool:
    """A member who never finished the first sign-in ran another flow (e.g. recovery): signing
    them in now would skip the guide's steps, so they sign in again through the browser flow."""
    browser_flow = realm_request().config.browser_flow
    return user.first_login_completed_at is None and progress.flow.get("flow") != browser_flow


def _done_page(auth: auth_session.AuthSession, client: Client | None) -> Response:
    db_session().commit()
    auth_session.finish(auth)
    done = auth.done_page or {}
    return make_response(render_template("member-flow-done.html",
                                         message_key=done.get("message") or "member_flow.done",
                                         back_url=done.get("redirect_uri") or _portal_url(client)))


@bp.post("/step")
def submit_step():
    """A step's form. A refused one is shown again with its errors; otherwise the member is sent
    on by GET (Post/Redirect/Get), so reloading a page never sends a form twice. Stale forms
    (back button, another tab) change nothing and lead to the current step."""
    auth = auth_session.load(request.form.get("tab_id") or request.args.get("tab_id"))
    client = find_client(db_session(), realm_request().realm, auth.client_id if auth else request.args.get("client_id"))
    if auth is None:
        return session_expired(client)
    engine, progress = _engine(auth, client), auth.progress
    try:
        step = engine.current(progress)
    except FlowBroken:
        return _show(auth, client)
    if step is None or request.form.get("step") != step.token:
        return _go_on(auth, client)
    if request.form.get("cancel") == "1" and _at_kc_action(auth, progress):
        auth.kc_action_status = "cancelled"
        engine.skip(progress)
        auth_session.save(auth)
        return _go_on(auth, client)
    answer = engine.submit(progress, step, request.form)
    if isinstance(answer, Page):
        _roll_back_keeping_events()
        auth_session.save(auth)
        return _render(answer, step, auth, client)
    if answer.user is not None:
        auth.user_id, auth.remember_me = answer.user.id, answer.remember_me and realm_request().config.remember_me
    db_session().commit()
    auth_session.save(auth)
    return _go_on(auth, client)


def _at_kc_action(auth: auth_session.AuthSession, progress: Progress) -> bool:
    """Whether the member is at the action a relying party asked for (it may be cancelled)."""
    return bool(auth.kc_action) and progress.position in (progress.always or []) and not progress.pending


def _go_on(auth: auth_session.AuthSession, client: Client | None) -> Response:
    """To the relying party when the flow is complete, else to the current step by GET."""
    try:
        if _engine(auth, client).current(auth.progress) is None:
            return _finish(auth, auth.progress, client)
    except FlowBroken:
        return _show(auth, client)
    url = url_for("realm.login.show_step", tab_id=auth.tab_id, client_id=auth.client_id)
    return redirect(url, 303)


def _roll_back_keeping_events() -> None:
    """Undo what a refused step wrote, but keep what it reported (LOGIN_ERROR, USER_LOCKED, ...)
    and the members it locked out (a permanent lockout is the refusal itself)."""
    session = db_session()
    session.rollback()
    for event in g.pop("step_events", []):
        events.record(session, realm_request().realm.id, **event)
    for user_id in g.pop("step_lockouts", []):
        member = session.get(User, user_id)
        if member is not None:
            sessions.lock_out(session, member)
    session.commit()


@bp.get("/step")
def show_step():
    """The current step again (a reload, or the original tab after a mail link was opened)."""
    auth = auth_session.load(request.args.get("tab_id"))
    client = find_client(db_session(), realm_request().realm, auth.client_id if auth else request.args.get("client_id"))
    if auth is None:
        return session_expired(client)
    return _show(auth, client)


@bp.get("/status")
def step_status():
    """For the page's light poll: whether the step it shows is still the one to do."""
    auth = auth_session.load(request.args.get("tab_id"))
    if auth is None:
        return jsonify(needed=False, expired=True)
    try:
        step = _engine(auth, None).current(auth.progress)
    except FlowBroken:
        return jsonify(needed=False)
    finally:
        db_session().rollback()
    return jsonify(needed=step is not None and step.token == request.args.get("step"))


@bp.get("/link/<key>")
def follow_link(key: str):
    """A link a step mailed (e.g. メールアドレスの確認): single use, in any browser."""
    link = links.take_step_link(realm_request().realm.id, key)
    session = db_session()
    user = session.get(User, link["user_id"]) if link else None
    plugin = library().registry.step(link["kind"], link["name"]) if link else None
    if link is None or user is None or plugin is None:
        return make_response(render_template("error.html", message_key="error.link_expired"), 400)
    ctx = step_context(plugin, plugin.Options.model_validate(link["with"]), {}, user, None)
    answer = plugin.follow_link(ctx, link["payload"])
    if isinstance(answer, Done) and link.get("sign_in"):
        session.commit()
        return _continue_sign_in(link["sign_in"], plugin, user)
    if isinstance(answer, Done):
        session.commit()
        return render_template(f"actions/{plugin.name}-done.html", values={}, errors={})
    _roll_back_keeping_events()
    return make_response(render_template(answer.template, values=answer.values, errors=answer.errors), answer.status)


@bp.get("/action-token")
def follow_action_link():
    """An administrator's execute-actions mail link: single use; runs the actions for the member in
    this browser, then a done page leading to `redirect_uri` (or the client's portal)."""
    realm = realm_request().realm
    link = links.take_actions_link(realm.id, request.args.get("key", ""))
    user = db_session().get(User, link["user_id"]) if link else None
    if link is None or user is None or not user.enabled or user.realm_id != realm.id:
        return make_response(render_template("error.html", message_key="error.link_expired"), 400)
    client = find_client(db_session(), realm, link.get("client_id"))
    events.record(db_session(), realm.id, "EXECUTE_ACTION_TOKEN", user_id=user.id,
                  client_id=client.client_id if client else None, ip_address=request.remote_addr or "",
                  actions=",".join(link["actions"]))
    db_session().commit()
    steps = [{"action": name} for name in link["actions"]]
    return begin_member_flow(client, user, steps, redirect_uri=link.get("redirect_uri"),
                             done_message="execute_actions.done")


def _sign_in_snapshot(auth: auth_session.AuthSession) -> dict:
    """What a mailed link needs to go on with the flow it was sent from, in any browser."""
    return {"root_id": auth.root_id, "tab_id": auth.tab_id, "client_id": auth.client_id, "request": auth.request,
            "progress": asdict(auth.progress), "done_page": auth.done_page}


def _continue_sign_in(snapshot: dict, plugin: Step, user: User) -> Response:
    """A mailed link recognised the member (パスワードの再設定): the flow goes on past the step
    that mailed it, in the browser that opened it. In the browser the flow started in, that is
    the same sign-in, which ends back at the relying party; in another browser a new one, which
    ends on the done page (the relying party could not accept a code there)."""
    same_browser = request.cookies.get(auth_session.COOKIE) == snapshot["root_id"]
    auth = auth_session.load(snapshot["tab_id"]) if same_browser else None
    client = find_client(db_session(), realm_request().realm, snapshot["client_id"])
    progress = _at_step(auth, client, plugin) if auth else None
    if auth is None or progress is None:
        auth = auth_session.start(snapshot["client_id"], snapshot["request"] if same_browser else {},
                                  Progress(**snapshot["progress"]), done_page=snapshot["done_page"])
        progress = _at_step(auth, client, plugin)
    if progress is None:
        return make_response(render_template("error.html", message_key="error.link_expired"), 400)
    _engine(auth, client).skip(progress)  # the link did what the step waited for
    auth.user_id, auth.progress = user.id, progress
    auth_session.save(auth)
    response = _go_on(auth, client)
    auth_session.set_cookie(response, auth)
    return response


def _at_step(auth: auth_session.AuthSession, client: Client | None, plugin: Step) -> Progress | None:
    """The sign-in's progress when it still waits at `plugin`'s step, else None."""
    progress = auth.progress
    try:
        step = _engine(auth, client).current(progress)
    except FlowBroken:
        return None
    return progress if step is not None and step.plugin.name == plugin.name else None


def session_expired(client: Client | None = None) -> Response:
    """The friendly page for a sign-in that took too long or was already finished."""
    page = render_template("error.html", message_key="error.session_expired", back_url=_portal_url(client))
    return make_response(page, 400)


@bp.get("/reset-credentials")
def forgot_password():
    """パスワードを忘れた方はこちら: the realm's reset-credentials flow (Keycloak's resetCredentialsFlow)."""
    return _begin_recovery(realm_request().config.reset_credentials_flow, "recovery.password.done")


@bp.get("/forgot-user-id")
def forgot_user_id():
    """ユーザIDを忘れた方はこちら: the realm's forgot-user-id flow."""
    return _begin_recovery(realm_request().config.forgot_user_id_flow, "member_flow.done")


def _begin_recovery(flow_name: str, done_message: str) -> Response:
    """A recovery flow in this browser, for the sign-in of `tab_id` when there is one: it keeps
    that sign-in's authorization request, so a finished reset returns to the relying party
    signed in (as Keycloak does); without one it ends on a done page. The sign-in's own tab is
    left as it was, for ログイン画面に戻る."""
    flow = library().get(flow_name)
    if flow is None:
        log.error("realm %s names recovery flow %r, which is not loaded", realm_request().realm.name, flow_name)
        return make_response(render_template("error.html", message_key="error.unavailable"), 503)
    sign_in = auth_session.load(request.args.get("tab_id"))
    client_id = sign_in.client_id if sign_in else request.args.get("client_id", "")
    client = find_client(db_session(), realm_request().realm, client_id)
    definition = flow.definition.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    auth = auth_session.start(client.client_id if client else "", sign_in.request if sign_in else {},
                              Progress(flow=definition), done_page={"message": done_message},
                              login_tab_id=sign_in.tab_id if sign_in else None)
    response = _show(auth, client)
    auth_session.set_cookie(response, auth)
    return response


def init_app(app: Flask) -> None:
    """Load the flows and the plugins' templates; the factory registers `bp` under the realm."""
    settings = app.config["IDP_SETTINGS"]
    flows = FlowLibrary(settings.flows_dir, load_registry())
    for problem in flows.load_all():
        log.error("flow file problem: %s", problem)
    app.extensions["idp.flows"] = flows
    _add_plugin_templates(app, flows)


def _add_plugin_templates(app: Flask, flows: FlowLibrary) -> None:
    """A society's own step package may ship `templates/` beside its module; the theme wins."""
    import inspect
    from pathlib import Path

    from jinja2 import ChoiceLoader, FileSystemLoader

    core = Path(__file__).resolve().parent.parent
    folders = []
    for plugin in [*flows.registry.actions.values(), *flows.registry.authenticators.values()]:
        folder = Path(inspect.getfile(type(plugin))).resolve().parent / "templates"
        if folder.is_dir() and core not in folder.parents and folder not in folders:
            folders.append(folder)
    if folders:
        assert app.jinja_loader is not None  # create_app gives the app its theme's template folder
        app.jinja_loader = ChoiceLoader([app.jinja_loader, *(FileSystemLoader(str(f)) for f in folders)])
