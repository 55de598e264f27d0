"""`clients`: the realm's relying parties as ClientRepresentations (never their secrets)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from idp.admin.api import caller, flag, whole_number
from idp.admin.representations import client_representation
from idp.db import db_session
from idp.db.models import Client
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
