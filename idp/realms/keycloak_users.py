"""The members of a Keycloak export: profile, Keycloak id (our user id: the same `sub` in tokens and
the same passkey user handle), effective roles, group paths, pending actions, first-sign-in progress
and credentials (passwords, OTP devices, passkeys).

Roles are stored as Keycloak puts them in tokens: the member's own roles, those of their groups
and the groups' parents, and every composite role they contain, expanded once at import.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from fido2 import cbor
from fido2.cose import CoseKey

from idp.authenticators import webauthn_server as webauthn
from idp.db.models import Credential
from idp.db.users import OTP, PASSWORD, normalize_email
from idp.realms.keycloak_mapping import AttributeMapping, first_sign_in
from idp.realms.keycloak_values import (KeycloakImportError, check_base32, check_base64, from_millis, json_field,
                                        positive, shaped, string_list)
from idp.security.secret_box import encrypt

PASSWORD_ALGORITHMS = {"pbkdf2", "pbkdf2-sha256", "pbkdf2-sha512", "argon2"}
OTP_ALGORITHMS = {"HmacSHA1", "HmacSHA256", "HmacSHA512"}
# Keycloak's two passkey credential types (second factor, and passwordless); both are our passkeys.
WEBAUTHN_TYPES = {"webauthn", "webauthn-passwordless"}
# Keycloak's built-in required actions (their aliases, as stored on users).
REQUIRED_ACTIONS = {
    "UPDATE_PASSWORD", "CONFIGURE_TOTP", "VERIFY_EMAIL", "UPDATE_PROFILE", "TERMS_AND_CONDITIONS",
    "UPDATE_EMAIL", "VERIFY_PROFILE", "webauthn-register", "webauthn-register-passwordless",
    "CONFIGURE_RECOVERY_AUTHN_CODES", "delete_credential", "delete_account", "update_user_locale",
}
USER_ID_LENGTH = 36  # users.id; Keycloak's USER_ENTITY.ID is as long


@dataclass
class ImportedUser:
    id: str
    username: str
    fields: dict
    roles: list[str]
    client_roles: dict
    groups: list[str]
    required_actions: list[str]
    credentials: list[Credential]
    terms: list[tuple[str, datetime]] = field(default_factory=list)
    unversioned_terms: bool = False  # accepted Keycloak's terms; no version says which of ours


@dataclass
class Members:
    """What `members` found: the members with where each is, and what it leaves out."""

    users: list[tuple[str, ImportedUser]]
    notes: list[str]


def members(export: dict, users: list[tuple[str, dict]], settings, mapping: AttributeMapping,
            now: datetime) -> Members:
    """Every member entry (service accounts are the clients'), validated, with its roles expanded."""
    roles = RoleGraph(export)
    found, notes, skipped = [], [], {}
    seen = {"id": {}, "username": {}, "email": {}, "credential": {}}
    unversioned_terms = linked = brokered = 0
    for where, entry in users:
        if entry.get("serviceAccountClientId"):
            continue
        where = f"{where} (username {entry.get('username')!r})"
        member = _member(entry, where, settings, mapping, roles, skipped, now)
        _unique(seen, member, where)
        unversioned_terms += member.unversioned_terms
        linked += bool(entry.get("federationLink"))
        brokered += bool(entry.get("federatedIdentities"))
        found.append((where, member))
    for kind, count in sorted(skipped.items()):
        notes.append(f"users: {count} {kind} credential(s) skipped; those members set them up again")
    if linked:
        notes.append(f"users: {linked} linked to user federation (federationLink); their passwords stayed in "
                     "that directory, so they set one here with パスワードを忘れた方")
    if brokered:
        notes.append(f"users: {brokered} with identity-provider links (federatedIdentities); those links are "
                     "not carried over, the members sign in with their user ID and password")
    if unversioned_terms:
        notes.append(f"users: {unversioned_terms} accepted Keycloak's terms (terms_and_conditions) but no "
                     "--terms-version says which of your versions that was; they agree again at the next sign-in")
    return Members(found, notes)


def _unique(seen: dict, member: ImportedUser, where: str) -> None:
    # Pairs, not a dict: every passkey of the member is checked, not only the last one.
    values = [("id", member.id), ("username", member.username), ("email", member.fields["email"])]
    values += [("credential", c.credential_data["credentialId"]) for c in member.credentials if c.type == "webauthn"]
    for what, value in values:
        if value is None:
            continue
        if value in seen[what]:
            label = "passkey credentialId" if what == "credential" else what
            raise KeycloakImportError(f"{where}: {label} {value!r} is also used by {seen[what][value]}")
        seen[what][value] = where


def _member(entry: dict, where: str, settings, mapping: AttributeMapping, roles: "RoleGraph",
            skipped: dict[str, int], now: datetime) -> ImportedUser:
    username = entry.get("username")
    if not isinstance(username, str) or not username.strip():
        raise KeycloakImportError(f"{where}: a user needs a username")
    attributes = _attributes(entry.get("attributes"), where)
    if not isinstance(entry.get("email") or "", str):
        raise KeycloakImportError(f"{where}: email must be a string")
    credentials = _credentials(shaped(entry.get("credentials"), list, f"{where}: credentials"), where, settings, skipped)
    progress = first_sign_in(attributes, {c.type for c in credentials}, mapping, where, now)
    fields = {
        "email": normalize_email(entry.get("email")),
        "email_verified": bool(entry.get("emailVerified")),
        "first_name": entry.get("firstName") or "",
        "last_name": entry.get("lastName") or "",
        "enabled": bool(entry.get("enabled", True)),
        "attributes": attributes,
        **progress.fields,
    }
    if entry.get("createdTimestamp"):
        fields["created_at"] = from_millis(entry["createdTimestamp"], where, "createdTimestamp")
    groups = _groups(entry.get("groups") or [], where, roles)
    realm_roles, client_roles = roles.effective(*role_mappings(entry, where), groups, where)
    return ImportedUser(
        id=_user_id(entry, where, credentials), username=username.strip().lower(), fields=fields,
        roles=realm_roles, client_roles=client_roles, groups=groups,
        required_actions=_required_actions(entry.get("requiredActions") or [], where),
        credentials=credentials, terms=progress.terms, unversioned_terms=progress.unversioned_terms,
    )


def _user_id(entry: dict, where: str, credentials: list[Credential]) -> str:
    """Keycloak's id, kept: it is the `sub` relying parties know the member by, and a passkey's user handle."""
    user_id = entry.get("id")
    if user_id is None:
        if any(c.type == "webauthn" for c in credentials):
            raise KeycloakImportError(
                f"{where}: a user with passkeys needs its Keycloak id (the passkeys' user handle)")
        return str(uuid.uuid4())
    if not isinstance(user_id, str) or not 0 < len(user_id) <= USER_ID_LENGTH or not user_id.isascii():
        raise KeycloakImportError(f"{where}: id {user_id!r} is not a Keycloak user id (up to 36 ASCII characters)")
    return user_id


def _attributes(attributes, where: str) -> dict[str, list[str]]:
    if attributes is None:
        return {}
    if not isinstance(attributes, dict):
        raise KeycloakImportError(f"{where}: attributes must be an object of name -> list of values")
    # Keycloak exports every attribute value as a list; a bare value is accepted as one item.
    return {name: [str(v) for v in (value if isinstance(value, list) else [value])] for name, value in attributes.items()}


def role_mappings(entry: dict, where: str) -> tuple[list[str], dict[str, list[str]]]:
    """A user entry's own realmRoles and clientRoles, checked to be role names."""
    realm_roles, client_roles = entry.get("realmRoles") or [], entry.get("clientRoles") or {}
    if not string_list(realm_roles):
        raise KeycloakImportError(f"{where}: realmRoles must be a list of role names")
    if not isinstance(client_roles, dict) or not all(string_list(names) for names in client_roles.values()):
        raise KeycloakImportError(f"{where}: clientRoles must be an object of clientId -> list of role names")
    return realm_roles, client_roles


def _groups(paths, where: str, roles: "RoleGraph") -> list[str]:
    if not string_list(paths):
        raise KeycloakImportError(f"{where}: groups must be a list of group paths")
    for path in paths:
        if path not in roles.groups:
            raise KeycloakImportError(f"{where}: group {path!r} is not a group of the realm (its \"groups\")")
    return list(dict.fromkeys(paths))


def _required_actions(actions: list, where: str) -> list[str]:
    if not string_list(actions):
        raise KeycloakImportError(f"{where}: requiredActions must be a list of required action names")
    for action in actions:
        if action not in REQUIRED_ACTIONS:
            raise KeycloakImportError(f"{where}: unknown required action {action!r}")
    return list(dict.fromkeys(actions))


# Roles and groups


class RoleGraph:
    """The realm's roles (with their composites) and groups (with their roles), from the export."""

    def __init__(self, export: dict):
        roles = shaped(export.get("roles"), dict, "roles")
        self.known = roles != {}
        self.composites: dict[tuple, dict] = {}
        for index, role in enumerate(shaped(roles.get("realm"), list, "roles.realm")):
            self._add_role(None, role, f"roles.realm[{index}]")
        for client_id, client_roles in shaped(roles.get("client"), dict, "roles.client").items():
            for index, role in enumerate(shaped(client_roles, list, f"roles.client.{client_id}")):
                self._add_role(client_id, role, f"roles.client.{client_id}[{index}]")
        self.groups: dict[str, dict] = {}
        self._add_groups(shaped(export.get("groups"), list, "groups"), "", "groups")

    def _add_role(self, client_id: str | None, role, where: str) -> None:
        if not isinstance(role, dict) or not isinstance(role.get("name"), str):
            raise KeycloakImportError(f"{where}: a role must be an object with a name")
        composites = shaped(role.get("composites"), dict, f"{where}.composites")
        client_composites = shaped(composites.get("client"), dict, f"{where}.composites.client")
        if not string_list(composites.get("realm") or []) or not all(map(string_list, client_composites.values())):
            raise KeycloakImportError(f"{where}.composites: realm must list role names, client map clientId -> names")
        self.composites[(client_id, role["name"])] = composites

    def _add_groups(self, groups: list, parent: str, where: str) -> None:
        for index, group in enumerate(groups):
            here = f"{where}[{index}]"
            if not isinstance(group, dict) or not isinstance(group.get("name"), str):
                raise KeycloakImportError(f"{here}: a group must be an object with a name")
            if not isinstance(group.get("path") or "", str):
                raise KeycloakImportError(f"{here}: path must be a string")
            role_mappings(group, here)
            path = group.get("path") or f"{parent}/{group['name']}"
            self.groups[path] = group
            self._add_groups(shaped(group.get("subGroups"), list, f"{here}.subGroups"), path, f"{here}.subGroups")

    def effective(self, realm_roles: list, client_roles: dict, groups: list[str], where: str) -> tuple[list, dict]:
        """The member's realm and client roles as Keycloak's tokens list them."""
        wanted = [(None, name) for name in realm_roles]
        wanted += [(client, name) for client, names in client_roles.items() for name in names or []]
        for path in groups:
            for ancestor in _ancestors(path):
                group = self.groups.get(ancestor, {})
                wanted += [(None, name) for name in group.get("realmRoles") or []]
                group_clients = (group.get("clientRoles") or {}).items()
                wanted += [(client, name) for client, names in group_clients for name in names]
        found: dict[tuple, None] = {}
        for role in wanted:
            self._expand(role, found, where)
        realm = [name for client, name in found if client is None]
        clients: dict[str, list[str]] = {}
        for client, name in found:
            if client is not None:
                clients.setdefault(client, []).append(name)
        return realm, clients

    def _expand(self, role: tuple, found: dict, where: str) -> None:
        if role in found:
            return
        if self.known and role not in self.composites:
            kind = "realm role" if role[0] is None else f"client role of {role[0]!r}"
            raise KeycloakImportError(f"{where}: {kind} {role[1]!r} is not defined in the realm's \"roles\"")
        found[role] = None
        composites = self.composites.get(role, {})
        for name in composites.get("realm") or []:
            self._expand((None, name), found, where)
        for client, names in (composites.get("client") or {}).items():
            for name in names:
                self._expand((client, name), found, where)


def _ancestors(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[: n + 1]) for n in range(len(parts))]


# Credentials


def _credentials(entries: list, where: str, settings, skipped: dict[str, int]) -> list[Credential]:
    credentials = []
    for index, entry in enumerate(entries):
        here = f"{where}: credentials[{index}]"
        if not isinstance(entry, dict):
            raise KeycloakImportError(f"{here}: a credential must be a JSON object")
        kind = entry.get("type")
        if not isinstance(kind, str):
            raise KeycloakImportError(f"{here}: type must be a string")
        if kind == PASSWORD:
            credential = _password(entry, here, settings)
        elif kind == OTP:
            credential = _otp(entry, here, settings)
        elif kind in WEBAUTHN_TYPES:
            credential = _passkey(entry, here)
        else:
            skipped[str(kind)] = skipped.get(str(kind), 0) + 1
            continue
        credential.user_label = entry.get("userLabel") or ""
        credential.priority = (index + 1) * 10
        if entry.get("createdDate"):
            credential.created_at = from_millis(entry["createdDate"], here, "createdDate")
        credentials.append(credential)
    if sum(c.type == PASSWORD for c in credentials) > 1:
        raise KeycloakImportError(f"{where}: more than one password credential")
    return credentials


def _password(entry: dict, where: str, settings) -> Credential:
    if "value" in entry and "secretData" not in entry:
        from idp.security.passwords import hash_password

        secret_data, credential_data = hash_password(str(entry["value"]), settings)
        return Credential(type=PASSWORD, secret_data=secret_data, credential_data=credential_data,
                          temporary=bool(entry.get("temporary")))
    secret_data = json_field(entry, "secretData", where)
    credential_data = json_field(entry, "credentialData", where)
    algorithm = credential_data.get("algorithm")
    if not isinstance(algorithm, str) or algorithm not in PASSWORD_ALGORITHMS:
        raise KeycloakImportError(f"{where}: unknown password algorithm {algorithm!r}")
    for name in ("value", "salt"):
        check_base64(secret_data.get(name), where, f"secretData.{name}")
    positive(credential_data.get("hashIterations"), where, "credentialData.hashIterations")
    if algorithm == "argon2":
        _argon2_parameters(shaped(credential_data.get("additionalParameters"), dict,
                                  f"{where}: credentialData.additionalParameters"), where)
    return Credential(type=PASSWORD, secret_data=secret_data, credential_data=credential_data,
                      temporary=bool(entry.get("temporary")))


def _argon2_parameters(parameters: dict, where: str) -> None:
    from idp.security.passwords import ARGON2_TYPES, ARGON2_VERSIONS

    def first(name):
        value = parameters.get(name)
        return value[0] if isinstance(value, list) and value else value

    if first("type") not in (None, *ARGON2_TYPES):
        raise KeycloakImportError(f"{where}: unknown argon2 type {first('type')!r}")
    if first("version") not in (None, *ARGON2_VERSIONS):
        raise KeycloakImportError(f"{where}: unknown argon2 version {first('version')!r}")
    for name in ("memory", "parallelism", "hashLength"):
        if first(name) is not None:
            positive(first(name), where, f"credentialData.additionalParameters.{name}")


def _otp(entry: dict, where: str, settings) -> Credential:
    secret_data = json_field(entry, "secretData", where)
    data = json_field(entry, "credentialData", where)
    value = secret_data.get("value")
    if not isinstance(value, str) or not value:
        raise KeycloakImportError(f"{where}: OTP secretData.value is missing")
    encoding = data.get("secretEncoding")
    if encoding not in (None, "BASE32"):
        raise KeycloakImportError(f"{where}: unknown OTP secretEncoding {encoding!r}")
    if encoding == "BASE32":
        check_base32(value, where)
    if data.get("subType") not in ("totp", "hotp"):
        raise KeycloakImportError(f"{where}: OTP subType {data.get('subType')!r} is neither totp nor hotp")
    if not isinstance(data.get("algorithm"), str) or data["algorithm"] not in OTP_ALGORITHMS:
        raise KeycloakImportError(f"{where}: unknown OTP algorithm {data.get('algorithm')!r}")
    if data.get("digits") not in (6, 8):
        raise KeycloakImportError(f"{where}: OTP digits must be 6 or 8, not {data.get('digits')!r}")
    positive(data.get("period", 30), where, "credentialData.period")
    credential_data = {
        "subType": data["subType"],
        "digits": data["digits"],
        "period": data.get("period", 30),
        "counter": data.get("counter", 0),
        "algorithm": data["algorithm"],
        "secretEncoding": encoding,
    }
    # Stored encrypted, as every OTP secret is; the plaintext keeps Keycloak's meaning.
    sealed = encrypt(value, settings.secret_key)
    return Credential(type=OTP, secret_data={"value": sealed}, credential_data=credential_data)


def _passkey(entry: dict, where: str) -> Credential:
    """Keycloak's WebAuthnCredentialData: credentialId in base64, credentialPublicKey (COSE) in
    base64url, the sign count as `counter`. Stored in our names, both ids in base64url."""
    data = json_field(entry, "credentialData", where)
    credential_id = _binary(data.get("credentialId"), where, "credentialData.credentialId")
    public_key = _binary(data.get("credentialPublicKey"), where, "credentialData.credentialPublicKey")
    try:
        CoseKey.parse(cbor.decode(public_key))
    except Exception:  # fido2 raises whatever its CBOR and key parsers meet; any of it means unusable
        raise KeycloakImportError(f"{where}: credentialData.credentialPublicKey is not a COSE public key") from None
    aaguid = data.get("aaguid") or "00000000-0000-0000-0000-000000000000"
    try:
        aaguid = str(uuid.UUID(aaguid))
    except (ValueError, TypeError, AttributeError):
        raise KeycloakImportError(f"{where}: credentialData.aaguid {aaguid!r} is not a UUID") from None
    transports = data.get("transports") or []
    if not isinstance(transports, list):
        raise KeycloakImportError(f"{where}: credentialData.transports must be a list")
    return Credential(type=webauthn.TYPE, secret_data={}, credential_data={
        "credentialId": webauthn.encode(credential_id),
        "credentialPublicKey": webauthn.encode(public_key),
        "counter": positive(data.get("counter", 0), where, "credentialData.counter", minimum=0),
        "aaguid": aaguid,
        "transports": [t for t in transports if isinstance(t, str) and t in webauthn.KNOWN_TRANSPORTS],
        "attestationStatementFormat": data.get("attestationStatementFormat") or "none",
    })


def _binary(value, where: str, name: str) -> bytes:
    try:
        if not isinstance(value, str) or not value.strip():
            raise ValueError
        decoded = webauthn.decode(value)
    except (ValueError, TypeError):
        raise KeycloakImportError(f"{where}: {name} is not base64") from None
    if not decoded:
        raise KeycloakImportError(f"{where}: {name} is empty")
    return decoded
