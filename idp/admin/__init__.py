"""Keycloak's Admin REST API under `/admin/realms/{realm}`: users, their credentials, sessions and
lockouts, events and clients, for service accounts and the `master` realm's administrators."""
from __future__ import annotations

from flask import Flask

from idp.admin import api, attack_detection, clients, credentials, emails, events, user_actions, users
from idp.extensions import csrf

RESOURCES = (users.bp, credentials.bp, user_actions.bp, emails.bp, attack_detection.bp, events.bp, clients.bp)


def init_app(app: Flask) -> None:
    """Register the API, each resource module's blueprint under the realm's."""
    for resource in RESOURCES:
        csrf.exempt(resource)  # bearer tokens, not browser forms
    admin = api.admin_blueprint(*RESOURCES)
    csrf.exempt(admin)
    app.register_blueprint(admin)
