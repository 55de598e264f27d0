"""The schema of `realm-config/<realm>.yaml`: one society's settings and clients.

Defaults follow Keycloak's so a realm behaves as a Keycloak realm would unless the operator
says otherwise. Unknown keys are errors: a misspelt setting must not be silently ignored.
"""
from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from idp.realms.redirect_patterns import check_redirect_pattern

# Kept exactly as Keycloak's realm is named (upper case included): it is in every URL and the issuer.
REALM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# Keycloak's built-in client whose roles grant the Admin REST API, and the roles we honour.
REALM_MANAGEMENT = "realm-management"
# Keycloak 26's client scopes, which it gives every new client as default or optional scopes.
DEFAULT_CLIENT_SCOPES = ("web-origins", "acr", "profile", "roles", "basic", "email")
OPTIONAL_CLIENT_SCOPES = ("offline_access", "address", "phone", "microprofile-jwt", "organization")
KEYCLOAK_CLIENT_SCOPES = frozenset(DEFAULT_CLIENT_SCOPES + OPTIONAL_CLIENT_SCOPES)
REALM_MANAGEMENT_ROLES = frozenset({"realm-admin", "query-users", "view-users", "manage-users", "view-events",
                                    "query-clients", "view-clients", "manage-clients", "view-realm",
                                    "manage-realm", "query-groups", "query-realms"})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClientSecret(Strict):
    """Where a confidential client's secret comes from: an environment variable or a hash."""

    env: str | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    default: str | None = Field(default=None, description="used when `env` is unset (development only)")

    @model_validator(mode="after")
    def one_source(self):
        if (self.env is None) == (self.sha256 is None):
            raise ValueError("give exactly one of `env` (a variable holding the secret) or `sha256` (its hex hash)")
        if self.default is not None and self.env is None:
            raise ValueError("`default` only goes with `env`")
        return self


# The client settings that say how its relying party hears of a logout.
LOGOUT_SETTINGS = ("backchannel_logout_url", "backchannel_logout_session_required",
                   "backchannel_logout_revoke_offline_tokens", "frontchannel_logout_url",
                   "frontchannel_logout_session_required")


class ClientConfig(Strict):
    """A relying party."""

    client_id: str = Field(min_length=1, max_length=255)
    name: str = ""
    enabled: bool = True
    public: bool = False
    secret: ClientSecret | None = None
    redirect_uris: list[str] = Field(default_factory=list)
    post_logout_redirect_uris: list[str] = Field(default_factory=list)
    web_origins: list[str] = Field(default_factory=list)
    base_url: str = ""
    pkce_required: bool = False
    standard_flow: bool = True
    direct_access_grants: bool = False
    service_account: bool = False
    service_account_roles: list[str] = Field(default_factory=list)
    # Keycloak's clientRoles of the service-account user, e.g. {"realm-management": ["manage-users"]}.
    service_account_client_roles: dict[str, list[str]] = Field(default_factory=dict)
    admin_api: bool = Field(default=False, description="its tokens may call /admin (the realm must enable it too)")
    backchannel_logout_url: str = Field(default="", description="where logout tokens are POSTed when a session ends")
    backchannel_logout_session_required: bool = Field(default=True, description="logout tokens carry `sid`")
    backchannel_logout_revoke_offline_tokens: bool = Field(
        default=False, description="logout tokens carry Keycloak's `revoke_offline_access`")
    frontchannel_logout_url: str = Field(default="", description="framed by the logout page when the member signs out")
    frontchannel_logout_session_required: bool = Field(default=True, description="the framed URL gets `iss` and `sid`")
    bearer_only: bool = Field(default=False, description="Keycloak's bearerOnly: a resource server that never gets "
                              "tokens, only checks them (introspection with its secret)")
    default_client_scopes: list[str] = Field(default_factory=lambda: list(DEFAULT_CLIENT_SCOPES),
                                             description="Keycloak's defaultClientScopes: applied to every token")
    optional_client_scopes: list[str] = Field(default_factory=lambda: list(OPTIONAL_CLIENT_SCOPES),
                                              description="Keycloak's optionalClientScopes: applied when requested")

    @field_validator("default_client_scopes", "optional_client_scopes")
    @classmethod
    def known_client_scopes(cls, scopes: list[str]) -> list[str]:
        unknown = sorted(set(scopes) - KEYCLOAK_CLIENT_SCOPES)
        if unknown:
            raise ValueError(f"unknown client scopes {unknown}; known: {sorted(KEYCLOAK_CLIENT_SCOPES)}")
        return scopes

    @field_validator("redirect_uris", "post_logout_redirect_uris")
    @classmethod
    def redirect_patterns(cls, uris: list[str]) -> list[str]:
        for uri in uris:
            check_redirect_pattern(uri)
        return uris

    @field_validator("backchannel_logout_url", "frontchannel_logout_url")
    @classmethod
    def http_url(cls, url: str) -> str:
        if url and (not re.match(r"^https?://[^/\s]+", url) or "#" in url):
            raise ValueError(f"{url!r} must be an absolute http(s) URL without a fragment")
        return url

    @field_validator("service_account_client_roles")
    @classmethod
    def known_admin_roles(cls, roles: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(roles.get(REALM_MANAGEMENT, [])) - REALM_MANAGEMENT_ROLES)
        if unknown:
            raise ValueError(f"unknown {REALM_MANAGEMENT} roles {unknown}; known: {sorted(REALM_MANAGEMENT_ROLES)}")
        return roles

    @model_validator(mode="after")
    def secret_fits_kind(self):
        if self.public and self.secret is not None:
            raise ValueError("a public client has no secret")
        if not self.public and self.secret is None and not self.bearer_only:
            raise ValueError("a confidential client needs `secret` (or set `public: true`)")
        if self.bearer_only and (self.public or self.standard_flow or self.direct_access_grants
                                 or self.service_account):
            raise ValueError("a bearer-only client gets no tokens: it is not public, and `standard_flow`, "
                             "`direct_access_grants` and `service_account` are off")
        if self.public and self.service_account:
            raise ValueError("a public client cannot have a service account")
        if self.standard_flow and not self.redirect_uris:
            raise ValueError("`standard_flow` needs at least one redirect URI")
        both = sorted(set(self.default_client_scopes) & set(self.optional_client_scopes))
        if both:
            raise ValueError(f"client scopes {both} are both default and optional; Keycloak lets a scope be one")
        return self

    @property
    def logout_settings(self) -> dict:
        """The back- and front-channel logout settings, kept with the client's attributes."""
        return {name: getattr(self, name) for name in LOGOUT_SETTINGS}

    @property
    def grant_types(self) -> list[str]:
        grants = []
        if self.standard_flow:
            grants += ["authorization_code", "refresh_token"]
        if self.direct_access_grants:
            grants += ["password"] + ([] if "refresh_token" in grants else ["refresh_token"])
        if self.service_account:
            grants.append("client_credentials")
        return grants


class TokenSettings(Strict):
    """Lifespans in seconds, named and defaulted as Keycloak's realm settings."""

    access_token_lifespan: int = Field(default=300, ge=10)
    access_code_lifespan: int = Field(default=60, ge=10)
    login_timeout: int = Field(default=1800, ge=60, description="Keycloak's accessCodeLifespanLogin")
    action_token_lifespan: int = Field(default=300, ge=60, description="Keycloak's actionTokenGeneratedByUserLifespan")
    action_token_admin_lifespan: int = Field(
        default=43200, ge=60, description="Keycloak's actionTokenGeneratedByAdminLifespan (mailed by the Admin API)")
    sso_session_idle_timeout: int = Field(default=1800, ge=60)
    sso_session_max_lifespan: int = Field(default=36000, ge=60)
    remember_me_idle_timeout: int = Field(default=0, ge=0, description="0: the SSO idle timeout")
    remember_me_max_lifespan: int = Field(default=0, ge=0, description="0: the SSO max lifespan")
    offline_session_idle_timeout: int = Field(default=2592000, ge=60,
                                              description="Keycloak's offlineSessionIdleTimeout (30 days)")
    revoke_refresh_token: bool = Field(
        default=True, description="Keycloak's revokeRefreshToken: each refresh token used once (plus max reuse)")
    refresh_token_max_reuse: int = Field(default=0, ge=0, description="Keycloak's refreshTokenMaxReuse")
    signature_algorithm: Literal["RS256", "ES256"] = "RS256"


class BruteForceSettings(Strict):
    """Keycloak's brute-force detection settings and defaults."""

    enabled: bool = False
    permanent_lockout: bool = False
    failure_factor: int = Field(default=30, ge=1)
    wait_increment_seconds: int = Field(default=60, ge=0)
    max_failure_wait_seconds: int = Field(default=900, ge=0)
    quick_login_check_milli_seconds: int = Field(default=1000, ge=0)
    minimum_quick_login_wait_seconds: int = Field(default=60, ge=0)
    max_delta_time_seconds: int = Field(default=43200, ge=0)


class UserIdPolicy(Strict):
    """Which user IDs members may choose (docs/member-screens.md §2: 8–13 characters, a-z 0-9 - _ . @)."""

    min_length: int = Field(default=8, ge=1)
    max_length: int = Field(default=13, le=255)
    allowed_symbols: str = "-_.@"

    @model_validator(mode="after")
    def lengths_in_order(self):
        if self.min_length > self.max_length:
            raise ValueError("min_length is larger than max_length")
        return self


class SmtpSettings(Strict):
    from_address: str = ""
    from_display_name: str = ""
    subject_prefix: str = ""


class TermsOfUse(Strict):
    """The realm's terms (利用規約); a new `version` asks every member again at the next sign-in."""

    version: str = Field(min_length=1, max_length=100)
    title: str = "利用規約"
    text: str = Field(min_length=1)


class OtpPolicy(Strict):
    """Keycloak's OTP policy (otpPolicyAlgorithm, Digits, Period, LookAheadWindow)."""

    algorithm: Literal["HmacSHA1", "HmacSHA256", "HmacSHA512"] = "HmacSHA1"
    digits: Literal[6, 8] = 6
    period: int = Field(default=30, ge=15, le=120)
    look_around_window: int = Field(default=1, ge=0, le=5)


class WebAuthnSettings(Strict):
    """Passkeys: user verification, the relying-party id, and passkeys as the first factor."""

    user_verification: Literal["required", "preferred", "discouraged"] = "preferred"
    rp_id: str | None = Field(default=None, description="default: the host of IDP_BASE_URL")
    rp_name: str | None = Field(default=None, description="default: the realm's display name")
    passkey_first_factor: bool = False


class EmailCodeSettings(Strict):
    """One-time codes by email (docs/member-screens.md §6)."""

    lifespan_seconds: int = Field(default=300, ge=60, le=3600)
    max_attempts: int = Field(default=5, ge=1, le=20)
    resend_cooldown_seconds: int = Field(default=30, ge=0, le=600)
    max_sends_per_hour: int = Field(default=5, ge=1, le=60)


class RecoverySettings(Strict):
    """パスワード・ユーザIDを忘れた方: how many recovery mails one typed address and one client IP
    may ask for per hour (over it, the same answer and no mail), and the time every answer takes
    at least, so that an existing account (a mail is sent) and an unknown one answer alike."""

    max_mails_per_address_per_hour: int = Field(default=3, ge=1, le=100)
    max_mails_per_ip_per_hour: int = Field(default=20, ge=1, le=10000)
    answer_seconds: float = Field(default=0.5, ge=0, le=5)


class RequiredActionSetting(Strict):
    """One of Keycloak's required actions as the realm has it (its `requiredActions` entry): a
    disabled one is never run, a default one is queued for every new member, and `config` holds
    its options (`max_auth_age`: how many seconds after signing in the member may run it alone)."""

    alias: str = Field(min_length=1, max_length=255)
    enabled: bool = True
    default_action: bool = False
    config: dict[str, str] = Field(default_factory=dict)

    @property
    def max_auth_age(self) -> int | None:
        value = self.config.get("max_auth_age", "")
        return int(value) if value.isascii() and value.isdigit() else None


class RealmConfig(Strict):
    """One society."""

    realm: str
    display_name: str = ""
    enabled: bool = True
    theme: str = Field(default="ja", pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    browser_flow: str = "browser"
    reset_credentials_flow: str = Field(default="reset-credentials", description="Keycloak's resetCredentialsFlow")
    forgot_user_id_flow: str = "forgot-user-id"
    password_policy: str = "length(8) and maxLength(64) and notUsername"
    user_id_policy: UserIdPolicy = UserIdPolicy()
    tokens: TokenSettings = TokenSettings()
    brute_force: BruteForceSettings = BruteForceSettings()
    remember_me: bool = True
    registration_allowed: bool = False
    email: SmtpSettings = SmtpSettings()
    terms: TermsOfUse | None = None
    otp_policy: OtpPolicy = OtpPolicy()
    webauthn: WebAuthnSettings = WebAuthnSettings()
    email_code: EmailCodeSettings = EmailCodeSettings()
    second_factor_required: bool = True
    recovery: RecoverySettings = RecoverySettings()
    admin_api: bool = Field(default=False, description="serve Keycloak's Admin REST API under /admin/realms/{realm}")
    required_actions: list[RequiredActionSetting] = Field(
        default_factory=list, description="Keycloak's requiredActions; an action not listed is enabled, not default")
    clients: list[ClientConfig] = Field(default_factory=list)

    def required_action(self, alias: str) -> RequiredActionSetting:
        """The realm's setting for a required action (Keycloak's alias), enabled when not listed."""
        return next((item for item in self.required_actions if item.alias == alias), RequiredActionSetting(alias=alias))

    @property
    def default_required_actions(self) -> list[str]:
        """What every new member is asked to do (Keycloak's default actions that are enabled)."""
        return [item.alias for item in self.required_actions if item.enabled and item.default_action]

    @field_validator("realm")
    @classmethod
    def realm_name(cls, name: str) -> str:
        if not REALM_NAME.fullmatch(name):
            raise ValueError("a realm name is letters, digits, '.', '-' and '_', starting with a letter or digit "
                             "(it appears in URLs)")
        return name

    @field_validator("password_policy")
    @classmethod
    def policy_parses(cls, policy: str) -> str:
        from idp.security.password_policy import PasswordPolicy

        PasswordPolicy.parse(policy)
        return policy

    @field_validator("clients")
    @classmethod
    def unique_client_ids(cls, clients: list[ClientConfig]) -> list[ClientConfig]:
        seen = set()
        for client in clients:
            if client.client_id in seen:
                raise ValueError(f"client_id {client.client_id!r} appears twice")
            seen.add(client.client_id)
        return clients
