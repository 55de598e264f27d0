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

from idp.authenticators import webauthn_server as webauthn
from idp.db.models import Credential
from idp.db.users import OTP, PASSWORD, normalize_email
from idp.realms.keycloak_builtins import built_in_roles
from idp.realms.keycloak_mapping import AttributeMapping, first_sign_in
from idp.realms.keycloak_models import (
    CompositesRepresentation,
    KeycloakImportError,
    LegacyOtpCredential,
    OtherCredential,
    OtpCredential,
    PasskeyCredential,
    PasswordCredential,
    RealmRepresentation,
    RolesRepresentation,
    UserRepresentation,
)
from idp.security.secret_box import encrypt


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


def members(realm: RealmRepresentation, users: list[tuple[str, UserRepresentation]], settings,
            mapping: AttributeMapping, now: datetime) -> Members:
    """Every member entry (service accounts are the clients'), with its roles expanded and its
    first-sign-in progress read."""
    roles = RoleGraph(realm)
    found: list[tuple[str, ImportedUser]] = []
    notes: list[str] = []
    skipped: dict[str, int] = {}
    seen: dict[str, dict[str, str]] = {"id": {}, "username": {}, "email": {}, "credential": {}}
    unversioned_terms = linked = brokered = 0
    for where, user in users:
        if user.service_account_client_id:
            continue
        where = f"{where} (username {user.username!r})"
        member = _member(user, where, settings, mapping, roles, skipped, now)
        _unique(seen, member, where)
        unversioned_terms += member.unversioned_terms
        linked += bool(user.federation_link)
        brokered += bool(user.federated_identities)
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


def _member(user: UserRepresentation, where: str, settings, mapping: AttributeMapping, roles: RoleGraph,
            skipped: dict[str, int], now: datetime) -> ImportedUser:
    attributes = dict(user.attributes)
    credentials = _credentials(user, settings, skipped)
    progress = first_sign_in(attributes, {c.type for c in credentials}, mapping, where, now)
    fields = {
        "email": normalize_email(user.email),
        "email_verified": user.email_verified,
        "first_name": user.first_name or "",
        "last_name": user.last_name or "",
        "enabled": user.enabled,
        "attributes": attributes,
        **progress.fields,
    }
    if user.created_timestamp:
        fields["created_at"] = user.created_timestamp
    groups = roles.known_groups(user.groups, where)
    realm_roles, client_roles = roles.effective(user.realm_roles, user.client_roles, groups, where)
    return ImportedUser(
        # Keycloak's id, kept: it is the `sub` relying parties know the member by, and a passkey's user handle.
        id=user.id or str(uuid.uuid4()), username=(user.username or "").strip().lower(), fields=fields,
        roles=realm_roles, client_roles=client_roles, groups=groups,
        required_actions=list(dict.fromkeys(user.required_actions)),
        credentials=credentials, terms=progress.terms, unversioned_terms=progress.unversioned_terms,
    )


# Roles and groups


class RoleGraph:
    """The realm's roles (with their composites) and groups (with their roles), from the export, and
    Keycloak's built-in roles where the export does not define them."""

    def __init__(self, realm: RealmRepresentation):
        roles = realm.roles or RolesRepresentation()
        # A realm without "roles" says nothing about them; one with it defines every role there is.
        self.known = bool(roles.model_fields_set)
        self.composites: dict[tuple, CompositesRepresentation] = {
            role: _composites(parts) for role, parts in built_in_roles(realm.realm).items()}
        for client_id, defined in [(None, roles.realm), *roles.client.items()]:
            for role in defined:
                self.composites[(client_id, role.name)] = role.composites or CompositesRepresentation()
        self.groups = realm.groups_by_path()

    def known_groups(self, paths: list[str], where: str) -> list[str]:
        for path in paths:
            if path not in self.groups:
                raise KeycloakImportError(f"{where}: group {path!r} is not a group of the realm (its \"groups\")")
        return list(dict.fromkeys(paths))

    def effective(self, realm_roles: list[str], client_roles: dict[str, list[str]], groups: list[str],
                  where: str) -> tuple[list, dict]:
        """The member's realm and client roles as Keycloak's tokens list them."""
        wanted: list[tuple[str | None, str]] = [(None, name) for name in realm_roles]
        wanted += [(client, name) for client, names in client_roles.items() for name in names]
        for path in groups:
            for ancestor in _ancestors(path):
                group = self.groups.get(ancestor)
                if group is not None:
                    wanted += [(None, name) for name in group.realm_roles]
                    wanted += [(client, name) for client, names in group.client_roles.items() for name in names]
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
        composites = self.composites.get(role, CompositesRepresentation())
        for name in composites.realm:
            self._expand((None, name), found, where)
        for client, names in composites.client.items():
            for name in names:
                self._expand((client, name), found, where)


def _composites(parts: tuple) -> CompositesRepresentation:
    client: dict[str, list[str]] = {}
    for client_id, name in parts:
        if client_id is not None:
            client.setdefault(client_id, []).append(name)
    return CompositesRepresentation(realm=[name for client_id, name in parts if client_id is None], client=client)


def _ancestors(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[: n + 1]) for n in range(len(parts))]


# Credentials


def _credentials(user: UserRepresentation, settings, skipped: dict[str, int]) -> list[Credential]:
    credentials = []
    for index, entry in enumerate(user.credentials):
        if isinstance(entry, (PasswordCredential, LegacyOtpCredential)):
            entry = entry.current()
        if isinstance(entry, OtherCredential):
            skipped[entry.type] = skipped.get(entry.type, 0) + 1
            continue
        if isinstance(entry, PasswordCredential):
            credential = _password(entry, settings)
        elif isinstance(entry, OtpCredential):
            credential = _otp(entry, settings)
        else:
            credential = _passkey(entry)
        credential.user_label = entry.user_label or ""
        credential.priority = (index + 1) * 10
        if entry.created_date:
            credential.created_at = entry.created_date
        credentials.append(credential)
    return credentials


def _password(entry: PasswordCredential, settings) -> Credential:
    """Keycloak's secretData and credentialData are kept as they are; a plain value is hashed."""
    if entry.secret_data is None or entry.credential_data is None:
        from idp.security.passwords import hash_password

        assert entry.value is not None  # PasswordCredential.hashed_or_plain: no hash means a plain value
        secret_data, credential_data = hash_password(entry.value, settings)
    else:
        secret_data, credential_data = (data.model_dump(by_alias=True, exclude_unset=True)
                                        for data in (entry.secret_data, entry.credential_data))
    return Credential(type=PASSWORD, secret_data=secret_data, credential_data=credential_data,
                      temporary=bool(entry.temporary))


def _otp(entry: OtpCredential, settings) -> Credential:
    data = entry.credential_data
    credential_data = {
        "subType": data.sub_type,
        "digits": data.digits,
        "period": data.period,
        "counter": data.counter,
        "algorithm": data.algorithm,
        "secretEncoding": data.secret_encoding,
    }
    # Stored encrypted, as every OTP secret is; the plaintext keeps Keycloak's meaning.
    sealed = encrypt(entry.secret_data.value, settings.secret_key)
    return Credential(type=OTP, secret_data={"value": sealed}, credential_data=credential_data)


def _passkey(entry: PasskeyCredential) -> Credential:
    """Stored in our names, both ids in base64url, the sign count as Keycloak's `counter`."""
    data = entry.credential_data
    return Credential(type=webauthn.TYPE, secret_data={}, credential_data={
        "credentialId": webauthn.encode(data.credential_id),
        "credentialPublicKey": webauthn.encode(data.credential_public_key),
        "counter": data.counter,
        "aaguid": data.aaguid,
        "transports": [t for t in data.transports if isinstance(t, str) and t in webauthn.KNOWN_TRANSPORTS],
        "attestationStatementFormat": data.attestation_statement_format or "none",
    })
