"""What every Keycloak realm holds without its export naming it: the built-in realm roles, the roles of
the built-in clients (`account`, `realm-management`, `broker`) with their composites, and those clients'
ids. An export's own definition of one of these roles wins; a missing one is taken from here, so the
references real exports make to them (a member's `account` `view-profile`, `offline_access`) resolve."""
from __future__ import annotations

# Keycloak's own clients: account-console is served here (idp.realms.ensure_account_console); the
# others are recognised by their ids and their roles, not served as relying parties.
BUILT_IN_CLIENTS = frozenset({"account", "account-console", "admin-cli", "broker", "realm-management",
                              "security-admin-console"})

# client (None for the realm) -> role -> its composites as (client or None, role)
ACCOUNT_ROLES = {
    "view-profile": (), "manage-account": (("account", "manage-account-links"),), "manage-account-links": (),
    "view-applications": (), "view-consent": (), "manage-consent": (("account", "view-consent"),),
    "view-groups": (), "delete-account": (),
}
MANAGEMENT_ROLES = {
    "create-client": (), "impersonation": (), "manage-authorization": (), "manage-clients": (),
    "manage-events": (), "manage-identity-providers": (), "manage-realm": (), "manage-users": (),
    "query-clients": (), "query-groups": (), "query-realms": (), "query-users": (), "view-authorization": (),
    "view-clients": (("realm-management", "query-clients"),), "view-events": (), "view-identity-providers": (),
    "view-realm": (), "view-users": (("realm-management", "query-users"), ("realm-management", "query-groups")),
}


def default_roles(realm: str) -> str:
    """The realm's default-roles composite, named with the realm's name lower-cased as Keycloak names it."""
    return f"default-roles-{realm.lower()}"


def built_in_roles(realm: str) -> dict[tuple[str | None, str], tuple[tuple[str | None, str], ...]]:
    """Every built-in role of realm `realm` with its composites, as Keycloak creates them."""
    roles: dict[tuple[str | None, str], tuple[tuple[str | None, str], ...]] = {
        (None, "offline_access"): (),
        (None, "uma_authorization"): (),
        (None, default_roles(realm)): ((None, "offline_access"), (None, "uma_authorization"),
                                           ("account", "view-profile"), ("account", "manage-account")),
        ("broker", "read-token"): (),
        ("realm-management", "realm-admin"): tuple(("realm-management", name) for name in MANAGEMENT_ROLES),
    }
    roles.update({("account", name): composites for name, composites in ACCOUNT_ROLES.items()})
    roles.update({("realm-management", name): composites for name, composites in MANAGEMENT_ROLES.items()})
    return roles
