"""`groups`: Keycloak's GroupsResource and GroupResource (create, read, rename, delete, subgroups,
members), `group-by-path`, and a user's groups (join, leave). Listing needs query-groups, reading
view-users, changing manage-users, as in Keycloak."""
from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, jsonify, request
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from idp.admin import errors
from idp.admin.api import caller, json_body, member, no_content, record_admin_event, string_lists, whole_number
from idp.admin.representations import user_representation
from idp.db import db_session
from idp.db.models import Group, User, group_members, group_role_mappings
from idp.db.roles import mapped_roles, user_groups
from idp.request_context import realm_request

bp = Blueprint("groups", __name__)


def realm_group(group_id: str) -> Group:
    group = db_session().get(Group, group_id)
    if group is None or group.realm_id != realm_request().realm.id:
        raise errors.not_found("Could not find group by id")
    return group


def group_representation(group: Group, *, brief: bool = False) -> dict:
    """Keycloak's GroupRepresentation; subgroups are counted, and listed by `children`."""
    body = {"id": group.id, "name": group.name, "path": group.path, "subGroupCount": len(group.subgroups),
            "subGroups": []}
    if group.parent_id:
        body["parentId"] = group.parent_id
    if brief:
        return body
    roles = mapped_roles(db_session(), group_role_mappings, group.id)
    client_roles: dict[str, list[str]] = {}
    for role in roles:
        if role.client is not None:
            client_roles.setdefault(role.client.client_id, []).append(role.name)
    return {**body, "attributes": dict(group.attributes or {}),
            "realmRoles": [role.name for role in roles if role.client is None], "clientRoles": client_roles,
            "access": {"view": True, "manage": "manage-users" in caller().permissions,
                       "manageMembership": "manage-users" in caller().permissions}}


def _brief() -> bool:
    return request.args.get("briefRepresentation", "true").lower() != "false"


def _page(groups: list[Group]) -> list[Group]:
    first = whole_number("first", 0)
    return groups[first:first + whole_number("max", 100)]


@bp.get("/groups")
def list_groups():
    """Top-level groups by name; `search` finds groups at any depth whose name contains it."""
    caller().require("query-groups")
    realm_id = realm_request().realm.id
    query = select(Group).where(Group.realm_id == realm_id).order_by(Group.name)
    search = request.args.get("search", "")
    query = query.where(Group.name.contains(search, autoescape=True) if search else Group.parent_id.is_(None))
    groups = _page(list(db_session().scalars(query)))
    return jsonify([group_representation(group, brief=_brief()) for group in groups])


@bp.get("/groups/count")
def count_groups():
    caller().require("query-groups")
    query = select(func.count()).select_from(Group).where(Group.realm_id == realm_request().realm.id)
    if request.args.get("top", "").lower() == "true":
        query = query.where(Group.parent_id.is_(None))
    return jsonify({"count": db_session().scalar(query)})


@bp.post("/groups", defaults={"parent_id": None})
@bp.post("/groups/<parent_id>/children")
def create_group(parent_id: str | None):
    """201 with the group's URL; 409 when a sibling has the name. A body naming an existing group's
    `id` moves that group here instead (204), as Keycloak does."""
    caller().require("manage-users")
    body = json_body()
    parent = realm_group(parent_id) if parent_id else None
    container_id = parent.id if parent else realm_request().realm.id
    if body.get("id"):
        return _move(realm_group(str(body["id"])), parent, container_id)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise errors.bad_request("Group name is missing")
    group = Group(realm_id=realm_request().realm.id, parent_id=parent_id, container_id=container_id, name=name,
                  attributes=string_lists(body, "attributes", "Invalid group attributes"))
    _save(group)
    _changed("CREATE", group)
    return "", 201, {"Location": f"{request.host_url}admin/realms/{realm_request().realm.name}/groups/"
                                 + quote(group.id, safe="")}


def _move(group: Group, parent: Group | None, container_id: str):
    ancestor = parent
    while ancestor is not None:
        if ancestor.id == group.id:
            raise errors.bad_request("Cannot move a group under itself")
        ancestor = ancestor.parent
    group.parent, group.container_id = parent, container_id
    _save(group)
    _changed("UPDATE", group)
    return no_content()


def _save(group: Group) -> None:
    db_session().add(group)
    try:
        db_session().flush()
    except IntegrityError:
        where = "Top level group" if group.parent_id is None else "Sibling group"
        raise errors.conflict(f"{where} named '{group.name}' already exists.") from None


def _changed(operation: str, group: Group) -> None:
    record_admin_event(operation, None, f"groups/{group.id}", resource_type="GROUP")
    db_session().commit()


@bp.get("/groups/<group_id>")
def get_group(group_id: str):
    caller().require("view-users")
    return jsonify(group_representation(realm_group(group_id)))


@bp.get("/group-by-path/<path:path>")
def get_group_by_path(path: str):
    caller().require("view-users")
    group = None
    for name in [part for part in path.split("/") if part]:
        container_id = group.id if group else realm_request().realm.id
        group = db_session().scalar(select(Group).where(Group.container_id == container_id, Group.name == name))
        if group is None:
            break
    if group is None:
        raise errors.not_found("Group path does not exist")
    return jsonify(group_representation(group))


@bp.put("/groups/<group_id>")
def update_group(group_id: str):
    """Its name and attributes, as given; a sibling's name is a 409."""
    caller().require("manage-users")
    group, body = realm_group(group_id), json_body()
    if isinstance(body.get("name"), str) and body["name"].strip():
        group.name = body["name"]
    if "attributes" in body:
        group.attributes = string_lists(body, "attributes", "Invalid group attributes")
    _save(group)
    _changed("UPDATE", group)
    return no_content()


@bp.delete("/groups/<group_id>")
def delete_group(group_id: str):
    """The group and its subgroups; their members stay, without them."""
    caller().require("manage-users")
    group = realm_group(group_id)
    db_session().delete(group)
    _changed("DELETE", group)
    return no_content()


@bp.get("/groups/<group_id>/children")
def list_children(group_id: str):
    caller().require("view-users")
    children = _page(realm_group(group_id).subgroups)
    return jsonify([group_representation(child, brief=_brief()) for child in children])


@bp.get("/groups/<group_id>/members")
def list_members(group_id: str):
    """The group's own members (not its subgroups'), by user ID."""
    caller().require("view-users")
    group = realm_group(group_id)
    query = select(User).join(group_members, group_members.c.user_id == User.id)
    query = query.where(group_members.c.group_id == group.id).order_by(User.username)
    query = query.offset(whole_number("first", 0)).limit(whole_number("max", 100))
    brief = request.args.get("briefRepresentation", "false").lower() == "true"
    return jsonify([user_representation(user, brief=brief) for user in db_session().scalars(query)])


@bp.get("/users/<user_id>/groups")
def list_user_groups(user_id: str):
    caller().require("view-users")
    groups = _page(user_groups(db_session(), member(user_id)))
    return jsonify([group_representation(group, brief=_brief()) for group in groups])


@bp.get("/users/<user_id>/groups/count")
def count_user_groups(user_id: str):
    caller().require("view-users")
    return jsonify({"count": len(user_groups(db_session(), member(user_id)))})


@bp.put("/users/<user_id>/groups/<group_id>")
def join_group(user_id: str, group_id: str):
    caller().require("manage-users")
    user, group = member(user_id), realm_group(group_id)
    if group not in user_groups(db_session(), user):
        db_session().execute(insert(group_members), [{"group_id": group.id, "user_id": user.id}])
    return _membership_changed("CREATE", user, group)


@bp.delete("/users/<user_id>/groups/<group_id>")
def leave_group(user_id: str, group_id: str):
    caller().require("manage-users")
    user, group = member(user_id), realm_group(group_id)
    db_session().execute(delete(group_members).where(group_members.c.group_id == group.id,
                                                     group_members.c.user_id == user.id))
    return _membership_changed("DELETE", user, group)


def _membership_changed(operation: str, user: User, group: Group):
    record_admin_event(operation, user, f"users/{user.id}/groups/{group.id}", resource_type="GROUP_MEMBERSHIP")
    db_session().commit()
    return no_content()
