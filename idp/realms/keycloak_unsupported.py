"""What a Keycloak export holds that the import does not carry over, each as a one-line note naming
it, so nothing is left out silently (`idp realm import --strict` refuses the import over any note)."""
from __future__ import annotations

from idp.realms.keycloak_models import ClientRepresentation, RealmRepresentation, UserRepresentation
from idp.realms.schema import KEYCLOAK_CLIENT_SCOPES

# Flow bindings besides the browser and reset-credentials flows (which become flow YAML), with
# Keycloak's built-in flow for each: another flow bound there is not run here.
OTHER_FLOW_BINDINGS = {
    "directGrantFlow": "direct grant", "registrationFlow": "registration", "clientAuthenticationFlow": "clients",
    "firstBrokerLoginFlow": "first broker login", "dockerAuthenticationFlow": "docker auth",
}
USER_FEDERATION = "org.keycloak.storage.UserStorageProvider"


def realm_notes(realm: RealmRepresentation, bound_flows: set[str]) -> list[str]:
    """The realm's own settings and lists that are not carried over; `bound_flows` became flow YAML."""
    notes = []
    if realm.identity_providers:
        notes.append(f"identityProviders: {_names(realm.identity_providers)} not carried over; identity brokering "
                     "is not offered here")
    for key, built_in in OTHER_FLOW_BINDINGS.items():
        bound = realm.setting(key)
        if bound not in (None, built_in):
            notes.append(f"{key}: flow {bound!r} not carried over; that step runs as Keycloak's built-in one here")
    custom = [f.alias for f in realm.authentication_flows if not f.built_in and f.alias not in bound_flows]
    if custom:
        notes.append(f"authenticationFlows: custom flows {', '.join(map(repr, custom))} not carried over; "
                     "write the ones you use as flow YAML")
    federation = realm.components.get(USER_FEDERATION) or []
    if federation:
        notes.append(f"components: user federation {_names(federation)} not carried over; its members' "
                     "profiles stay in that directory")
    if realm.smtp_server and realm.smtp_server.host:
        notes.append("smtpServer: host, port and login not carried over; mail goes out through IDP_MAIL_URL")
    groups = [path for path, group in realm.groups_by_path().items() if group.attributes]
    if groups:
        notes.append(f"groups: attributes of {', '.join(map(repr, groups))} not carried over; members keep "
                     "their group paths")
    if any(item.alias == "TERMS_AND_CONDITIONS" and item.enabled for item in realm.required_actions):
        notes.append("requiredActions: TERMS_AND_CONDITIONS is enabled but its text (a theme message) is not carried "
                     "over; members are asked to agree (accept-terms) once the realm YAML has `terms`")
    return notes


def client_notes(client: ClientRepresentation, where: str) -> list[str]:
    """What of a carried-over client is not: custom token claims, flows and screens not offered here."""
    notes = []
    if client.protocol_mappers:
        notes.append(f"{where}: protocolMappers {_names(client.protocol_mappers)} not carried over; tokens "
                     "carry Keycloak's default claims")
    listed = [*(client.default_client_scopes or []), *(client.optional_client_scopes or [])]
    unknown = [scope for scope in listed if scope not in KEYCLOAK_CLIENT_SCOPES]
    if unknown:
        notes.append(f"{where}: client scopes {', '.join(unknown)} not carried over; only Keycloak's built-in "
                     "client scopes are served")
    for key, enabled, offered in (
        ("implicitFlowEnabled", client.implicit_flow_enabled, "the implicit flow is not offered"),
        ("consentRequired", client.consent_required, "no consent screen is shown"),
        ("authorizationServicesEnabled", client.authorization_services_enabled,
         "authorization services (policies, UMA) are not offered"),
    ):
        if enabled:
            notes.append(f"{where}: {key} not carried over; {offered}")
    return notes


def user_notes(users: list[tuple[str, UserRepresentation]]) -> list[str]:
    consents = sum(bool(user.client_consents) for _, user in users)
    if not consents:
        return []
    return [f"users: {consents} with client consents (clientConsents) not carried over; no consent screen is shown"]


def _names(entries) -> str:
    return ", ".join(repr(entry.alias or entry.name) for entry in entries)
