"""Our records in Keycloak's JSON shapes: UserRepresentation, CredentialRepresentation,
UserSessionRepresentation, EventRepresentation, AdminEventRepresentation, ClientRepresentation."""
from __future__ import annotations

import json
from datetime import datetime

from idp.db.models import AuditEvent, Client, Credential, User, UserSession
from idp.db.users import OTP, PASSWORD

BIRTHDATE = "birthdate"  # the member's date of birth travels as a user-profile attribute
# Admin events are kept with the member events, typed ADMIN_<operationType>.
ADMIN_PREFIX = "ADMIN_"
UPDATE_PASSWORD = "UPDATE_PASSWORD"  # the required action a temporary password stands for


def millis(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment is not None else None


def profile_attributes(user: User) -> dict[str, list[str]]:
    """Keycloak-shaped attributes (a name and its list of strings); the server's own flags,
    kept as other values (e.g. email codes switched on), are not part of the profile."""
    shown = {name: list(values) for name, values in (user.attributes or {}).items() if _is_profile_value(values)}
    if user.birthdate is not None:
        shown[BIRTHDATE] = [user.birthdate.isoformat()]
    return shown


def _is_profile_value(values) -> bool:
    return isinstance(values, list) and all(isinstance(value, str) for value in values)


def user_representation(user: User, *, brief: bool = False, can_manage: bool = False) -> dict:
    body: dict[str, object] = {
        "id": user.id,
        "username": user.username,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "email": user.email,
        "emailVerified": bool(user.email_verified),
        "createdTimestamp": millis(user.created_at),
        "enabled": bool(user.enabled),
        "totp": any(credential.type == OTP for credential in user.credentials),
        "disableableCredentialTypes": [],
        "requiredActions": required_actions(user),
        "notBefore": user.not_before or 0,
    }
    if user.service_account_client_id:
        body["serviceAccountClientId"] = user.service_account_client_id
    if not brief:
        body["attributes"] = profile_attributes(user)
        body["access"] = {"manageGroupMembership": can_manage, "view": True, "mapRoles": can_manage,
                          "impersonate": False, "manage": can_manage}
    return {key: value for key, value in body.items() if value is not None}


def required_actions(user: User) -> list[str]:
    """Queued actions; a temporary password reads as UPDATE_PASSWORD, as Keycloak queues it."""
    actions = {action.action for action in user.required_actions}
    if any(c.type == PASSWORD and c.temporary for c in user.credentials):
        actions.add(UPDATE_PASSWORD)
    return sorted(actions)


def credential_representation(credential: Credential) -> dict:
    """Never the secret: Keycloak's listing has no secretData, and credentialData as a JSON string."""
    body = {"id": credential.id, "type": credential.type, "createdDate": millis(credential.created_at),
            "credentialData": json.dumps(credential.credential_data or {}, separators=(",", ":")),
            "priority": credential.priority}
    if credential.user_label:
        body["userLabel"] = credential.user_label
    if credential.temporary:
        body["temporary"] = True
    return body


def session_representation(user_session: UserSession, user: User, clients: dict[str, Client]) -> dict:
    return {
        "id": user_session.id,
        "username": user.username,
        "userId": user.id,
        "ipAddress": user_session.ip_address,
        "start": millis(user_session.started_at),
        "lastAccess": millis(user_session.last_seen_at),
        "rememberMe": bool(user_session.remember_me),
        "clients": {part.client_id: clients[part.client_id].client_id
                    for part in user_session.client_sessions if part.client_id in clients},
    }


def event_representation(event: AuditEvent) -> dict:
    body = {"id": event.id, "time": millis(event.time), "type": event.type, "realmId": event.realm_id,
            "clientId": event.client_id, "userId": event.user_id, "sessionId": event.session_id,
            "ipAddress": event.ip_address, "error": event.error,
            "details": {name: _detail_text(value) for name, value in (event.details or {}).items()}}
    return {key: value for key, value in body.items() if value is not None}


def _detail_text(value) -> str:
    # Keycloak's details are a map of strings.
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def admin_event_representation(event: AuditEvent) -> dict:
    details = event.details or {}
    body = {
        "id": event.id,
        "time": millis(event.time),
        "realmId": event.realm_id,
        "authDetails": {"realmId": details.get("auth_realm"), "clientId": event.client_id,
                        "userId": details.get("auth_user_id"), "ipAddress": event.ip_address},
        "operationType": event.type.removeprefix(ADMIN_PREFIX),
        "resourceType": details.get("resource_type", "USER"),
        "resourcePath": details.get("resource_path", ""),
    }
    if event.error:
        body["error"] = event.error
    return body


def client_representation(client: Client) -> dict:
    return {
        "id": client.id,
        "clientId": client.client_id,
        "name": client.name,
        "enabled": bool(client.enabled),
        "publicClient": bool(client.public),
        "clientAuthenticatorType": "client-secret",
        "redirectUris": list(client.redirect_uris),
        "webOrigins": list(client.web_origins),
        "baseUrl": client.base_url,
        "bearerOnly": False,
        "consentRequired": False,
        "standardFlowEnabled": bool(client.standard_flow),
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": bool(client.direct_access_grants),
        "serviceAccountsEnabled": bool(client.service_account),
        "frontchannelLogout": True,
        "protocol": "openid-connect",
        "fullScopeAllowed": True,
        "attributes": {"pkce.code.challenge.method": "S256"} if client.pkce_required else {},
        "defaultClientScopes": ["web-origins", "acr", "profile", "roles", "basic", "email"],
        "optionalClientScopes": ["address", "phone", "offline_access", "microprofile-jwt"],
    }
