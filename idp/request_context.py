"""The realm a request is for, loaded once from its URL: `RealmRequest`, its accessor
`realm_request()`, and the `/realms/<realm>` blueprint the realm's areas are registered under."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, abort, current_app, g, has_app_context, make_response, render_template

from idp.config import Settings
from idp.db import db_session
from idp.db.models import Realm
from idp.realms import RealmNotFound, find_realm, realm_config
from idp.realms.schema import RealmConfig


@dataclass(frozen=True)
class RealmRequest:
    """What a realm's endpoints read: the realm, its configuration, the server's settings and the
    realm's issuer URL."""

    realm: Realm
    config: RealmConfig
    settings: Settings
    issuer: str


def enter_realm(name: str) -> RealmRequest | None:
    """Load the realm named in the URL (enabled ones only) as this request's; None when there is none."""
    settings: Settings = current_app.config["IDP_SETTINGS"]
    try:
        realm = find_realm(db_session(), name)
    except RealmNotFound:
        return None
    g.realm_request = RealmRequest(realm, realm_config(realm), settings, settings.issuer(realm.name))
    return g.realm_request


def realm_request() -> RealmRequest:
    """This request's realm; only code that runs for a realm's URL asks."""
    entered = optional_realm_request()
    if entered is None:
        raise LookupError("this request is not for a realm")
    return entered


def optional_realm_request() -> RealmRequest | None:
    """This request's realm, or None outside one (error pages, operations endpoints, the CLI)."""
    return g.get("realm_request") if has_app_context() else None


def realm_theme() -> str | None:
    """The theme the request's realm shows its pages in (idp.themes asks), even once the realm is
    forgotten: an outage page still looks like the realm's."""
    entered = optional_realm_request()
    return entered.config.theme if entered is not None else g.get("forgotten_realm_theme")


def forget_realm_request() -> None:
    """From now on this request is answered as if it named no realm (its database is gone), in
    the realm's theme."""
    entered = g.pop("realm_request", None)
    if entered is not None:
        g.forgotten_realm_theme = entered.config.theme


def load_realm(_endpoint: str | None, values: dict | None) -> None:
    """The realm blueprint's URL value preprocessor: an unknown or disabled realm is a 404."""
    if enter_realm((values or {}).pop("realm", "")) is None:
        abort(404, description="unknown_realm")


def _fill_realm(_endpoint: str, values: dict) -> None:
    """`url_for` inside a realm's request links within that realm unless told otherwise."""
    entered = optional_realm_request()
    if entered is not None:
        values.setdefault("realm", entered.realm.name)


def _unknown_realm(_error):
    return make_response(render_template("error.html", message_key="error.unknown_realm"), 404)


def realm_blueprint(*areas: Blueprint) -> Blueprint:
    """`/realms/<realm>` with `areas` (protocol, sign-in, account) under it. A new one for each app,
    since a blueprint cannot take children once an app has registered it."""
    realm = Blueprint("realm", __name__, url_prefix="/realms/<realm>")
    realm.url_value_preprocessor(load_realm)
    realm.url_defaults(_fill_realm)
    realm.register_error_handler(404, _unknown_realm)
    for area in areas:
        realm.register_blueprint(area)
    return realm


def init_app(app: Flask) -> None:
    """Templates see the request's realm and its configuration (None outside a realm)."""
    @app.context_processor
    def realm_for_templates() -> dict:
        entered = optional_realm_request()
        return {"realm": entered.realm if entered else None, "realm_config": entered.config if entered else None}
