"""`events` (sign-ins and other member events) and `admin-events` (what administrators changed)."""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from idp.admin import errors
from idp.admin.api import caller, whole_number
from idp.admin.representations import ADMIN_PREFIX, admin_event_representation, event_representation
from idp.db import db_session
from idp.db.models import AuditEvent
from idp.request_context import realm_request

bp = Blueprint("events", __name__)

DEFAULT_MAX = 100


@bp.get("/events")
def list_events():
    """Newest first; filters `type` (repeatable), `client`, `user`, `ipAddress`, `dateFrom`, `dateTo`."""
    caller().require("view-events")
    query = _events(admin=False, types=request.args.getlist("type"))
    for name, column in (("client", AuditEvent.client_id), ("user", AuditEvent.user_id),
                         ("ipAddress", AuditEvent.ip_address)):
        if request.args.get(name):
            query = query.where(column == request.args[name])
    return jsonify([event_representation(event) for event in db_session().scalars(query)])


@bp.get("/admin-events")
def list_admin_events():
    """Newest first; filter `operationTypes` (repeatable: CREATE, UPDATE, DELETE, ACTION)."""
    caller().require("view-events")
    types = [ADMIN_PREFIX + operation for operation in request.args.getlist("operationTypes")]
    query = _events(admin=True, types=types)
    return jsonify([admin_event_representation(event) for event in db_session().scalars(query)])


def _events(*, admin: bool, types: list[str]):
    """The realm's member events or its admin events (kept as ADMIN_<operation>), of `types` if given."""
    is_admin = AuditEvent.type.startswith(ADMIN_PREFIX, autoescape=True)  # "_" is no wildcard here
    realm = realm_request().realm
    query = _page(select(AuditEvent).where(AuditEvent.realm_id == realm.id, is_admin if admin else ~is_admin))
    return query.where(AuditEvent.type.in_(types)) if types else query


def _page(query):
    first, limit = whole_number("first", 0), whole_number("max", DEFAULT_MAX)
    since, until = _day("dateFrom"), _day("dateTo")
    if since is not None:
        query = query.where(AuditEvent.time >= since)
    if until is not None:
        query = query.where(AuditEvent.time < until + timedelta(days=1))  # dateTo's day is included
    return query.order_by(AuditEvent.time.desc()).offset(first).limit(limit)


def _day(name: str) -> datetime | None:
    value = request.args.get(name, "")
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise errors.bad_request(f"Invalid value for {name}, expected format is yyyy-MM-dd") from None
    return datetime.combine(day, time.min, tzinfo=UTC)
