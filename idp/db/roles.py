"""Roles and groups as Keycloak keeps them: realm and client roles in SQL, composites, the roles
mapped to a user or a group, group membership, and the roles a token carries (composites and the
groups' roles, parents included, expanded; roles kept on the user by an import as well)."""
from __future__ import annotations

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from idp.db.models import Group, Role, User, group_members, group_role_mappings, user_role_mappings


def _key(table: Table):
    return table.c.user_id if table is user_role_mappings else table.c.group_id


def mapped_roles(session: Session, table: Table, subject_id: str) -> list[Role]:
    """The roles mapped directly to a user (`user_role_mappings`) or a group (`group_role_mappings`)."""
    query = select(Role).join(table, table.c.role_id == Role.id).where(_key(table) == subject_id)
    return list(session.scalars(query.order_by(Role.name)))


def map_roles(session: Session, table: Table, subject_id: str, roles: list[Role]) -> None:
    """Add mappings; one already there is left as it is."""
    have = {role.id for role in mapped_roles(session, table, subject_id)}
    new = [{_key(table).name: subject_id, "role_id": role.id} for role in roles if role.id not in have]
    if new:
        session.execute(insert(table), new)


def unmap_roles(session: Session, table: Table, subject_id: str, roles: list[Role]) -> None:
    session.execute(delete(table).where(_key(table) == subject_id, table.c.role_id.in_([r.id for r in roles])))


def expanded(roles: list[Role]) -> list[Role]:
    """The roles and every role their composites grant, each once (a composite cycle ends)."""
    seen: dict[str, Role] = {}
    waiting = list(roles)
    while waiting:
        role = waiting.pop()
        if role.id not in seen:
            seen[role.id] = role
            waiting.extend(role.composites)
    return sorted(seen.values(), key=lambda role: role.name)


def user_groups(session: Session, user: User) -> list[Group]:
    """The groups the user joined (not their parents), by path."""
    query = select(Group).join(group_members, group_members.c.group_id == Group.id)
    return sorted(session.scalars(query.where(group_members.c.user_id == user.id)), key=lambda group: group.path)


def effective_roles(session: Session, user: User) -> list[Role]:
    """The user's roles, the roles of their groups and of those groups' parents, composites expanded."""
    roles = mapped_roles(session, user_role_mappings, user.id)
    for group in user_groups(session, user):
        ancestor: Group | None = group
        while ancestor is not None:
            roles += mapped_roles(session, group_role_mappings, ancestor.id)
            ancestor = ancestor.parent
    return expanded(roles)


def token_roles(session: Session | None, user: User) -> tuple[set[str], dict[str, set[str]]]:
    """What `realm_access.roles` and `resource_access` say: the roles kept on the user by an
    import or a service account's YAML, plus `effective_roles` (read through the user's session)."""
    realm_roles = set(user.roles or [])
    client_roles = {client_id: set(names) for client_id, names in (user.client_roles or {}).items()}
    for role in effective_roles(session, user) if session is not None else []:
        if role.client is None:
            realm_roles.add(role.name)
        else:
            client_roles.setdefault(role.client.client_id, set()).add(role.name)
    return realm_roles, client_roles
