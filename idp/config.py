"""Every setting of the identity provider, its environment variable and its default, in one place.

Settings are read once at start-up and validated loudly: a bad value stops the process with
a message naming the variable, rather than failing later on a member's request.
"""
from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

CHECKOUT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value the identity provider cannot run with."""


@dataclass(frozen=True)
class RateLimit:
    """At most `requests` in each window of `seconds`."""

    requests: int
    seconds: int


RATE_LIMIT = re.compile(r"(\d+)\s*/\s*(\d+)\s*([smh])")
PERIOD_UNITS = {"s": 1, "m": 60, "h": 3600}
LONGEST_RATE_WINDOW = 24 * 3600


def _default_secret_key() -> str:
    # A per-process random key is only safe for a single development process; it is
    # replaced by the key kept in var/ so that restarts keep sessions and encrypted data.
    path = CHECKOUT / "var" / "secret-key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


@dataclass(frozen=True)
class Settings:
    """The identity provider's settings; `from_env()` documents each variable."""

    database_url: str = f"sqlite:///{CHECKOUT / 'var' / 'idp.db'}"
    redis_url: str | None = None
    base_url: str = "http://localhost:8080"
    secret_key: str = field(default="", repr=False)
    mail_url: str = f"outbox:{CHECKOUT / 'var' / 'outbox'}"
    mail_from: str = "no-reply@localhost"
    realms_dir: Path = CHECKOUT / "realm-config"
    flows_dir: Path = CHECKOUT / "flows"
    themes_dir: Path = CHECKOUT / "themes"
    load_realms_on_start: bool = True
    proxy_fix: int = 0
    # A second port for /health/* and /metrics (0: none, both stay on the main port).
    management_port: int = 0
    # Where gunicorn's workers share their metrics (prometheus_client's multiprocess folder);
    # unset, `idp serve --workers N` makes one for its run.
    metrics_dir: str = ""
    log_level: str = "INFO"
    # Argon2id parameters for newly hashed passwords (OWASP's recommended minimum).
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
    # The master realm's first administrator, made at start-up when missing (Keycloak's
    # KC_BOOTSTRAP_ADMIN_USERNAME/PASSWORD); `idp admin create` does the same by hand.
    bootstrap_admin_username: str = ""
    bootstrap_admin_password: str = field(default="", repr=False)
    # Request rate limits, each "COUNT/PERIOD" (period in s, m or h) or "off"; counted per client
    # address (an IPv6 /64 counts as one), the token endpoint per relying party too. Sized for a
    # society's office, where hundreds of members share one NAT address: a sign-in is 3-6 requests
    # (the authorization request, password, code, first-time steps), a recovery about 5, and a
    # portal exchanges every member's codes and refreshes from its own one address.
    rate_limits: bool = True
    rate_limit_sign_in: str = "600/1m"
    rate_limit_code_sending: str = "60/10m"
    rate_limit_recovery: str = "300/10m"
    rate_limit_token: str = "3000/1m"
    rate_limit_token_client: str = "6000/1m"
    # Back-channel logout: the wait before a relying party's second try, doubled before the third.
    backchannel_logout_retry_ms: int = 1000

    ENV = {
        "database_url": "IDP_DATABASE_URL",
        "redis_url": "IDP_REDIS_URL",
        "base_url": "IDP_BASE_URL",
        "secret_key": "IDP_SECRET_KEY",
        "mail_url": "IDP_MAIL_URL",
        "mail_from": "IDP_MAIL_FROM",
        "realms_dir": "IDP_REALMS_DIR",
        "flows_dir": "IDP_FLOWS_DIR",
        "themes_dir": "IDP_THEMES_DIR",
        "load_realms_on_start": "IDP_LOAD_REALMS",
        "proxy_fix": "IDP_PROXY_FIX",
        "management_port": "IDP_MANAGEMENT_PORT",
        "metrics_dir": "IDP_METRICS_DIR",
        "log_level": "IDP_LOG_LEVEL",
        "argon2_time_cost": "IDP_ARGON2_TIME_COST",
        "argon2_memory_kib": "IDP_ARGON2_MEMORY_KIB",
        "argon2_parallelism": "IDP_ARGON2_PARALLELISM",
        "bootstrap_admin_username": "IDP_BOOTSTRAP_ADMIN_USERNAME",
        "bootstrap_admin_password": "IDP_BOOTSTRAP_ADMIN_PASSWORD",
        "rate_limits": "IDP_RATE_LIMITS",
        "rate_limit_sign_in": "IDP_RATE_LIMIT_SIGN_IN",
        "rate_limit_code_sending": "IDP_RATE_LIMIT_CODE_SENDING",
        "rate_limit_recovery": "IDP_RATE_LIMIT_RECOVERY",
        "rate_limit_token": "IDP_RATE_LIMIT_TOKEN",
        "rate_limit_token_client": "IDP_RATE_LIMIT_TOKEN_CLIENT",
        "backchannel_logout_retry_ms": "IDP_BACKCHANNEL_LOGOUT_RETRY_MS",
    }
    # The endpoint groups idp/security/rate_limit.py counts, and the setting of each.
    RATE_LIMIT_GROUPS = {
        "sign-in": "rate_limit_sign_in",
        "code-sending": "rate_limit_code_sending",
        "recovery": "rate_limit_recovery",
        "token": "rate_limit_token",
        "token-client": "rate_limit_token_client",
    }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every `IDP_*` variable, falling back to the defaults above."""
        variables = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = cls.ENV.get(f.name)
            if name and variables.get(name, "") != "":
                values[f.name] = _convert(name, variables[name], f.default)
        values.update(overrides)
        settings = cls(**values)
        if not settings.secret_key:
            settings = cls(**{**values, "secret_key": _default_secret_key()})
        settings.validate()
        return settings

    def validate(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise SettingsError(f"IDP_BASE_URL must start with http:// or https://, not {self.base_url!r}")
        if not self.mail_url.startswith(("smtp://", "smtps://", "outbox:")):
            raise SettingsError("IDP_MAIL_URL must be smtp://host:port, smtps://user:pass@host:port or outbox:DIR")
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise SettingsError(
                f"IDP_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {self.log_level!r}")
        if not self.database_url.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise SettingsError(
                f"IDP_DATABASE_URL must be sqlite:///PATH or postgresql://..., not {self.database_url!r}")
        if self.redis_url is not None and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(
                f"IDP_REDIS_URL must be redis://host:port/db (or rediss://, unix://), not {self.redis_url!r}")
        for name, value, least in (("IDP_ARGON2_TIME_COST", self.argon2_time_cost, 1),
                                   ("IDP_ARGON2_MEMORY_KIB", self.argon2_memory_kib, 8),
                                   ("IDP_ARGON2_PARALLELISM", self.argon2_parallelism, 1),
                                   ("IDP_PROXY_FIX", self.proxy_fix, 0)):
            if value < least:
                raise SettingsError(f"{name} must be at least {least}, not {value}")
        if not 0 <= self.management_port <= 65535:
            raise SettingsError(f"IDP_MANAGEMENT_PORT must be a TCP port, or 0 for none, not {self.management_port}")
        if len(self.secret_key) < 16:
            raise SettingsError("IDP_SECRET_KEY must be at least 16 characters")
        self.rate_limit_table()

    def rate_limit_table(self) -> dict[str, RateLimit | None]:
        """Each endpoint group's limit (None: not limited); every group is None when
        IDP_RATE_LIMITS is off."""
        return {group: _rate_limit(self.ENV[name], getattr(self, name)) if self.rate_limits else None
                for group, name in self.RATE_LIMIT_GROUPS.items()}

    @property
    def base_url_is_https(self) -> bool:
        return self.base_url.startswith("https://")

    def issuer(self, realm: str) -> str:
        return f"{self.base_url.rstrip('/')}/realms/{realm}"


def _rate_limit(name: str, text: str) -> RateLimit | None:
    if text.strip().lower() == "off":
        return None
    match = RATE_LIMIT.fullmatch(text.strip().lower())
    if match is None:
        raise SettingsError(f"{name} must be COUNT/PERIOD such as 600/1m (period in s, m or h) or off, not {text!r}")
    limit = RateLimit(int(match[1]), int(match[2]) * PERIOD_UNITS[match[3]])
    if limit.requests < 1 or not 1 <= limit.seconds <= LONGEST_RATE_WINDOW:
        raise SettingsError(f"{name} needs at least 1 request in a period of 1s to 24h, not {text!r}")
    return limit


def _convert(name: str, raw: str, default):
    if isinstance(default, bool):
        if raw.lower() not in {"1", "0", "true", "false", "yes", "no"}:
            raise SettingsError(f"{name} must be true or false, not {raw!r}")
        return raw.lower() in {"1", "true", "yes"}
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if isinstance(default, Path):
        return Path(raw)
    return raw
