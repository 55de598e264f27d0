"""Import of a Keycloak realm export (JSON): realm settings, clients, users and their credentials.

The import is all or nothing: `parse_export` validates the whole export without touching the
database and raises one `KeycloakImportError` naming the first bad entry
(`users[3] (username 'x'): credentials[1]: unknown password algorithm 'md5'`); only then does
`write_import` write everything in the caller's transaction.

What is kept, and how:
- Password hashes (`pbkdf2`, `pbkdf2-sha256`, `pbkdf2-sha512`, `argon2`) are stored with
  Keycloak's `secretData`/`credentialData` unchanged; `idp.security.passwords` verifies them as
  Keycloak computes them and `check_password` rehashes to argon2id at the next sign-in.
  A plain `value` (Keycloak's way to seed a password in a hand-written realm file) is hashed.
- OTP secrets keep Keycloak's shape: `secret_data = {"value": ...}` and `credential_data =
  {"subType", "digits", "period", "counter", "algorithm", "secretEncoding"}`, except that
  `value` is encrypted at rest (`idp.security.secret_box`, key from IDP_SECRET_KEY). The HMAC
  key is the UTF-8 bytes of the plaintext unless `secretEncoding` is "BASE32", when it is
  base32 text; `idp.db.users.otp_key(credential, settings)` derives it that way (never
  base32-decode every secret: migrated members' authenticator apps would stop matching).
- Redirect URIs are matched exactly here, so a Keycloak wildcard (`https://app/*`) is refused
  with a message naming the client: the operator lists the full URIs instead. Relative URIs are
  resolved against the client's `rootUrl`; `+` (post-logout URIs, web origins) expands to the
  redirect URIs and their origins, as in Keycloak.
- Keycloak's own clients (account, admin-cli, broker, ...) are skipped silently; SAML clients,
  passkeys and other credential types that cannot be carried over are skipped with a note.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.db.models import Credential, PendingRequiredAction, Realm, User
from idp.db.users import OTP, PASSWORD, UserExists, normalize_email
from idp.realms import hash_client_secret, save_realm
from idp.realms.schema import ClientConfig, RealmConfig
from idp.security.secret_box import encrypt

BUILT_IN_CLIENTS = {"account", "account-console", "admin-cli", "broker", "realm-management", "security-admin-console"}
MASKED_SECRET = "**********"
PASSWORD_ALGORITHMS = {"pbkdf2", "pbkdf2-sha256", "pbkdf2-sha512", "argon2"}
OTP_ALGORITHMS = {"HmacSHA1", "HmacSHA256", "HmacSHA512"}
# Keycloak's built-in required actions (their aliases, as stored on users).
REQUIRED_ACTIONS = {
    "UPDATE_PASSWORD", "CONFIGURE_TOTP", "VERIFY_EMAIL", "UPDATE_PROFILE", "TERMS_AND_CONDITIONS",
    "UPDATE_EMAIL", "VERIFY_PROFILE", "webauthn-register", "webauthn-register-passwordless",
    "CONFIGURE_RECOVERY_AUTHN_CODES", "delete_credential", "delete_account", "update_user_locale",
}

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
    "revokeRefreshToken": ("tokens", "revoke_refresh_token"),
    "defaultSignatureAlgorithm": ("tokens", "signature_algorithm"),
    "bruteForceProtected": ("brute_force", "enabled"),
    "permanentLockout": ("brute_force", "permanent_lockout"),
    "failureFactor": ("brute_force", "failure_factor"),
    "waitIncrementSeconds": ("brute_force", "wait_increment_seconds"),
    "maxFailureWaitSeconds": ("brute_force", "max_failure_wait_seconds"),
    "quickLoginCheckMilliSeconds": ("brute_force", "quick_login_check_milli_seconds"),
    "minimumQuickLoginWaitSeconds": ("brute_force", "minimum_quick_login_wait_seconds"),
    "maxDeltaTimeSeconds": ("brute_force", "max_delta_time_seconds"),
    "smtpServer.from": ("email", "from_address"),
    "smtpServer.fromDisplayName": ("email", "from_display_name"),
}

CLIENT_KEYS = {
    "client_id": "clientId",
    "redirect_uris": "redirectUris",
    "post_logout_redirect_uris": 'attributes."post.logout.redirect.uris"',
    "web_origins": "webOrigins",
    "public": "publicClient",
    "standard_flow": "standardFlowEnabled",
    "direct_access_grants": "directAccessGrantsEnabled",
    "service_account": "serviceAccountsEnabled",
}


class KeycloakImportError(ValueError):
    """The export cannot be imported; the message names the entry at fault."""


@dataclass
class ImportedUser:
    username: str
    fields: dict
    roles: list[str]
    client_roles: dict
    required_actions: list[str]
    credentials: list[Credential]


@dataclass
class KeycloakImport:
    """A validated export, ready to write."""

    config: RealmConfig
    users: list[tuple[str, ImportedUser]]  # (where in the file, user)
    notes: list[str] = field(default_factory=list)


def read_export(path: Path | str) -> tuple[dict, list[dict]]:
    """The realm of a Keycloak export file, and the user files exported beside it.

    `kc.sh export --users different_files` writes `<realm>-realm.json` and
    `<realm>-users-<n>.json`; the latter are picked up when the former is given.
    """
    path = Path(path)
    realm = _read_json(path)
    if isinstance(realm, list):
        if len(realm) != 1:
            raise KeycloakImportError(f"{path}: the file holds {len(realm)} realms; export one realm per file")
        realm = realm[0]
    if not isinstance(realm, dict) or "realm" not in realm:
        raise KeycloakImportError(f"{path}: not a Keycloak realm export (no \"realm\" key)")
    user_files = []
    if path.name.endswith("-realm.json"):
        prefix = path.name[: -len("-realm.json")]
        for user_path in sorted(path.parent.glob(f"{prefix}-users-*.json")):
            user_files.append(_read_json(user_path))
    return realm, user_files


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise KeycloakImportError(f"{path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise KeycloakImportError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None


def parse_export(export: dict, settings, user_files: list[dict] = ()) -> KeycloakImport:
    """Validate a whole realm export (and its user files) into what will be written."""
    notes: list[str] = []
    users = list(_user_entries(export, user_files))
    service_roles = _service_account_roles(users)
    clients = _clients(export, service_roles, notes)
    config = _realm_config(export, clients, settings)
    members = _members(users, settings, notes)
    return KeycloakImport(config=config, users=members, notes=notes)


def write_import(session: Session, imported: KeycloakImport) -> Realm:
    """Create or update the realm and its clients and add its users; the caller commits."""
    realm = save_realm(session, imported.config)
    realm_name = realm.name
    for where, member in imported.users:
        user = User(realm_id=realm.id, username=member.username, roles=member.roles,
                    client_roles=member.client_roles, **member.fields)
        # No savepoint: a clash fails the whole import, and the caller rolls everything back.
        session.add(user)
        try:
            session.flush()
        except IntegrityError as exc:
            taken = UserExists.from_integrity_error(exc, user)
            raise KeycloakImportError(
                f"{where}: a user with {taken.field} {taken.value!r} already exists in realm {realm_name!r}"
            ) from None
        user.credentials.extend(member.credentials)
        user.required_actions.extend(PendingRequiredAction(action=a) for a in member.required_actions)
    session.flush()
    return realm


def import_file(session: Session, path: Path | str, settings) -> tuple[Realm, KeycloakImport]:
    """Read, validate and write one export file; nothing is written when anything is wrong."""
    export, user_files = read_export(path)
    imported = parse_export(export, settings, user_files)
    return write_import(session, imported), imported


# Realm settings


def _realm_config(export: dict, clients: list[ClientConfig], settings) -> RealmConfig:
    values: dict = {"realm": export["realm"], "clients": clients, "browser_flow": _browser_flow(export, settings)}
    for key, path in REALM_SETTINGS.items():
        value = _lookup(export, key)
        if value is not None:
            _place(values, path, value)
    values.setdefault("password_policy", "")
    try:
        return RealmConfig.model_validate(values)
    except ValidationError as exc:
        raise KeycloakImportError(_realm_problem(exc)) from None


def _lookup(export: dict, dotted: str):
    value = export
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _place(values: dict, path: tuple, value) -> None:
    for part in path[:-1]:
        values = values.setdefault(part, {})
    values[path[-1]] = value


def _realm_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    loc = tuple(part for part in error["loc"] if isinstance(part, str))
    names = {path: key for key, path in REALM_SETTINGS.items()}
    key = names.get(loc) or ("realm" if loc == ("realm",) else ".".join(loc))
    return f"realm setting {key}: {error['msg']}"


def _browser_flow(export: dict, settings) -> str:
    name = export.get("browserFlow") or "browser"
    if name != "browser" and not (Path(settings.flows_dir) / f"{name}.yaml").exists():
        raise KeycloakImportError(
            f"realm setting browserFlow: flow {name!r} has no file {name}.yaml in {settings.flows_dir}; "
            "write that flow in YAML first, or use Keycloak's built-in \"browser\""
        )
    return name


# Clients


def _clients(export: dict, service_roles: dict[str, list[str]], notes: list[str]) -> list[ClientConfig]:
    clients = []
    for index, entry in enumerate(export.get("clients") or []):
        if not isinstance(entry, dict):
            raise KeycloakImportError(f"clients[{index}]: a client entry must be a JSON object")
        client_id = entry.get("clientId")
        if client_id in BUILT_IN_CLIENTS or entry.get("attributes", {}).get("realm_client") == "true":
            continue
        where = f"clients[{index}] (clientId {client_id!r})"
        if entry.get("protocol", "openid-connect") != "openid-connect":
            notes.append(f"{where}: skipped, {entry['protocol']} clients are not supported")
            continue
        values = _client_values(entry, where, service_roles.get(client_id, []))
        if values is None:
            notes.append(f"{where}: skipped, a bearer-only client without a secret has nothing to sign in with")
            continue
        try:
            clients.append(ClientConfig.model_validate(values))
        except ValidationError as exc:
            raise KeycloakImportError(f"{where}: {_client_problem(exc)}") from None
    return clients


def _client_values(entry: dict, where: str, service_roles: list[str]) -> dict | None:
    attributes = entry.get("attributes") or {}
    public = bool(entry.get("publicClient"))
    bearer_only = bool(entry.get("bearerOnly"))
    secret = None if public else _client_secret(entry, where, bearer_only)
    if secret is None and bearer_only:
        return None
    root = entry.get("rootUrl") or ""
    redirect_uris = [_absolute(uri, root, where, "redirectUris") for uri in entry.get("redirectUris") or []]
    return {
        "client_id": entry.get("clientId"),
        "name": entry.get("name") or "",
        "enabled": entry.get("enabled", True),
        "public": public,
        "secret": {"sha256": hash_client_secret(secret).split(":", 1)[1]} if secret else None,
        "redirect_uris": redirect_uris,
        "post_logout_redirect_uris": _post_logout_uris(attributes, redirect_uris, root, where),
        "web_origins": _web_origins(entry.get("webOrigins") or [], redirect_uris),
        "base_url": _absolute(entry["baseUrl"], root, where, "baseUrl") if entry.get("baseUrl") else root,
        "pkce_required": _pkce_required(attributes, where),
        # A client with no redirect URI cannot complete the code flow in Keycloak either.
        "standard_flow": bool(entry.get("standardFlowEnabled", True)) and bool(redirect_uris) and not bearer_only,
        "direct_access_grants": bool(entry.get("directAccessGrantsEnabled")) and not bearer_only,
        "service_account": bool(entry.get("serviceAccountsEnabled")) and not bearer_only,
        "service_account_roles": service_roles,
    }


def _client_secret(entry: dict, where: str, bearer_only: bool) -> str | None:
    method = entry.get("clientAuthenticatorType", "client-secret")
    if method != "client-secret":
        raise KeycloakImportError(f"{where}: client authentication {method!r} is not supported, only client secrets")
    secret = entry.get("secret")
    if secret == MASKED_SECRET or (not secret and not bearer_only):
        raise KeycloakImportError(
            f"{where}: the export has no client secret (the admin console masks secrets; export with `kc.sh export`)"
        )
    return secret or None


def _absolute(uri: str, root: str, where: str, key: str) -> str:
    if "*" in uri:
        raise KeycloakImportError(
            f"{where}: {key} {uri!r} has a wildcard, but redirect URIs are matched exactly here; "
            "list each full URI in the export and import again"
        )
    if urlsplit(uri).scheme:
        return uri
    if not urlsplit(root).scheme or "${" in root:
        raise KeycloakImportError(f"{where}: {key} {uri!r} is relative and the client has no absolute rootUrl")
    return urljoin(root, uri)


def _post_logout_uris(attributes: dict, redirect_uris: list[str], root: str, where: str) -> list[str]:
    key = 'attributes."post.logout.redirect.uris"'
    uris = []
    for uri in (attributes.get("post.logout.redirect.uris") or "").split("##"):
        if uri == "+":
            uris.extend(redirect_uris)
        elif uri and uri != "-":
            uris.append(_absolute(uri, root, where, key))
    return list(dict.fromkeys(uris))


def _web_origins(origins: list[str], redirect_uris: list[str]) -> list[str]:
    result = []
    for origin in origins:
        if origin == "+":
            result.extend(f"{urlsplit(uri).scheme}://{urlsplit(uri).netloc}" for uri in redirect_uris)
        else:
            result.append(origin)
    return list(dict.fromkeys(result))


def _pkce_required(attributes: dict, where: str) -> bool:
    method = attributes.get("pkce.code.challenge.method") or ""
    if method not in ("", "S256"):
        raise KeycloakImportError(f'{where}: attributes."pkce.code.challenge.method" {method!r} is not supported, only S256')
    return method == "S256"


def _client_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    loc = [CLIENT_KEYS.get(part, part) if isinstance(part, str) else f"[{part}]" for part in error["loc"]]
    where = "".join(part if part.startswith("[") else f".{part}" for part in loc).lstrip(".")
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


# Users


def _user_entries(export: dict, user_files: list[dict]):
    """Every user entry with where it is, for messages (`users[3]`, `user file 1: users[0]`)."""
    lists = [("", export.get("users"))]
    lists += [(f"user file {n + 1}: ", f.get("users") if isinstance(f, dict) else None) for n, f in enumerate(user_files)]
    for prefix, entries in lists:
        for index, entry in enumerate(entries or []):
            if not isinstance(entry, dict):
                raise KeycloakImportError(f"{prefix}users[{index}]: a user entry must be a JSON object")
            yield f"{prefix}users[{index}]", entry


def _service_account_roles(users: list[tuple[str, dict]]) -> dict[str, list[str]]:
    # A client's service account is a user in the export; its realm roles become the
    # client's `service_account_roles` (the default-roles composite is added by save_realm).
    roles = {}
    for _, entry in users:
        client_id = entry.get("serviceAccountClientId")
        if client_id:
            roles[client_id] = [r for r in entry.get("realmRoles") or [] if not r.startswith("default-roles-")]
    return roles


def _members(users: list[tuple[str, dict]], settings, notes: list[str]) -> list[tuple[str, ImportedUser]]:
    members, usernames, emails = [], {}, {}
    skipped: dict[str, int] = {}
    for where, entry in users:
        if entry.get("serviceAccountClientId"):
            continue
        where = f"{where} (username {entry.get('username')!r})"
        member = _member(entry, where, settings, skipped)
        _unique(usernames, member.username, where, "username")
        if member.fields["email"]:
            _unique(emails, member.fields["email"], where, "email")
        members.append((where, member))
    for kind, count in sorted(skipped.items()):
        notes.append(f"users: {count} {kind} credential(s) skipped; those members set them up again")
    return members


def _unique(seen: dict, value: str, where: str, what: str) -> None:
    if value in seen:
        raise KeycloakImportError(f"{where}: {what} {value!r} is also used by {seen[value]}")
    seen[value] = where


def _member(entry: dict, where: str, settings, skipped: dict[str, int]) -> ImportedUser:
    username = entry.get("username")
    if not isinstance(username, str) or not username.strip():
        raise KeycloakImportError(f"{where}: a user needs a username")
    attributes = _attributes(entry.get("attributes"), where)
    fields = {
        "email": normalize_email(entry.get("email")),
        "email_verified": bool(entry.get("emailVerified")),
        "first_name": entry.get("firstName") or "",
        "last_name": entry.get("lastName") or "",
        "enabled": entry.get("enabled", True),
        "birthdate": _birthdate(attributes, where),
        "attributes": attributes,
    }
    if entry.get("createdTimestamp"):
        fields["created_at"] = _from_millis(entry["createdTimestamp"], where, "createdTimestamp")
    return ImportedUser(
        username=username.strip().lower(),
        fields=fields,
        roles=list(entry.get("realmRoles") or []),
        client_roles=dict(entry.get("clientRoles") or {}),
        required_actions=_required_actions(entry.get("requiredActions") or [], where),
        credentials=_credentials(entry.get("credentials") or [], where, settings, skipped),
    )


def _attributes(attributes, where: str) -> dict[str, list[str]]:
    if attributes is None:
        return {}
    if not isinstance(attributes, dict):
        raise KeycloakImportError(f"{where}: attributes must be an object of name -> list of values")
    # Keycloak exports every attribute value as a list; a bare value is accepted as one item.
    return {name: [str(v) for v in (value if isinstance(value, list) else [value])] for name, value in attributes.items()}


def _birthdate(attributes: dict, where: str) -> date | None:
    values = attributes.pop("birthdate", None)
    if not values or not values[0]:
        return None
    try:
        return date.fromisoformat(values[0])
    except ValueError:
        raise KeycloakImportError(f"{where}: attribute birthdate {values[0]!r} is not a date (YYYY-MM-DD)") from None


def _required_actions(actions: list, where: str) -> list[str]:
    for action in actions:
        if action not in REQUIRED_ACTIONS:
            raise KeycloakImportError(f"{where}: unknown required action {action!r}")
    return list(dict.fromkeys(actions))


def _from_millis(millis, where: str, name: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(millis) / 1000, tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        raise KeycloakImportError(f"{where}: {name} {millis!r} is not a time in milliseconds") from None


# Credentials


def _credentials(entries: list, where: str, settings, skipped: dict[str, int]) -> list[Credential]:
    credentials = []
    for index, entry in enumerate(entries):
        kind = entry.get("type")
        here = f"{where}: credentials[{index}]"
        if kind == PASSWORD:
            credential = _password(entry, here, settings)
        elif kind == OTP:
            credential = _otp(entry, here, settings)
        else:
            skipped[str(kind)] = skipped.get(str(kind), 0) + 1
            continue
        credential.user_label = entry.get("userLabel") or ""
        credential.priority = (index + 1) * 10
        if entry.get("createdDate"):
            credential.created_at = _from_millis(entry["createdDate"], here, "createdDate")
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
    secret_data = _json_field(entry, "secretData", where)
    credential_data = _json_field(entry, "credentialData", where)
    algorithm = credential_data.get("algorithm")
    if algorithm not in PASSWORD_ALGORITHMS:
        raise KeycloakImportError(f"{where}: unknown password algorithm {algorithm!r}")
    for name in ("value", "salt"):
        _base64(secret_data.get(name), where, f"secretData.{name}")
    _positive(credential_data.get("hashIterations"), where, "credentialData.hashIterations")
    if algorithm == "argon2":
        _argon2_parameters(credential_data.get("additionalParameters") or {}, where)
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
            _positive(first(name), where, f"credentialData.additionalParameters.{name}")


def _otp(entry: dict, where: str, settings) -> Credential:
    secret_data = _json_field(entry, "secretData", where)
    data = _json_field(entry, "credentialData", where)
    value = secret_data.get("value")
    if not isinstance(value, str) or not value:
        raise KeycloakImportError(f"{where}: OTP secretData.value is missing")
    encoding = data.get("secretEncoding")
    if encoding not in (None, "BASE32"):
        raise KeycloakImportError(f"{where}: unknown OTP secretEncoding {encoding!r}")
    if encoding == "BASE32":
        _base32(value, where)
    if data.get("subType") not in ("totp", "hotp"):
        raise KeycloakImportError(f"{where}: OTP subType {data.get('subType')!r} is neither totp nor hotp")
    if data.get("algorithm") not in OTP_ALGORITHMS:
        raise KeycloakImportError(f"{where}: unknown OTP algorithm {data.get('algorithm')!r}")
    if data.get("digits") not in (6, 8):
        raise KeycloakImportError(f"{where}: OTP digits must be 6 or 8, not {data.get('digits')!r}")
    _positive(data.get("period", 30), where, "credentialData.period")
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


def _json_field(entry: dict, name: str, where: str) -> dict:
    # Keycloak exports these two fields as JSON text inside the JSON document.
    value = entry.get(name)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise KeycloakImportError(f"{where}: {name} is not valid JSON") from None
    if not isinstance(value, dict):
        raise KeycloakImportError(f"{where}: {name} is missing")
    return value


def _base64(value, where: str, name: str) -> None:
    try:
        if not isinstance(value, str) or not value:
            raise ValueError
        base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise KeycloakImportError(f"{where}: {name} is not base64") from None


def _base32(value: str, where: str) -> None:
    try:
        base64.b32decode(value.upper() + "=" * (-len(value) % 8))
    except (ValueError, binascii.Error):
        raise KeycloakImportError(f"{where}: OTP secret is marked BASE32 but is not base32") from None


def _positive(value, where: str, name: str) -> None:
    try:
        if int(value) < 1:
            raise ValueError
    except (TypeError, ValueError):
        raise KeycloakImportError(f"{where}: {name} must be a positive whole number, not {value!r}") from None
