"""Keycloak's Admin REST API under `/admin/realms/{realm}`: realms, users, their credentials,
sessions and lockouts, events, clients, roles and role mappings, groups and required actions, for
service accounts and the `master` realm's administrators."""
from __future__ import annotations

from flask import Flask

from idp.admin import (
    api,
    attack_detection,
    clients,
    credentials,
    emails,
    events,
    groups,
    offline_sessions,
    realms,
    required_actions,
    roles,
    user_actions,
    users,
)
from idp.extensions import csrf

RESOURCES = (realms.bp, users.bp, credentials.bp, user_actions.bp, emails.bp, attack_detection.bp, events.bp,
             clients.bp, roles.bp, groups.bp, required_actions.bp, offline_sessions.bp)


def init_app(app: Flask) -> None:
    """Register the API, each resource module's blueprint under the realm's, and the realm list."""
    for resource in RESOURCES:
        csrf.exempt(resource)  # bearer tokens, not browser forms
    admin = api.admin_blueprint(*RESOURCES)
    csrf.exempt(admin)
    app.register_blueprint(admin)
    realm_list = realms.realm_list_blueprint()
    csrf.exempt(realm_list)
    app.register_blueprint(realm_list)
    app.before_request(api.json_routing_errors)
