"""Keycloak's JSON representations as the import reads them (realm, client, role, group, user, credential,
and the JSON text inside credentials), and `KeycloakImportError`, whose one line names the file and JSON path.

Every key the import reads is typed with the JSON type Keycloak writes (`core/.../representations/idm`,
`server-spi/.../credential/dto`); the hundreds of keys it does not read are allowed and kept as they are.
"""
from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar, cast

from fido2 import cbor
from fido2.cose import CoseKey
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

from idp.authenticators import webauthn_server as webauthn
from idp.db.users import OTP, PASSWORD
from idp.security.passwords import ALGORITHMS, ARGON2, ARGON2_TYPES, ARGON2_VERSIONS

OTP_ALGORITHMS = ("HmacSHA1", "HmacSHA256", "HmacSHA512")
# Keycloak's two passkey credential types (second factor, and passwordless); both are our passkeys.
WEBAUTHN_TYPES = ("webauthn", "webauthn-passwordless")
# Keycloak's built-in required actions (their aliases, as stored on users).
REQUIRED_ACTIONS = (
    "UPDATE_PASSWORD", "CONFIGURE_TOTP", "VERIFY_EMAIL", "UPDATE_PROFILE", "TERMS_AND_CONDITIONS",
    "UPDATE_EMAIL", "VERIFY_PROFILE", "webauthn-register", "webauthn-register-passwordless",
    "CONFIGURE_RECOVERY_AUTHN_CODES", "delete_credential", "delete_account", "update_user_locale",
)
USER_ID_LENGTH = 36  # users.id; Keycloak's USER_ENTITY.ID is as long
NO_AAGUID = "00000000-0000-0000-0000-000000000000"


class KeycloakImportError(ValueError):
    """The export cannot be imported; the message names the file and the JSON path at fault."""


class Representation(BaseModel):
    """Keycloak's camelCase keys, its JSON types only (no "5" for 5), unknown keys kept."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow", strict=True,
                              frozen=True)


# Value types


T = TypeVar("T")
# Keycloak omits empty lists and maps, and hand-written files sometimes say null: both mean empty.
NULL_AS_LIST = BeforeValidator(lambda value: [] if value is None else value)
NULL_AS_OBJECT = BeforeValidator(lambda value: {} if value is None else value)
ListOf = Annotated[list[T], NULL_AS_LIST]
MapOf = Annotated[dict[str, T], NULL_AS_OBJECT]


def one_of(*allowed):
    names = [repr(name) for name in allowed]
    spelled = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]

    def check(value):
        if value not in allowed:
            raise ValueError(f"must be {spelled}, not {value!r}")
        return value
    return AfterValidator(check)


def _json_text(value):
    """`secretData` and `credentialData`: Keycloak writes these objects as JSON text inside the document."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise ValueError("not valid JSON") from None


JsonText = Annotated[T, BeforeValidator(_json_text)]


def _millis(value) -> datetime:
    try:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise ValueError(f"{value!r} is not a time in milliseconds") from None


Millis = Annotated[datetime, PlainValidator(_millis)]


def _base64(value: str) -> str:
    """Standard base64, as Keycloak writes hashes and salts."""
    try:
        if base64.b64decode(value, validate=True):
            return value
    except (ValueError, binascii.Error):
        pass
    raise ValueError("not base64")


Base64 = Annotated[str, AfterValidator(_base64)]


def _webauthn_binary(value) -> bytes:
    """A passkey's id or key: Keycloak writes the id in standard base64, the key in base64url."""
    try:
        if not isinstance(value, str) or not value.strip():
            raise ValueError
        decoded = webauthn.decode(value)
    except (ValueError, TypeError):
        raise ValueError("not base64") from None
    if not decoded:
        raise ValueError("empty")
    return decoded


def _cose_key(value: bytes) -> bytes:
    try:
        CoseKey.parse(cast(Mapping[int, Any], cbor.decode(value)))
    except Exception:  # fido2 raises whatever its CBOR and key parsers meet; any of it means unusable
        raise ValueError("not a COSE public key") from None
    return value


def _aaguid(value: str | None) -> str:
    try:
        return str(uuid.UUID(value or NO_AAGUID))
    except ValueError:
        raise ValueError(f"{value!r} is not a UUID") from None


def _user_id(value: str) -> str:
    if not 0 < len(value) <= USER_ID_LENGTH or not value.isascii():
        raise ValueError(f"{value!r} is not a Keycloak user id (up to {USER_ID_LENGTH} ASCII characters)")
    return value


def _attribute_lists(value):
    """Keycloak exports every attribute value as a list; a bare value is accepted as one item."""
    if not isinstance(value, dict):
        return {} if value is None else value
    return {name: [str(v) for v in (item if isinstance(item, list) else [item])] for name, item in value.items()}


PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]


# Credentials (CredentialRepresentation; credential/dto's secret and credential data)


class PasswordSecret(Representation):
    value: Base64
    salt: Base64


class PasswordData(Representation):
    hash_iterations: PositiveInt
    algorithm: Annotated[str, one_of(*ALGORITHMS)]
    additional_parameters: MapOf[Any] = {}

    @model_validator(mode="after")
    def argon2_parameters(self):
        """Keycloak's Argon2Parameters: each a list of one string (a bare value is read too)."""
        if self.algorithm != ARGON2:
            return self
        for name, allowed in (("type", ARGON2_TYPES), ("version", ARGON2_VERSIONS)):
            value = self._first(name)
            if value not in (None, *allowed):
                raise ValueError(f"additionalParameters.{name} {value!r} is not an argon2 {name}")
        for name in ("memory", "parallelism", "hashLength"):
            value = self._first(name)
            if value is not None and not (isinstance(value, (str, int)) and str(value).isdigit() and int(value) > 0):
                raise ValueError(f"additionalParameters.{name} must be a positive whole number, not {value!r}")
        return self

    def _first(self, name: str):
        value = self.additional_parameters.get(name)
        return value[0] if isinstance(value, list) and value else value


class OtpSecret(Representation):
    value: Annotated[str, Field(min_length=1)]


class OtpData(Representation):
    sub_type: Annotated[str, one_of("totp", "hotp")]
    digits: Annotated[int, one_of(6, 8)]
    period: PositiveInt = 30
    counter: NonNegativeInt = 0
    algorithm: Annotated[str, one_of(*OTP_ALGORITHMS)]
    secret_encoding: Annotated[str, one_of("BASE32")] | None = None


class WebAuthnData(Representation):
    """Keycloak's WebAuthnCredentialData: credentialId in base64, credentialPublicKey (COSE) in base64url."""

    credential_id: Annotated[bytes, PlainValidator(_webauthn_binary)]
    credential_public_key: Annotated[bytes, PlainValidator(_webauthn_binary), AfterValidator(_cose_key)]
    counter: NonNegativeInt = 0
    aaguid: Annotated[str | None, AfterValidator(_aaguid)] = None
    transports: ListOf[Any] = []  # names this server does not know are left out
    attestation_statement_format: str | None = None


class CredentialRepresentation(Representation):
    type: str
    user_label: str | None = None
    created_date: Millis | None = None
    temporary: bool | None = None


class PasswordCredential(CredentialRepresentation):
    value: str | None = None  # a plain password, as hand-written realm files seed one; it is hashed
    secret_data: JsonText[PasswordSecret] | None = None
    credential_data: JsonText[PasswordData] | None = None
    # Before Keycloak 10 the hash and its parameters sat on the credential itself.
    hashed_salted_value: Base64 | None = None
    salt: Base64 | None = None
    hash_iterations: PositiveInt | None = None
    algorithm: Annotated[str, one_of(*ALGORITHMS)] | None = None

    @model_validator(mode="after")
    def hashed_or_plain(self):
        required: dict[str, object]
        if self.hashed_salted_value is not None:
            required = {"salt": self.salt, "hashIterations": self.hash_iterations, "algorithm": self.algorithm}
        elif self.value is None or self.secret_data is not None:
            required = {"secretData": self.secret_data, "credentialData": self.credential_data}
        else:
            required = {}
        for key, data in required.items():
            if data is None:
                raise ValueError(f"{key} is missing")
        return self

    def current(self) -> PasswordCredential:
        """The credential in Keycloak's current shape (secretData, credentialData)."""
        if self.hashed_salted_value is None:
            return self
        # hashed_or_plain made sure salt, hashIterations and algorithm came with the old-shape hash.
        assert self.salt is not None and self.hash_iterations is not None and self.algorithm is not None
        return self.model_copy(update={
            "secret_data": PasswordSecret(value=self.hashed_salted_value, salt=self.salt, additionalParameters={}),
            "credential_data": PasswordData(hash_iterations=self.hash_iterations, algorithm=self.algorithm,
                                            additional_parameters={}),
            "hashed_salted_value": None,
        })


class OtpCredential(CredentialRepresentation):
    secret_data: JsonText[OtpSecret]
    credential_data: JsonText[OtpData]

    @model_validator(mode="after")
    def base32_secret(self):
        if self.credential_data.secret_encoding == "BASE32":
            value = self.secret_data.value
            try:
                base64.b32decode(value.upper() + "=" * (-len(value) % 8))
            except (ValueError, binascii.Error):
                raise ValueError("secretData.value is marked BASE32 (credentialData.secretEncoding) but is not "
                                 "base32") from None
        return self


class LegacyOtpCredential(CredentialRepresentation):
    """An authenticator app before Keycloak 10: type totp or hotp, the secret in `value`."""

    value: Annotated[str, Field(min_length=1)]
    digits: Annotated[int, one_of(6, 8)] = 6
    period: NonNegativeInt = 30  # hotp exports say 0
    counter: NonNegativeInt = 0
    algorithm: Annotated[str, one_of(*OTP_ALGORITHMS)] = "HmacSHA1"

    def current(self) -> OtpCredential:
        return OtpCredential.model_construct(  # every value here is validated already
            type=OTP, user_label=self.user_label, created_date=self.created_date, temporary=None,
            secret_data=OtpSecret(value=self.value),
            credential_data=OtpData(sub_type=self.type, digits=self.digits, period=self.period or 30,
                                    counter=self.counter, algorithm=self.algorithm),
        )


class PasskeyCredential(CredentialRepresentation):
    credential_data: JsonText[WebAuthnData]


class OtherCredential(CredentialRepresentation):
    """A credential type that is not carried over (recovery codes, ...): skipped with a note."""


def _credential_kind(entry) -> str:
    """The model a credential entry is read as; the tags name no key, so error paths leave them out."""
    kind = entry.get("type") if isinstance(entry, dict) else None
    if kind in WEBAUTHN_TYPES:
        return "<passkey>"
    if kind in LEGACY_OTP_TYPES:
        return "<legacy-otp>"
    return f"<{kind}>" if kind in (PASSWORD, OTP) else "<other>"


LEGACY_OTP_TYPES = ("totp", "hotp")
CREDENTIAL_TAGS = ("<password>", "<otp>", "<legacy-otp>", "<passkey>", "<other>")
AnyCredential = Annotated[
    Annotated[PasswordCredential, Tag("<password>")] | Annotated[OtpCredential, Tag("<otp>")]
    | Annotated[LegacyOtpCredential, Tag("<legacy-otp>")] | Annotated[PasskeyCredential, Tag("<passkey>")]
    | Annotated[OtherCredential, Tag("<other>")],
    Discriminator(_credential_kind),
]


# Users (UserRepresentation)


class Named(Representation):
    """An entry of a list the import does not carry over, read for its name in a note."""

    name: str | None = None
    alias: str | None = None


class UserRepresentation(Representation):
    id: Annotated[str, AfterValidator(_user_id)] | None = None
    username: str | None = None
    email: str | None = None
    email_verified: bool = False
    first_name: str | None = None
    last_name: str | None = None
    enabled: bool = True
    created_timestamp: Millis | None = None
    attributes: Annotated[dict[str, list[str]], BeforeValidator(_attribute_lists)] = {}
    credentials: ListOf[AnyCredential] = []
    required_actions: ListOf[Annotated[str, one_of(*REQUIRED_ACTIONS)]] = []
    realm_roles: ListOf[str] = []
    client_roles: MapOf[ListOf[str]] = {}
    groups: ListOf[str] = []
    service_account_client_id: str | None = None
    federation_link: str | None = None
    federated_identities: ListOf[Any] = []
    client_consents: ListOf[Any] = []

    @model_validator(mode="after")
    def a_member_keycloak_could_hold(self):
        if not (self.username or "").strip():
            raise ValueError("a user needs a username")
        if self.id is None and any(isinstance(c, PasskeyCredential) for c in self.credentials):
            raise ValueError("a user with passkeys needs its Keycloak id (the passkeys' user handle)")
        if sum(isinstance(c, PasswordCredential) for c in self.credentials) > 1:
            raise ValueError("more than one password credential")
        return self


class UserFile(Representation):
    """`<realm>-users-N.json` of a `--users different_files` export."""

    users: list[UserRepresentation]


# Roles and groups (RolesRepresentation, RoleRepresentation, GroupRepresentation)


class CompositesRepresentation(Representation):
    realm: ListOf[str] = []
    client: MapOf[ListOf[str]] = {}


class RoleRepresentation(Representation):
    name: str
    composites: CompositesRepresentation | None = None


class RolesRepresentation(Representation):
    realm: ListOf[RoleRepresentation] = []
    client: MapOf[ListOf[RoleRepresentation]] = {}


class GroupRepresentation(Representation):
    name: str
    path: str | None = None
    realm_roles: ListOf[str] = []
    client_roles: MapOf[ListOf[str]] = {}
    sub_groups: ListOf[GroupRepresentation] = []
    attributes: MapOf[Any] = {}


# Clients (ClientRepresentation)


class ClientAttributes(Representation):
    realm_client: str | None = Field(default=None, alias="realm_client")
    post_logout_redirect_uris: str | None = Field(default=None, alias="post.logout.redirect.uris")
    pkce_method: str | None = Field(default=None, alias="pkce.code.challenge.method")
    backchannel_logout_url: str | None = Field(default=None, alias="backchannel.logout.url")
    backchannel_logout_session_required: str | None = Field(default=None, alias="backchannel.logout.session.required")
    backchannel_logout_revoke_offline_tokens: str | None = Field(
        default=None, alias="backchannel.logout.revoke.offline.tokens")
    frontchannel_logout_url: str | None = Field(default=None, alias="frontchannel.logout.url")
    frontchannel_logout_session_required: str | None = Field(
        default=None, alias="frontchannel.logout.session.required")


class ClientRepresentation(Representation):
    client_id: str | None = None
    name: str | None = None
    enabled: bool = True
    protocol: str = "openid-connect"
    root_url: str | None = None
    base_url: str | None = None
    redirect_uris: ListOf[str] = []
    web_origins: ListOf[str] = []
    attributes: Annotated[ClientAttributes, NULL_AS_OBJECT] = ClientAttributes()
    public_client: bool = False
    bearer_only: bool = False
    frontchannel_logout: bool = False
    client_authenticator_type: str = "client-secret"
    secret: str | None = None
    standard_flow_enabled: bool = True
    direct_access_grants_enabled: bool = False
    service_accounts_enabled: bool = False
    implicit_flow_enabled: bool = False
    consent_required: bool = False
    authorization_services_enabled: bool = False
    protocol_mappers: ListOf[Named] = []
    default_client_scopes: ListOf[str] | None = None
    optional_client_scopes: ListOf[str] | None = None


# The realm (RealmRepresentation)


class SmtpServer(Representation):
    from_: str | None = Field(default=None, alias="from")
    from_display_name: str | None = None
    host: str | None = None


class AuthenticationFlow(Representation):
    alias: str
    built_in: bool = False


class RequiredActionProviderRepresentation(Representation):
    alias: str
    enabled: bool = False
    default_action: bool = False
    config: MapOf[str] = {}


class RealmRepresentation(Representation):
    realm: str
    display_name: str | None = None
    enabled: bool | None = None
    password_policy: str | None = None
    remember_me: bool | None = None
    registration_allowed: bool | None = None
    access_token_lifespan: int | None = None
    access_code_lifespan: int | None = None
    access_code_lifespan_login: int | None = None
    action_token_generated_by_user_lifespan: int | None = None
    sso_session_idle_timeout: int | None = None
    sso_session_max_lifespan: int | None = None
    sso_session_idle_timeout_remember_me: int | None = None
    sso_session_max_lifespan_remember_me: int | None = None
    offline_session_idle_timeout: int | None = None
    revoke_refresh_token: bool = False  # Keycloak's default: refresh tokens may be reused
    refresh_token_max_reuse: int | None = None
    default_signature_algorithm: str | None = None
    brute_force_protected: bool | None = None
    permanent_lockout: bool | None = None
    failure_factor: int | None = None
    wait_increment_seconds: int | None = None
    max_failure_wait_seconds: int | None = None
    quick_login_check_milli_seconds: int | None = None
    minimum_quick_login_wait_seconds: int | None = None
    max_delta_time_seconds: int | None = None
    otp_policy_algorithm: str | None = None
    otp_policy_digits: int | None = None
    otp_policy_period: int | None = None
    otp_policy_look_ahead_window: int | None = None
    smtp_server: SmtpServer | None = None
    browser_flow: str | None = None
    reset_credentials_flow: str | None = None
    direct_grant_flow: str | None = None
    registration_flow: str | None = None
    client_authentication_flow: str | None = None
    first_broker_login_flow: str | None = None
    docker_authentication_flow: str | None = None
    authentication_flows: ListOf[AuthenticationFlow] = []
    identity_providers: ListOf[Named] = []
    components: MapOf[ListOf[Named]] = {}
    web_authn_policy_rp_id: str | None = None
    web_authn_policy_rp_entity_name: str | None = None
    web_authn_policy_user_verification_requirement: str | None = None
    web_authn_policy_passwordless_rp_id: str | None = None
    web_authn_policy_passwordless_rp_entity_name: str | None = None
    web_authn_policy_passwordless_user_verification_requirement: str | None = None
    web_authn_policy_passwordless_passkeys_enabled: bool | None = None
    roles: RolesRepresentation | None = None
    required_actions: ListOf[RequiredActionProviderRepresentation] = []
    groups: ListOf[GroupRepresentation] = []
    clients: ListOf[ClientRepresentation] = []
    users: ListOf[UserRepresentation] = []

    def groups_by_path(self) -> dict[str, GroupRepresentation]:
        """Every group and subgroup by its path (`/parent/child`), as members' `groups` name them."""
        found: dict[str, GroupRepresentation] = {}

        def add(groups: list[GroupRepresentation], parent: str) -> None:
            for group in groups:
                path = group.path or f"{parent}/{group.name}"
                found[path] = group
                add(group.sub_groups, path)
        add(self.groups, "")
        return found

    def setting(self, key: str):
        """A realm setting by Keycloak's key; `smtpServer.from` reads inside smtpServer."""
        value: Any = self
        for part in key.split("."):
            value = getattr(value, _field_name(type(value), part), None) if value is not None else None
        return value


def _field_name(model: type[BaseModel], key: str) -> str:
    return next(name for name, field in model.model_fields.items() if field.alias == key)


# Validation errors as one line


R = TypeVar("R", bound=Representation)


def validated(model: type[R], document, file: str = "") -> R:
    """`document` as `model`, or KeycloakImportError naming `file` (when given) and the JSON path at fault."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        raise KeycloakImportError((f"{file}: " if file else "") + _problem(error, document)) from None


def _problem(error: ErrorDetails, document) -> str:
    entry, path = _path([part for part in error["loc"] if part not in CREDENTIAL_TAGS], document)
    if error["type"] == "missing":
        return ": ".join(part for part in (entry, f"{path} is missing") if part)
    return ": ".join(part for part in (entry, path, _message(error)) if part)


def _path(loc: list, document) -> tuple[str, str]:
    """(`users[3] (username 'x')`, `credentials[0].credentialData`): a user or client entry is named as
    the messages of the import's other checks name it, then the JSON path inside it."""
    entry = ""
    if len(loc) >= 2 and loc[0] in ("users", "clients") and isinstance(loc[1], int):
        listed = document[loc[0]][loc[1]]
        entry, loc = f"{loc[0]}[{loc[1]}]" + (entry_label(listed) if isinstance(listed, dict) else ""), loc[2:]
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            key = part if part.replace("-", "_").isidentifier() else json.dumps(part, ensure_ascii=False)
            path += f".{key}" if path else key
    return entry, path


def entry_label(entry: dict) -> str:
    """How a user or client entry is named in messages: ` (username 'x')`, ` (clientId 'x')`."""
    for key, label in (("serviceAccountClientId", "service account of"), ("username", "username"),
                       ("clientId", "clientId")):
        if isinstance(entry.get(key), str):
            return f" ({label} {entry[key]!r})"
    return ""


TYPES = {
    "string_type": "must be a string", "bool_type": "must be true or false", "int_type": "must be a whole number",
    "list_type": "must be a JSON list", "dict_type": "must be a JSON object", "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
}


def _message(error: ErrorDetails) -> str:
    kind, ctx, given = error["type"], error.get("ctx") or {}, error.get("input")
    if kind in TYPES:
        shown = repr(given)
        return f"{TYPES[kind]}, not {shown if len(shown) <= 60 else shown[:57] + '...'}"
    if kind == "greater_than_equal":
        return f"must be {'a positive' if ctx['ge'] == 1 else 'a non-negative'} whole number, not {given!r}"
    if kind == "string_too_short":
        return "must not be empty"
    return error["msg"].removeprefix("Value error, ")
