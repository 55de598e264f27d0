"""A user's offline access through the Admin API, as Keycloak shapes it: the offline sessions of a
client, the consents list (an offline token is an "additional grant"), and revoking them."""
from __future__ import annotations

from flask import Blueprint, jsonify

from idp.admin import errors
from idp.admin.api import caller, changed, member
from idp.admin.representations import millis
from idp.db import db_session
from idp.db.models import Client, OfflineSession, User
from idp.oidc import offline
from idp.request_context import realm_request

bp = Blueprint("offline_sessions", __name__)
OFFLINE_TOKEN = "Offline Token"  # Keycloak's key for the grant


def offline_session_representation(offline_session: OfflineSession, user: User, client: Client) -> dict:
    """Keycloak's UserSessionRepresentation of an offline session."""
    return {"id": offline_session.id, "username": user.username, "userId": user.id,
            "ipAddress": offline_session.ip_address, "start": millis(offline_session.started_at),
            "lastAccess": millis(offline_session.last_seen_at), "rememberMe": False,
            "clients": {client.id: client.client_id}, "transientUser": False}


@bp.get("/users/<user_id>/offline-sessions/<client_uuid>")
def offline_sessions(user_id: str, client_uuid: str):
    """The user's live offline sessions of one client (by its id, as Keycloak's path names it)."""
    caller().require("view-users")
    user, client = member(user_id), _client(client_uuid)
    found = offline.of_member(db_session(), realm_request().realm, user, client)
    return jsonify([offline_session_representation(s, user, client) for s in found])


@bp.get("/users/<user_id>/consents")
def consents(user_id: str):
    """Each client the user granted something: here, offline access (no consent screens are shown)."""
    caller().require("view-users")
    user, realm = member(user_id), realm_request().realm
    names = {client.id: client.client_id for client in realm.clients}
    granted = dict.fromkeys(s.client_id for s in offline.of_member(db_session(), realm, user))
    return jsonify([
        {"clientId": names[client_id], "grantedClientScopes": [], "createdDate": None, "lastUpdatedDate": None,
         "additionalGrants": [{"client": client_id, "key": OFFLINE_TOKEN}]}
        for client_id in granted
    ])


@bp.delete("/users/<user_id>/consents/<client_id>")
def revoke_consent(user_id: str, client_id: str):
    """Revoke the client's offline access (its offline sessions and tokens), as Keycloak's consent revocation does."""
    caller().require("manage-users")
    user, session, realm = member(user_id), db_session(), realm_request().realm
    client = next((c for c in realm.clients if c.client_id == client_id), None)
    found = offline.of_member(session, realm, user, client) if client is not None else []
    if not found:
        raise errors.not_found("Consent nor offline token not found")  # Keycloak's words
    offline.end(session, [s.id for s in found])
    return changed("DELETE", user, f"users/{user.id}/consents/{client_id}")


def _client(client_uuid: str) -> Client:
    client = db_session().get(Client, client_uuid)
    if client is None or client.realm_id != realm_request().realm.id:
        raise errors.not_found("Client not found")
    return client
