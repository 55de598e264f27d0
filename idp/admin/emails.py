"""Mails administrators send to a user: `execute-actions-email` (a link that runs the named
required actions in the member's browser) and `send-verify-email` (the verify-email link).

The links are made in idp.mail.links and opened on the sign-in pages (idp.login.views): the
execute-actions link is single use and lives `lifespan` seconds; opening it starts the actions for
that member (no password asked: the mailbox is the proof, as in Keycloak).
"""
from __future__ import annotations

import math

from flask import Blueprint, current_app, request

from idp import events
from idp.admin import errors
from idp.admin.api import caller, changed, json_body, member
from idp.db import db_session
from idp.db.models import Client, User
from idp.i18n import messages_for
from idp.mail import MailError, links, send_mail
from idp.mail.render import render_mail
from idp.oidc.clients import post_logout_redirect_uri_allowed, redirect_uri_allowed
from idp.realms import find_client
from idp.request_context import realm_request

bp = Blueprint("emails", __name__)

MAIL = "execute-actions"
VERIFY_EMAIL = "VERIFY_EMAIL"
MAX_LIFESPAN = 30 * 24 * 3600


def _registry():
    return current_app.extensions["idp.flows"].registry


@bp.put("/users/<user_id>/execute-actions-email")
def execute_actions_email(user_id: str):
    """Mail the user a link to run `actions` (Keycloak aliases, e.g. UPDATE_PASSWORD)."""
    caller().require("manage-users")
    user, client = _mailable(member(user_id))
    aliases = json_body(list)
    actions = [_registry().action_for_alias(alias) if isinstance(alias, str) else None for alias in aliases]
    names = [action.name for action in actions if action is not None]
    if not actions or len(names) != len(actions):
        raise errors.bad_request("Provided invalid required actions")
    lifespan, here = _lifespan(), realm_request()
    url, key = links.actions_link(here.realm.id, here.issuer, user_id=user.id, actions=names,
                                  client_id=client.client_id if client else None,
                                  redirect_uri=request.args.get("redirect_uri") or None, ttl=lifespan)
    try:
        _send_actions_mail(user, url, names, lifespan)
    except MailError:
        links.drop_actions_link(here.realm.id, key)
        raise errors.server_error("Failed to send execute actions email") from None
    _record("EXECUTE_ACTIONS", user, actions=",".join(aliases), lifespan=lifespan)
    return changed("ACTION", user, f"users/{user.id}/execute-actions-email", actions=",".join(aliases))


@bp.put("/users/<user_id>/send-verify-email")
def send_verify_email(user_id: str):
    """Mail the verify-email step's own link (opening it confirms the address, in any browser)."""
    caller().require("manage-users")
    user, _client = _mailable(member(user_id))
    plugin = _registry().action_for_alias(VERIFY_EMAIL)
    lifespan, here = _lifespan(), realm_request()
    link = links.step_link(here.realm.id, here.issuer, user_id=user.id, kind="action", name=plugin.name,
                           options=plugin.Options().model_dump(mode="json"), payload={"email": user.email},
                           ttl=lifespan)
    try:
        _send_actions_mail(user, link, [plugin.name], lifespan)
    except MailError:
        raise errors.server_error("Failed to send verify email") from None
    _record("SEND_VERIFY_EMAIL", user, email=user.email)
    return changed("ACTION", user, f"users/{user.id}/send-verify-email")


def _record(event_type: str, user: User, **details) -> None:
    """Keycloak's user event for a mail an administrator sent."""
    events.record(db_session(), realm_request().realm.id, event_type, user_id=user.id, client_id=caller().client_id,
                  ip_address=request.remote_addr or "", **details)


def _mailable(user: User) -> tuple[User, Client | None]:
    """The user and the client the link returns to, refused as Keycloak refuses them."""
    if not user.email:
        raise errors.bad_request("User email missing")
    if not user.enabled:
        raise errors.bad_request("User is disabled")
    client_id, redirect_uri = request.args.get("client_id"), request.args.get("redirect_uri")
    if redirect_uri and not client_id:
        raise errors.bad_request("Client id missing")
    if not client_id:
        return user, None
    client = find_client(db_session(), realm_request().realm, client_id)
    if client is None:
        raise errors.bad_request("Client doesn't exist")
    if redirect_uri and not (redirect_uri == client.base_url or redirect_uri_allowed(client, redirect_uri)
                             or post_logout_redirect_uri_allowed(client, redirect_uri)):
        raise errors.bad_request("Invalid redirect uri.")
    return user, client


def _lifespan() -> int:
    raw = request.args.get("lifespan", "")
    if not raw:
        return realm_request().config.tokens.action_token_admin_lifespan
    if not raw.isdigit() or not 0 < int(raw) <= MAX_LIFESPAN:
        raise errors.bad_request("Invalid lifespan")
    return int(raw)


def _send_actions_mail(user: User, url: str, action_names: list[str], lifespan: int) -> None:
    """The mail naming the actions in the member's words, with the link and how long it works."""
    assert user.email is not None  # _mailable refused a member without one
    here = realm_request()
    texts = messages_for(here.settings.themes_dir, here.config.theme)
    other = texts["execute_actions.action.other"]
    labels = [texts.get(f"execute_actions.action.{name}", other) for name in action_names]
    site = here.config.display_name or here.realm.name
    text, html = render_mail(here.settings, here.config.theme, MAIL, name=user.full_name, site=site, url=url,
                             actions=list(dict.fromkeys(labels)), expiry=_expiry(texts, lifespan))
    email = here.config.email
    send_mail(here.settings, to=user.email, subject=email.subject_prefix + texts["execute_actions.mail.subject"],
              text=text, html=html, sender=email.from_address or None, sender_name=email.from_display_name)


def _expiry(texts: dict[str, str], lifespan: int) -> str:
    """Whole hours in hours (Keycloak's default is 12), anything else in minutes."""
    minutes = math.ceil(lifespan / 60)
    if minutes % 60 == 0:
        return texts["execute_actions.expiry.hours"].format(hours=minutes // 60)
    return texts["execute_actions.expiry.minutes"].format(minutes=minutes)

