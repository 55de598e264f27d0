"""Import of a Keycloak realm export: realm settings, clients, and the members with their roles,
groups, first-sign-in progress and credentials (passwords, OTP devices, passkeys).

`kc.sh export --realm R --users same_file` writes one file; `--users different_files` writes a
folder of `R-realm.json`, `R-users-N.json` and `R-federated-users-N.json`; a whole-server export
writes one file holding a JSON list of realms. `read_exports` takes any of them (the file, the
folder, or the folder's realm file) and gives each realm.

The import is all or nothing: `parse_export` validates everything without touching the database
(the JSON types of Keycloak's representations, `keycloak_models`, then what they mean here) and
raises one `KeycloakImportError` naming the file, the entry and the JSON path at fault
(`R-users-1.json: users[3] (username 'x'): credentials[1].credentialData.algorithm: must be 'argon2', ...,
not 'md5'`); `plan_import` says what writing it would change (for `--dry-run`); only then does
`write_import` write everything in the caller's transaction.

What is kept, and how:
- Password hashes (`pbkdf2`, `pbkdf2-sha256`, `pbkdf2-sha512`, `argon2`) are stored with
  Keycloak's `secretData`/`credentialData` unchanged; `idp.security.passwords` verifies them as
  Keycloak computes them and `check_password` rehashes to argon2id at the next sign-in.
  A plain `value` (Keycloak's way to seed a password in a hand-written realm file) is hashed.
- OTP secrets keep Keycloak's shape, with `value` encrypted at rest; the HMAC key is the UTF-8
  bytes of the plaintext unless `secretEncoding` is "BASE32" (`idp.db.users.otp_key`).
- Passkeys (`webauthn`, `webauthn-passwordless`) keep their credential id, COSE public key and
  sign count; members keep Keycloak's user id, which is the passkeys' user handle and the `sub`
  of their tokens. The relying-party id comes from the realm's WebAuthn policy (Keycloak's
  default, the server's host name, is ours too when IDP_BASE_URL keeps the host).
- Redirect URIs keep Keycloak's patterns (`https://app/*`, `*`), matched as Keycloak matches them
  (`idp.realms.redirect_patterns`). Relative URIs are resolved against the client's `rootUrl`;
  without one they stay paths, resolved against the server's origin as Keycloak does. `+` in
  post-logout URIs expands to the redirect URIs; in web origins it is kept and resolved per request.
- Keycloak's own clients (account, admin-cli, broker, ...) are skipped silently; SAML clients,
  federated users and credential types that cannot be carried over are skipped with a note.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.db.models import PendingRequiredAction, Realm, TermsAcceptance, User
from idp.db.users import UserExists
from idp.realms import hash_client_secret, save_realm
from idp.realms.keycloak_builtins import BUILT_IN_CLIENTS
from idp.realms.keycloak_mapping import AttributeMapping
from idp.realms.keycloak_models import (
    ClientRepresentation,
    KeycloakImportError,
    RealmRepresentation,
    UserFile,
    UserRepresentation,
    validated,
)
from idp.realms.keycloak_unsupported import client_notes, realm_notes, user_notes
from idp.realms.keycloak_users import ImportedUser, members
from idp.realms.redirect_patterns import ANY, check_redirect_pattern
from idp.realms.schema import (
    KEYCLOAK_CLIENT_SCOPES,
    REALM_MANAGEMENT,
    REALM_MANAGEMENT_ROLES,
    ClientConfig,
    RealmConfig,
)

__all__ = ["KeycloakImportError", "ExportFiles", "KeycloakImport", "read_exports", "read_export", "parse_export",
           "refuse_notes", "plan_import", "write_import", "import_file"]

MASKED_SECRET = "**********"
REALM_FILE_SUFFIX = "-realm.json"

# Keycloak realm key -> where it lives in RealmConfig; also used to name keys in errors.
REALM_SETTINGS = {
    "displayName": ("display_name",),
    "enabled": ("enabled",),
    "passwordPolicy": ("password_policy",),
    "rememberMe": ("remember_me",),
    "registrationAllowed": ("registration_allowed",),
    "accessTokenLifespan": ("tokens", "access_token_lifespan"),
    "accessCodeLifespan": ("tokens", "access_code_lifespan"),
    "accessCodeLifespanLogin": ("tokens", "login_timeout"),
    "actionTokenGeneratedByUserLifespan": ("tokens", "action_token_lifespan"),
    "ssoSessionIdleTimeout": ("tokens", "sso_session_idle_timeout"),
    "ssoSessionMaxLifespan": ("tokens", "sso_session_max_lifespan"),
    "ssoSessionIdleTimeoutRememberMe": ("tokens", "remember_me_idle_timeout"),
    "ssoSessionMaxLifespanRememberMe": ("tokens", "remember_me_max_lifespan"),
    "offlineSessionIdleTimeout": ("tokens", "offline_session_idle_timeout"),
    "revokeRefreshToken": ("tokens", "revoke_refresh_token"),
    "refreshTokenMaxReuse": ("tokens", "refresh_token_max_reuse"),
    "defaultSignatureAlgorithm": ("tokens", "signature_algorithm"),
    "bruteForceProtected": ("brute_force", "enabled"),
    "permanentLockout": ("brute_force", "permanent_lockout"),
    "failureFactor": ("brute_force", "failure_factor"),
    "waitIncrementSeconds": ("brute_force", "wait_increment_seconds"),
    "maxFailureWaitSeconds": ("brute_force", "max_failure_wait_seconds"),
    "quickLoginCheckMilliSeconds": ("brute_force", "quick_login_check_milli_seconds"),
    "minimumQuickLoginWaitSeconds": ("brute_force", "minimum_quick_login_wait_seconds"),
    "maxDeltaTimeSeconds": ("brute_force", "max_delta_time_seconds"),
    "otpPolicyAlgorithm": ("otp_policy", "algorithm"),
    "otpPolicyDigits": ("otp_policy", "digits"),
    "otpPolicyPeriod": ("otp_policy", "period"),
    "otpPolicyLookAheadWindow": ("otp_policy", "look_around_window"),
    "smtpServer.from": ("email", "from_address"),
    "smtpServer.fromDisplayName": ("email", "from_display_name"),
}
# Flows a realm binds: Keycloak key -> (our setting, Keycloak's built-in flow, ours in its place).
FLOWS = {
    "browserFlow": ("browser_flow", "browser", "browser"),
    "resetCredentialsFlow": ("reset_credentials_flow", "reset credentials", "reset-credentials"),
}
# Where our webauthn settings come from, to name Keycloak's key when a value is refused.
WEBAUTHN_SETTINGS = {
    ("webauthn", "rp_id"): "webAuthnPolicyRpId",
    ("webauthn", "user_verification"): "webAuthnPolicyUserVerificationRequirement",
    ("webauthn", "rp_name"): "webAuthnPolicyRpEntityName",
}
# Keycloak's WebAuthn policy values that mean "use the default".
UNSET_POLICY = {None, "", "not specified"}

CLIENT_KEYS = {
    "client_id": "clientId",
    "redirect_uris": "redirectUris",
    "post_logout_redirect_uris": 'attributes."post.logout.redirect.uris"',
    "backchannel_logout_url": 'attributes."backchannel.logout.url"',
    "frontchannel_logout_url": 'attributes."frontchannel.logout.url"',
    "web_origins": "webOrigins",
    "public": "publicClient",
    "standard_flow": "standardFlowEnabled",
    "direct_access_grants": "directAccessGrantsEnabled",
    "service_account": "serviceAccountsEnabled",
}


@dataclass
class ExportFiles:
    """What `kc.sh export` wrote: the realm, and the user files written beside it (by name)."""

    realm: dict
    user_files: list[tuple[str, dict]] = field(default_factory=list)
    federated_files: list[tuple[str, dict]] = field(default_factory=list)
    # Which realm of a file holding several (`[1] (realm 'test')`); messages about it start with this.
    label: str = ""


@dataclass
class KeycloakImport:
    """A validated export, ready to write."""

    config: RealmConfig
    users: list[tuple[str, ImportedUser]]  # (where in the export, member)
    notes: list[str] = field(default_factory=list)
    label: str = ""  # which realm of a file holding several, as ExportFiles.label


@dataclass
class ImportPlan:
    """What writing an import would change, by kind (for `idp realm import --dry-run`)."""

    realm: str
    realm_exists: bool
    clients_created: list[str]
    clients_updated: list[str]
    clients_removed: list[str]
    users_created: list[str]
    credentials: dict[str, int]
    terms_acceptances: int
    required_actions: int
    skipped: list[str]


def read_exports(path: Path | str) -> list[ExportFiles]:
    """Every realm of an export: one file (holding one realm, or a JSON list of realms as Keycloak's
    whole-server export writes them), a `different_files` folder, or that folder's `<realm>-realm.json`."""
    path = Path(path)
    if path.is_dir():
        path = _realm_file_in(path)
    content = _read_json(path)
    if content == []:
        raise KeycloakImportError(f"{path}: holds an empty list, no realm")
    if not isinstance(content, list) or len(content) == 1:
        return [_realm_export(path, content[0] if isinstance(content, list) else content)]
    exports, names = [], set()
    for index, realm in enumerate(content):
        _check_realm(path, realm, f"[{index}]: ")
        if realm["realm"] in names:
            raise KeycloakImportError(f"{path}: [{index}]: realm {realm['realm']!r} appears twice in the file")
        names.add(realm["realm"])
        exports.append(ExportFiles(realm, label=f"[{index}] (realm {realm['realm']!r})"))
    return exports


def read_export(path: Path | str) -> ExportFiles:
    """An export of one realm (see `read_exports`)."""
    exports = read_exports(path)
    if len(exports) != 1:
        raise KeycloakImportError(f"{path}: the file holds {len(exports)} realms; import it with `idp realm import`")
    return exports[0]


def _check_realm(path: Path, realm, where: str = "") -> None:
    if not isinstance(realm, dict) or not isinstance(realm.get("realm"), str):
        raise KeycloakImportError(f"{path}: {where}not a Keycloak realm export (no \"realm\" key)")


def _realm_export(path: Path, realm) -> ExportFiles:
    """One realm, with the user files `--users different_files` wrote beside its `<realm>-realm.json`."""
    _check_realm(path, realm)
    if not path.name.endswith(REALM_FILE_SUFFIX):
        return ExportFiles(realm)
    prefix = path.name[: -len(REALM_FILE_SUFFIX)]
    files = ExportFiles(realm)
    for kind, key, found in (("users", "users", files.user_files), ("federated-users", "federatedUsers",
                                                                    files.federated_files)):
        for user_path in _numbered(path.parent, prefix, kind):
            found.append((user_path.name, _user_file(user_path, realm["realm"], key)))
    if realm.get("users") and files.user_files:
        # kc.sh writes one layout or the other; both at once means files of two exports side by side.
        raise KeycloakImportError(f"{path}: holds users and {files.user_files[0][0]} lies beside it; move the files "
                                  "of one export to a folder of their own")
    return files


def _realm_file_in(folder: Path) -> Path:
    found = sorted(folder.glob(f"*{REALM_FILE_SUFFIX}"))
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or f"no *{REALM_FILE_SUFFIX}"
        raise KeycloakImportError(f"{folder}: a `--users different_files` export holds one <realm>-realm.json; "
                                  f"found {names}")
    return found[0]


def _numbered(folder: Path, prefix: str, kind: str) -> list[Path]:
    """`<prefix>-<kind>-0.json`, `-1.json`, ... in order; a gap means a file went missing."""
    numbered: dict[int, Path] = {}
    for candidate in folder.glob(f"{prefix}-{kind}-*.json"):
        digits = candidate.name[len(f"{prefix}-{kind}-"):-len(".json")]
        if digits.isdigit():
            numbered[int(digits)] = candidate
    for number in range(len(numbered)):
        if number not in numbered:
            raise KeycloakImportError(f"{folder / f'{prefix}-{kind}-{number}.json'}: missing, but "
                                      f"{numbered[max(numbered)].name} is there; copy the whole export folder")
    return [numbered[n] for n in sorted(numbered)]


def _user_file(path: Path, realm: str, key: str) -> dict:
    content = _read_json(path)
    if not isinstance(content, dict) or not isinstance(content.get(key), list):
        raise KeycloakImportError(f"{path}: not a Keycloak user file (no \"{key}\" list)")
    if content.get("realm") != realm:
        raise KeycloakImportError(f"{path}: its users belong to realm {content.get('realm')!r}, not {realm!r}")
    return content


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise KeycloakImportError(f"{path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f":{exc.lineno}:{exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise KeycloakImportError(f"{path}{where}: not valid JSON: {getattr(exc, 'msg', exc)}") from None


@contextmanager
def _naming(label: str):
    """Messages about one realm of a file holding several start with which one."""
    try:
        yield
    except KeycloakImportError as exc:
        if not label:
            raise
        raise KeycloakImportError(f"{label}: {exc}") from None


def parse_export(files: ExportFiles, settings, mapping: AttributeMapping | None = None,
                 now: datetime | None = None) -> KeycloakImport:
    """Validate a whole realm export (and its user files) into what will be written."""
    with _naming(files.label):
        imported = _parse(files, settings, mapping, now)
    if files.label:
        imported.label, imported.notes = files.label, [f"{files.label}: {note}" for note in imported.notes]
    return imported


def _parse(files: ExportFiles, settings, mapping: AttributeMapping | None, now: datetime | None) -> KeycloakImport:
    realm = validated(RealmRepresentation, files.realm)
    users = list(_user_entries(realm, files))
    bound_flows = {flow for flow in (realm.browser_flow, realm.reset_credentials_flow) if flow}
    notes = realm_notes(realm, bound_flows) + user_notes(users)
    clients = _clients(realm, _service_account_roles(users, notes), notes)
    found = members(realm, users, settings, mapping or AttributeMapping(), now or datetime.now(UTC))
    config = _realm_config(realm, clients, settings, found.users)
    federated = sum(len(content["federatedUsers"]) for _, content in files.federated_files)
    if federated:
        notes.append(f"federated users: {federated} skipped; their profiles live in the user federation "
                     "provider (LDAP, ...), which is not carried over")
    return KeycloakImport(config=config, users=found.users, notes=notes + found.notes)


def refuse_notes(imports: list[KeycloakImport]) -> None:
    """`--strict`: anything skipped or not carried over refuses the import instead of being noted."""
    notes = [note for imported in imports for note in imported.notes]
    if notes:
        more = f" (and {len(notes) - 1} more; --dry-run lists them)" if len(notes) > 1 else ""
        raise KeycloakImportError(f"--strict: {notes[0]}{more}")


def plan_import(session: Session, imported: KeycloakImport) -> ImportPlan:
    """What `write_import` would change, read from the database without writing; raises
    KeycloakImportError for a member who already exists, as writing would."""
    with _naming(imported.label):
        return _plan(session, imported)


def _plan(session: Session, imported: KeycloakImport) -> ImportPlan:
    realm = session.scalar(select(Realm).where(Realm.name == imported.config.realm))
    existing = {c.client_id for c in realm.clients if not c.attributes.get("builtin")} if realm else set()
    wanted = [c.client_id for c in imported.config.clients]
    _refuse_clashes(session, realm, imported.users)
    credentials: dict[str, int] = {}
    for _, member in imported.users:
        for credential in member.credentials:
            credentials[credential.type] = credentials.get(credential.type, 0) + 1
    return ImportPlan(
        realm=imported.config.realm, realm_exists=realm is not None,
        clients_created=[c for c in wanted if c not in existing], clients_updated=[c for c in wanted if c in existing],
        clients_removed=sorted(existing - set(wanted)), users_created=[m.username for _, m in imported.users],
        credentials=credentials, terms_acceptances=sum(len(m.terms) for _, m in imported.users),
        required_actions=sum(len(m.required_actions) for _, m in imported.users), skipped=list(imported.notes),
    )


def write_import(session: Session, imported: KeycloakImport) -> Realm:
    """Create or update the realm and its clients and add its users; the caller commits."""
    with _naming(imported.label):
        return _write(session, imported)


def _write(session: Session, imported: KeycloakImport) -> Realm:
    _refuse_clashes(session, session.scalar(select(Realm).where(Realm.name == imported.config.realm)), imported.users)
    realm = save_realm(session, imported.config)
    for batch in _batches(imported.users):
        session.add_all(_user_rows(realm, member) for _, member in batch)
        # No savepoint: a clash fails the whole import, and the caller rolls everything back. Clashes
        # were looked for above, so one here is a member added while this import ran.
        try:
            session.flush()
        except IntegrityError as exc:
            taken = UserExists.from_integrity_error(exc, User())
            raise KeycloakImportError(
                f"{batch[0][0]} to {batch[-1][0]}: one of these members' {taken.field} was taken in realm "
                f"{imported.config.realm!r} while importing; import again") from None
        session.add_all(TermsAcceptance(user_id=member.id, version=version, accepted_at=accepted_at)
                        for _, member in batch for version, accepted_at in member.terms)
    session.flush()
    return realm


def _user_rows(realm: Realm, member: ImportedUser) -> User:
    return User(id=member.id, realm_id=realm.id, username=member.username, roles=member.roles,
                client_roles=member.client_roles, groups=member.groups, credentials=member.credentials,
                required_actions=[PendingRequiredAction(action=a) for a in member.required_actions], **member.fields)


def _refuse_clashes(session: Session, realm: Realm | None, users: list[tuple[str, ImportedUser]]) -> None:
    """The first member of the export (in its order) who is already here stops the import: the same
    Keycloak id anywhere (ids are ours, unique across realms), or the same user ID or email in the realm."""
    order = {where: index for index, (where, _) in enumerate(users)}
    clashes: dict[str, tuple[str, str]] = {}
    emails = {m.fields["email"]: where for where, m in users if m.fields["email"]}
    checks: list[tuple[str, Any, dict[str, str], Realm | None]] = [
        ("id", User.id, {m.id: where for where, m in users}, None)]
    if realm is not None:
        checks += [("username", User.username, {m.username: where for where, m in users}, realm),
                   ("email", func.lower(User.email), emails, realm)]
    for field_name, column, wanted, in_realm in checks:
        for batch in _batches(list(wanted)):
            query = select(column).where(column.in_(batch))
            if in_realm is not None:
                query = query.where(User.realm_id == in_realm.id, User.service_account_client_id.is_(None))
            for taken in session.scalars(query):
                clashes.setdefault(wanted[taken], (field_name, taken))
    if clashes:
        where = min(clashes, key=order.__getitem__)
        field_name, value = clashes[where]
        place = "(imported before?)" if realm is None or field_name == "id" else f"in realm {realm.name!r}"
        raise KeycloakImportError(f"{where}: a user with {field_name} {value!r} already exists {place}")


def _batches(values: list, size: int = 500):
    """Keeps each IN (...) under SQLite's limit on bound parameters, however large the export."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def import_file(session: Session, path: Path | str, settings, mapping: AttributeMapping | None = None
                ) -> tuple[Realm, KeycloakImport]:
    """Read, validate and write one export; nothing is written when anything is wrong."""
    imported = parse_export(read_export(path), settings, mapping)
    return write_import(session, imported), imported


def _user_entries(realm: RealmRepresentation, files: ExportFiles):
    """Every user entry with where it is, for messages (`users[3]`, `R-users-1.json: users[0]`)."""
    lists = [("", realm.users)]
    lists += [(f"{name}: ", validated(UserFile, content, name).users) for name, content in files.user_files]
    for prefix, users in lists:
        for index, user in enumerate(users):
            yield f"{prefix}users[{index}]", user


def _service_account_roles(users: list[tuple[str, UserRepresentation]], notes: list[str]
                           ) -> dict[str, tuple[list, dict]]:
    """A client's service account is a user in the export: its realm roles become the client's
    `service_account_roles` (save_realm adds the default-roles composite), its client roles
    `service_account_client_roles`, of realm-management only those the Admin REST API here knows."""
    roles = {}
    for where, user in users:
        client_id = user.service_account_client_id
        if not client_id:
            continue
        here = f"{where} (service account of {client_id!r})"
        client_roles = {name: list(names) for name, names in user.client_roles.items()}
        management = client_roles.pop(REALM_MANAGEMENT, [])
        kept = [role for role in management if role in REALM_MANAGEMENT_ROLES]
        if kept:
            client_roles[REALM_MANAGEMENT] = kept
        if len(kept) < len(management):
            dropped = ", ".join(sorted(set(management) - set(kept)))
            notes.append(f"{here}: {REALM_MANAGEMENT} roles {dropped} skipped, "
                         "the Admin REST API here does not offer them")
        roles[client_id] = ([r for r in user.realm_roles if not r.startswith("default-roles-")], client_roles)
    return roles


# Realm settings


def _realm_config(realm: RealmRepresentation, clients: list[ClientConfig], settings, users: list) -> RealmConfig:
    values: dict = {"realm": realm.realm, "clients": clients,
                    "webauthn": _webauthn(realm, any(c.type == "webauthn" for _, m in users for c in m.credentials)),
                    "required_actions": [{"alias": item.alias, "enabled": item.enabled,
                                          "default_action": item.default_action, "config": dict(item.config)}
                                         for item in realm.required_actions]}
    for key, (ours, keycloak_default, our_default) in FLOWS.items():
        values[ours] = _flow(realm, key, keycloak_default, our_default, settings)
    for key, path in REALM_SETTINGS.items():
        value = realm.setting(key)
        if value is not None:
            _place(values, path, value)
    values.setdefault("password_policy", "")
    try:
        return RealmConfig.model_validate(values)
    except ValidationError as exc:
        raise KeycloakImportError(_realm_problem(exc)) from None


def _place(values: dict, path: tuple, value) -> None:
    for part in path[:-1]:
        values = values.setdefault(part, {})
    values[path[-1]] = value


def _realm_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    loc = tuple(part for part in error["loc"] if isinstance(part, str))
    names = {path: key for key, path in REALM_SETTINGS.items()} | WEBAUTHN_SETTINGS
    key = names.get(loc) or ("realm" if loc == ("realm",) else ".".join(loc))
    return f"realm setting {key}: {error['msg']}"


def _flow(realm: RealmRepresentation, key: str, keycloak_default: str, our_default: str, settings) -> str:
    """A flow the realm binds (browserFlow, resetCredentialsFlow): Keycloak's built-in one is ours
    already; a custom one needs a flow YAML of the same name."""
    name = realm.setting(key) or keycloak_default
    if name == keycloak_default:
        return our_default
    if not (Path(settings.flows_dir) / f"{name}.yaml").exists():
        raise KeycloakImportError(
            f"realm setting {key}: flow {name!r} has no file {name}.yaml in {settings.flows_dir}; "
            f"write that flow in YAML first, or use Keycloak's built-in {keycloak_default!r}"
        )
    return name


def _webauthn(realm: RealmRepresentation, has_passkeys: bool) -> dict:
    """Keycloak's two WebAuthn policies (second factor, passwordless) as our one `webauthn` section."""
    first_factor = bool(realm.web_authn_policy_passwordless_passkeys_enabled)
    rp_ids = {rp_id for rp_id in (realm.web_authn_policy_rp_id, realm.web_authn_policy_passwordless_rp_id)
              if rp_id is not None and rp_id not in UNSET_POLICY}
    if len(rp_ids) > 1 and has_passkeys:
        raise KeycloakImportError(
            f"realm setting webAuthnPolicyRpId: the two WebAuthn policies name different relying-party ids "
            f"{sorted(rp_ids)}; a passkey works for one id only, so set both to the same in Keycloak and export again")
    policy = "webAuthnPolicyPasswordless" if first_factor else "webAuthnPolicy"
    values: dict = {"passkey_first_factor": first_factor}
    rp_id = realm.setting(f"{policy}RpId") or next(iter(rp_ids), None)
    if rp_id:
        values["rp_id"] = rp_id
    verification = realm.setting(f"{policy}UserVerificationRequirement")
    if verification not in UNSET_POLICY:
        values["user_verification"] = verification
    name = realm.setting(f"{policy}RpEntityName")
    if name not in UNSET_POLICY and name != "keycloak":  # Keycloak's default; ours is the display name
        values["rp_name"] = name
    return values


# Clients


def _clients(realm: RealmRepresentation, service_roles: dict[str, tuple[list, dict]], notes: list[str]
             ) -> list[ClientConfig]:
    clients = []
    for index, client in enumerate(realm.clients):
        client_id = client.client_id
        where = f"clients[{index}] (clientId {client_id!r})"
        if client_id in BUILT_IN_CLIENTS or client.attributes.realm_client == "true":
            continue
        if client.protocol != "openid-connect":
            notes.append(f"{where}: skipped, {client.protocol} clients are not supported")
            continue
        values = _client_values(client, where, service_roles.get(client_id or "", ([], {})))
        notes.extend(client_notes(client, where))
        try:
            clients.append(ClientConfig.model_validate(values))
        except ValidationError as exc:
            raise KeycloakImportError(f"{where}: {_client_problem(exc)}") from None
    return clients


def _client_values(client: ClientRepresentation, where: str, service_roles: tuple[list, dict]) -> dict:
    """The client's settings; a bearer-only one keeps its secret (for introspection) and no grant."""
    bearer_only = client.bearer_only
    public = client.public_client and not bearer_only
    secret = None if public else _client_secret(client, where)
    root = client.root_url or ""
    redirect_uris = [_absolute(uri, root, where, "redirectUris") for uri in client.redirect_uris]
    return {
        "client_id": client.client_id,
        "name": client.name or "",
        "enabled": client.enabled,
        "public": public,
        "secret": {"sha256": hash_client_secret(secret).split(":", 1)[1]} if secret else None,
        "redirect_uris": redirect_uris,
        "post_logout_redirect_uris": _post_logout_uris(client, redirect_uris, root, where),
        "web_origins": list(dict.fromkeys(client.web_origins)),
        "base_url": _absolute(client.base_url, root, where, "baseUrl") if client.base_url else root,
        "pkce_required": _pkce_required(client, where),
        # A client with no redirect URI cannot complete the code flow in Keycloak either.
        "standard_flow": client.standard_flow_enabled and bool(redirect_uris) and not bearer_only,
        "direct_access_grants": client.direct_access_grants_enabled and not bearer_only,
        "service_account": client.service_accounts_enabled and not bearer_only,
        "service_account_roles": service_roles[0],
        "service_account_client_roles": service_roles[1],
        "bearer_only": bearer_only,
        **_logout_settings(client),
        **_client_scopes(client),
    }


def _logout_settings(client: ClientRepresentation) -> dict:
    """Keycloak's logout attributes; a flag it has not written reads as false, as Keycloak reads it.
    The front-channel URL counts only while `frontchannelLogout` is on."""
    attributes = client.attributes
    return {
        "backchannel_logout_url": attributes.backchannel_logout_url or "",
        "backchannel_logout_session_required": attributes.backchannel_logout_session_required == "true",
        "backchannel_logout_revoke_offline_tokens": attributes.backchannel_logout_revoke_offline_tokens == "true",
        "frontchannel_logout_url": (attributes.frontchannel_logout_url or "") if client.frontchannel_logout else "",
        "frontchannel_logout_session_required": attributes.frontchannel_logout_session_required == "true",
    }


def _client_scopes(client: ClientRepresentation) -> dict:
    """The client's Keycloak client scopes served here (client_notes names the others); an export
    without them leaves Keycloak's defaults."""
    scopes = {}
    for ours, listed in (("default_client_scopes", client.default_client_scopes),
                         ("optional_client_scopes", client.optional_client_scopes)):
        if listed is not None:
            scopes[ours] = [scope for scope in listed if scope in KEYCLOAK_CLIENT_SCOPES]
    return scopes


def _client_secret(client: ClientRepresentation, where: str) -> str | None:
    method = client.client_authenticator_type
    if method != "client-secret":
        raise KeycloakImportError(f"{where}: client authentication {method!r} is not supported, only client secrets")
    secret = client.secret
    if secret == MASKED_SECRET or (not secret and not client.bearer_only):
        raise KeycloakImportError(
            f"{where}: the export has no client secret (the admin console masks secrets; export with `kc.sh export`)"
        )
    return secret or None


def _absolute(uri: str, root: str, where: str, key: str) -> str:
    """A URI or pattern as Keycloak reads it: a path is relative to the client's rootUrl, or (kept a
    path here) to the server's origin when the client has no absolute rootUrl (none, `${authBaseUrl}`)."""
    if uri == ANY or urlsplit(uri).scheme:
        resolved = uri
    elif urlsplit(root).scheme and "${" not in root:
        resolved = root.rstrip("/") + "/" + uri.lstrip("/")
    else:
        resolved = "/" + uri.lstrip("/")
    try:
        return check_redirect_pattern(resolved)
    except ValueError as exc:
        raise KeycloakImportError(f"{where}: {key}: {exc}") from None


def _post_logout_uris(client: ClientRepresentation, redirect_uris: list[str], root: str, where: str) -> list[str]:
    key = 'attributes."post.logout.redirect.uris"'
    uris = []
    for uri in (client.attributes.post_logout_redirect_uris or "").split("##"):
        if uri == "+":
            uris.extend(redirect_uris)
        elif uri and uri != "-":
            uris.append(_absolute(uri, root, where, key))
    return list(dict.fromkeys(uris))


def _pkce_required(client: ClientRepresentation, where: str) -> bool:
    method = client.attributes.pkce_method or ""
    if method not in ("", "S256"):
        raise KeycloakImportError(
            f'{where}: attributes."pkce.code.challenge.method" {method!r} is not supported, only S256')
    return method == "S256"


def _client_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    loc = [CLIENT_KEYS.get(part, part) if isinstance(part, str) else f"[{part}]" for part in error["loc"]]
    where = "".join(part if part.startswith("[") else f".{part}" for part in loc).lstrip(".")
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


