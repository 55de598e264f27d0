"""Realm roles (`roles`), client roles (`clients/{id}/roles`), both by id (`roles-by-id`), their
composites, and users' role mappings, as Keycloak's RoleContainerResource, RoleByIdResource and
RoleMapperResource. Realm roles need view-realm/manage-realm, client roles view-clients/manage-clients,
mappings view-users/manage-users."""
from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, jsonify, request
from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError

from idp.admin import errors
from idp.admin.api import caller, json_body, member, no_content, record_admin_event, string_lists, whole_number
from idp.admin.clients import realm_client
from idp.admin.groups import realm_group
from idp.admin.representations import user_representation
from idp.db import db_session
from idp.db.models import Client, Group, Role, User, group_role_mappings, user_role_mappings
from idp.db.roles import effective_roles, expanded, map_roles, mapped_roles, unmap_roles
from idp.request_context import realm_request

bp = Blueprint("roles", __name__)

REALM_ROLES, CLIENT_ROLES = "/roles", "/clients/<client_pk>/roles"


def role_representation(role: Role) -> dict:
    return {"id": role.id, "name": role.name, "description": role.description, "composite": bool(role.composites),
            "clientRole": role.client_pk is not None, "containerId": role.container_id,
            "attributes": dict(role.attributes or {})}


def _container(client_pk: str | None) -> tuple[str, Client | None]:
    """The realm's id, or the client's id with the client; the caller must be allowed to see it."""
    if client_pk is None:
        caller().require("view-realm")
        return realm_request().realm.id, None
    caller().require("view-clients")
    client = realm_client(client_pk)
    return client.id, client


def _require_manage(role_or_client: Role | Client | None) -> None:
    is_client = isinstance(role_or_client, Client) or (isinstance(role_or_client, Role) and role_or_client.client_pk)
    caller().require("manage-clients" if is_client else "manage-realm")


def _named(client_pk: str | None, name: str) -> Role:
    container_id, _ = _container(client_pk)
    role = db_session().scalar(select(Role).where(Role.container_id == container_id, Role.name == name))
    if role is None:
        raise errors.not_found("Could not find role")
    return role


def _by_id(role_id: str) -> Role:
    role = db_session().get(Role, role_id)
    if role is None or role.realm_id != realm_request().realm.id:
        raise errors.not_found("Could not find role with id")
    _container(role.client_pk)
    return role


def _resource_path(role: Role) -> str:
    return f"roles-by-id/{role.id}"


def _changed(operation: str, role: Role) -> None:
    record_admin_event(operation, None, _resource_path(role),
                       resource_type="CLIENT_ROLE" if role.client_pk else "REALM_ROLE")
    db_session().commit()


@bp.get(REALM_ROLES, defaults={"client_pk": None})
@bp.get(CLIENT_ROLES)
def list_roles(client_pk: str | None):
    """The container's roles by name; `search` matches part of the name."""
    container_id, _ = _container(client_pk)
    query = select(Role).where(Role.container_id == container_id).order_by(Role.name)
    if request.args.get("search"):
        query = query.where(Role.name.contains(request.args["search"], autoescape=True))
    query = query.offset(whole_number("first", 0))
    if request.args.get("max"):
        query = query.limit(whole_number("max", 0))
    return jsonify([role_representation(role) for role in db_session().scalars(query)])


@bp.post(REALM_ROLES, defaults={"client_pk": None})
@bp.post(CLIENT_ROLES)
def create_role(client_pk: str | None):
    """201 with the role's URL; 409 when the container has a role of that name."""
    container_id, client = _container(client_pk)
    _require_manage(client)
    body = json_body()
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise errors.bad_request("Role name is missing")
    role = Role(realm_id=realm_request().realm.id, client_pk=client_pk, container_id=container_id, name=name,
                description=str(body.get("description") or ""),
                attributes=string_lists(body, "attributes", "Invalid role attributes"))
    db_session().add(role)
    try:
        db_session().flush()
    except IntegrityError:
        raise errors.conflict(f"Role with name {name} already exists") from None
    _changed("CREATE", role)
    return "", 201, {"Location": request.base_url.rstrip("/") + "/" + quote(name, safe="")}


@bp.get(REALM_ROLES + "/<name>", defaults={"client_pk": None})
@bp.get(CLIENT_ROLES + "/<name>")
def get_role(client_pk: str | None, name: str):
    return jsonify(role_representation(_named(client_pk, name)))


@bp.get("/roles-by-id/<role_id>")
def get_role_by_id(role_id: str):
    return jsonify(role_representation(_by_id(role_id)))


@bp.put(REALM_ROLES + "/<name>", defaults={"client_pk": None})
@bp.put(CLIENT_ROLES + "/<name>")
def update_role(client_pk: str | None, name: str):
    return _update(_named(client_pk, name))


@bp.put("/roles-by-id/<role_id>")
def update_role_by_id(role_id: str):
    return _update(_by_id(role_id))


def _update(role: Role):
    """Name, description and attributes, as given; a taken name is a 409."""
    _require_manage(role)
    body = json_body()
    if isinstance(body.get("name"), str) and body["name"].strip():
        role.name = body["name"]
    if "description" in body:
        role.description = str(body.get("description") or "")
    if "attributes" in body:
        role.attributes = string_lists(body, "attributes", "Invalid role attributes")
    try:
        db_session().flush()
    except IntegrityError:
        raise errors.conflict(f"Role with name {role.name} already exists") from None
    _changed("UPDATE", role)
    return no_content()


@bp.delete(REALM_ROLES + "/<name>", defaults={"client_pk": None})
@bp.delete(CLIENT_ROLES + "/<name>")
def delete_role(client_pk: str | None, name: str):
    return _delete(_named(client_pk, name))


@bp.delete("/roles-by-id/<role_id>")
def delete_role_by_id(role_id: str):
    return _delete(_by_id(role_id))


def _delete(role: Role):
    _require_manage(role)
    db_session().delete(role)
    _changed("DELETE", role)
    return no_content()


@bp.get(REALM_ROLES + "/<name>/composites", defaults={"client_pk": None})
@bp.get(CLIENT_ROLES + "/<name>/composites")
def list_composites(client_pk: str | None, name: str):
    return jsonify([role_representation(child) for child in _named(client_pk, name).composites])


@bp.get("/roles-by-id/<role_id>/composites")
def list_composites_by_id(role_id: str):
    return jsonify([role_representation(child) for child in _by_id(role_id).composites])


@bp.get("/roles-by-id/<role_id>/composites/realm", defaults={"client_pk": None})
@bp.get("/roles-by-id/<role_id>/composites/clients/<client_pk>")
def list_composites_of_container(role_id: str, client_pk: str | None):
    """The role's composites that belong to the realm, or to one client."""
    role = _by_id(role_id)
    return jsonify([role_representation(child) for child in role.composites if child.client_pk == client_pk])


@bp.post(REALM_ROLES + "/<name>/composites", defaults={"client_pk": None})
@bp.post(CLIENT_ROLES + "/<name>/composites")
def add_composites(client_pk: str | None, name: str):
    return _add_composites(_named(client_pk, name))


@bp.post("/roles-by-id/<role_id>/composites")
def add_composites_by_id(role_id: str):
    return _add_composites(_by_id(role_id))


def _add_composites(role: Role):
    _require_manage(role)
    for child in _listed_roles():
        if child.id != role.id and child not in role.composites:
            role.composites.append(child)
    _changed("CREATE", role)
    return no_content()


@bp.delete(REALM_ROLES + "/<name>/composites", defaults={"client_pk": None})
@bp.delete(CLIENT_ROLES + "/<name>/composites")
def remove_composites(client_pk: str | None, name: str):
    return _remove_composites(_named(client_pk, name))


@bp.delete("/roles-by-id/<role_id>/composites")
def remove_composites_by_id(role_id: str):
    return _remove_composites(_by_id(role_id))


def _remove_composites(role: Role):
    _require_manage(role)
    gone = {child.id for child in _listed_roles()}
    role.composites = [child for child in role.composites if child.id not in gone]
    _changed("DELETE", role)
    return no_content()


def _listed_roles(container_id: str | None = None) -> list[Role]:
    """The body's RoleRepresentations, found by `id` (as Keycloak does), else by `name` in the
    container (the realm's roles unless told); one not found is a 404."""
    found = []
    realm_id = realm_request().realm.id
    container_id = container_id or realm_id
    for given in json_body(list):
        if not isinstance(given, dict):
            raise errors.bad_request("Invalid request body: expected a list of roles")
        role = db_session().get(Role, str(given.get("id") or "")) if given.get("id") else db_session().scalar(
            select(Role).where(Role.container_id == container_id, Role.name == str(given.get("name") or "")))
        if role is None or role.realm_id != realm_id:
            raise errors.not_found("Could not find role")
        found.append(role)
    return found


@bp.get(REALM_ROLES + "/<name>/users", defaults={"client_pk": None})
@bp.get(CLIENT_ROLES + "/<name>/users")
def list_role_members(client_pk: str | None, name: str):
    """The users the role is mapped to directly, as brief UserRepresentations."""
    role = _named(client_pk, name)
    caller().require("query-users")
    query = select(User).join(user_role_mappings, user_role_mappings.c.user_id == User.id)
    query = query.where(user_role_mappings.c.role_id == role.id).order_by(User.username)
    query = query.offset(whole_number("first", 0)).limit(whole_number("max", 100))
    return jsonify([user_representation(user, brief=True) for user in db_session().scalars(query)])


MAPPINGS = "/<any(users, groups):kind>/<subject_id>/role-mappings"


def _subject(kind: str, subject_id: str) -> tuple[Table, User | Group]:
    """The user or group whose mappings are asked for, with the table holding them."""
    if kind == "users":
        return user_role_mappings, member(subject_id)
    return group_role_mappings, realm_group(subject_id)


@bp.get(MAPPINGS)
def all_mappings(kind: str, subject_id: str):
    """Keycloak's MappingsRepresentation: `realmMappings`, and `clientMappings` by clientId."""
    caller().require("view-users")
    table, subject = _subject(kind, subject_id)
    mapped = mapped_roles(db_session(), table, subject.id)
    body: dict = {}
    realm_roles = [role_representation(role) for role in mapped if role.client is None]
    if realm_roles:
        body["realmMappings"] = realm_roles
    clients: dict[str, dict] = {}
    for role in mapped:
        if role.client is not None:
            entry = clients.setdefault(role.client.client_id, {"id": role.client.id, "client": role.client.client_id,
                                                               "mappings": []})
            entry["mappings"].append(role_representation(role))
    if clients:
        body["clientMappings"] = clients
    return jsonify(body)


@bp.get(MAPPINGS + "/realm", defaults={"client_pk": None, "view": "direct"})
@bp.get(MAPPINGS + "/realm/<any(available, composite):view>", defaults={"client_pk": None})
@bp.get(MAPPINGS + "/clients/<client_pk>", defaults={"view": "direct"})
@bp.get(MAPPINGS + "/clients/<client_pk>/<any(available, composite):view>")
def container_mappings(kind: str, subject_id: str, client_pk: str | None, view: str):
    """The roles of the realm (or of one client) mapped directly, `composite` (effective: composites
    and, for a user, their groups' roles) or `available` (the container's roles not yet mapped)."""
    caller().require("view-users")
    table, subject = _subject(kind, subject_id)
    container_id, _ = _container(client_pk)
    mapped = mapped_roles(db_session(), table, subject.id)
    if view == "available":
        have = {role.id for role in mapped}
        query = select(Role).where(Role.container_id == container_id).order_by(Role.name)
        roles = [role for role in db_session().scalars(query) if role.id not in have]
    elif view == "composite":
        roles = effective_roles(db_session(), subject) if isinstance(subject, User) else expanded(mapped)
    else:
        roles = mapped
    return jsonify([role_representation(role) for role in roles if role.container_id == container_id])


@bp.post(MAPPINGS + "/realm", defaults={"client_pk": None})
@bp.post(MAPPINGS + "/clients/<client_pk>")
def add_mappings(kind: str, subject_id: str, client_pk: str | None):
    caller().require("manage-users")
    table, subject = _subject(kind, subject_id)
    map_roles(db_session(), table, subject.id, _container_roles(client_pk))
    return _mappings_changed("CREATE", kind, subject, client_pk)


@bp.delete(MAPPINGS + "/realm", defaults={"client_pk": None})
@bp.delete(MAPPINGS + "/clients/<client_pk>")
def remove_mappings(kind: str, subject_id: str, client_pk: str | None):
    caller().require("manage-users")
    table, subject = _subject(kind, subject_id)
    unmap_roles(db_session(), table, subject.id, _container_roles(client_pk))
    return _mappings_changed("DELETE", kind, subject, client_pk)


def _container_roles(client_pk: str | None) -> list[Role]:
    container_id, _ = _container(client_pk)
    roles = _listed_roles(container_id)
    if any(role.container_id != container_id for role in roles):
        raise errors.not_found("Could not find role")
    return roles


def _mappings_changed(operation: str, kind: str, subject: User | Group, client_pk: str | None):
    where = f"clients/{client_pk}" if client_pk else "realm"
    record_admin_event(operation, subject if isinstance(subject, User) else None,
                       f"{kind}/{subject.id}/role-mappings/{where}",
                       resource_type="CLIENT_ROLE_MAPPING" if client_pk else "REALM_ROLE_MAPPING")
    db_session().commit()
    return no_content()
