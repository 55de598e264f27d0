"""Keycloak's Admin REST API under `/admin/realms/{realm}`: users, their credentials, sessions and
lockouts, events and clients, for service accounts and the `master` realm's administrators."""
from __future__ import annotations

from flask import Flask

from idp.extensions import csrf


def init_app(app: Flask) -> None:
    """Register the API. Each resource module adds its routes to `api.bp` when imported; `emails`
    adds its mailed link's page to the realm blueprint, so this runs before that is registered."""
    from idp.admin import api, attack_detection, clients, credentials, emails, events, user_actions, users  # noqa: F401
    csrf.exempt(api.bp)  # bearer tokens, not browser forms
    app.register_blueprint(api.bp)
