"""`clients`: the realm's relying parties as ClientRepresentations, and their secrets."""
from __future__ import annotations

import os
import secrets

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from idp.admin import errors
from idp.admin.api import caller, flag, record_admin_event, whole_number
from idp.admin.representations import client_representation
from idp.db import db_session
from idp.db.models import Client
from idp.realms import hash_client_secret
from idp.request_context import realm_request

bp = Blueprint("clients", __name__)


@bp.get("/clients")
def list_clients():
    """Every client, or the one named by `clientId` (exactly, or in part with `search=true`)."""
    caller().require("query-clients")
    query = select(Client).where(Client.realm_id == realm_request().realm.id).order_by(Client.client_id)
    client_id = request.args.get("clientId", "")
    if client_id:
        column = Client.client_id
        matches = column.contains(client_id, autoescape=True) if flag("search", False) else column == client_id
        query = query.where(matches)
    query = query.offset(whole_number("first", 0))
    if request.args.get("max"):
        query = query.limit(whole_number("max", 0))
    return jsonify([client_representation(client) for client in db_session().scalars(query)])


@bp.get("/clients/<client_pk>")
def get_client(client_pk: str):
    """One client by its id (the `id` of the listing, not its `clientId`)."""
    caller().require("view-clients")
    return jsonify(client_representation(realm_client(client_pk)))


@bp.get("/clients/<client_pk>/client-secret")
def get_client_secret(client_pk: str):
    """The secret, when this server can know it: the realm YAML's (from its environment variable or
    default). A regenerated secret is kept only as a hash, so it was shown once, when made."""
    caller().require("view-clients")
    client = realm_client(client_pk)
    body = {"type": "secret"}
    value = None if client.secret_regenerated_from else _configured_secret(client)
    return jsonify({**body, "value": value} if value else body)


@bp.post("/clients/<client_pk>/client-secret")
def regenerate_client_secret(client_pk: str):
    """A new random secret for a confidential client, in force at once for every worker and kept
    over restarts and realm reloads until the YAML's secret itself changes (docs/operator-guide.md)."""
    caller().require("manage-clients")
    client = realm_client(client_pk)
    if client.public:
        raise errors.bad_request("Client is public: it has no secret")
    secret = secrets.token_urlsafe(24)
    if client.secret_regenerated_from is None:
        client.secret_regenerated_from = client.secret_hash
    client.secret_hash = hash_client_secret(secret)
    record_admin_event("ACTION", None, f"clients/{client.id}/client-secret", resource_type="CLIENT")
    db_session().commit()
    return jsonify({"type": "secret", "value": secret})


def realm_client(client_pk: str) -> Client:
    client = db_session().get(Client, client_pk)
    if client is None or client.realm_id != realm_request().realm.id:
        raise errors.not_found("Could not find client")
    return client


def _configured_secret(client: Client) -> str | None:
    for configured in realm_request().config.clients:
        if configured.client_id == client.client_id and configured.secret is not None and configured.secret.env:
            return os.environ.get(configured.secret.env) or configured.secret.default
    return None
