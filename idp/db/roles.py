"""Roles as Keycloak keeps them: realm and client roles in SQL, composites, a user's direct
mappings, and the roles a token carries (composites expanded, imported roles kept)."""
from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from idp.db.models import Role, User, user_role_mappings


def mapped_roles(session: Session, user: User) -> list[Role]:
    """The roles mapped to the user directly, by name."""
    query = select(Role).join(user_role_mappings, user_role_mappings.c.role_id == Role.id)
    return list(session.scalars(query.where(user_role_mappings.c.user_id == user.id).order_by(Role.name)))


def map_roles(session: Session, user: User, roles: list[Role]) -> None:
    """Add mappings; one the user already has is left as it is."""
    have = {role.id for role in mapped_roles(session, user)}
    new = [{"user_id": user.id, "role_id": role.id} for role in roles if role.id not in have]
    if new:
        session.execute(insert(user_role_mappings), new)


def unmap_roles(session: Session, user: User, roles: list[Role]) -> None:
    session.execute(delete(user_role_mappings).where(user_role_mappings.c.user_id == user.id,
                                                     user_role_mappings.c.role_id.in_([r.id for r in roles])))


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


def token_roles(session: Session | None, user: User) -> tuple[set[str], dict[str, set[str]]]:
    """What `realm_access.roles` and `resource_access` say: the roles kept on the user by an
    import or a service account's YAML, plus the mapped roles with their composites expanded
    (read through the user's database session)."""
    realm_roles = set(user.roles or [])
    client_roles = {client_id: set(names) for client_id, names in (user.client_roles or {}).items()}
    for role in expanded(mapped_roles(session, user) if session is not None else []):
        if role.client is None:
            realm_roles.add(role.name)
        else:
            client_roles.setdefault(role.client.client_id, set()).add(role.name)
    return realm_roles, client_roles
