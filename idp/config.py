"""Every setting of the identity provider, its environment variable and its default, in one place.

Settings are read once at start-up and validated loudly: a bad value stops the process with
a message naming the variable, rather than failing later on a member's request.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value the identity provider cannot run with."""


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
    log_level: str = "INFO"
    # Argon2id parameters for newly hashed passwords (OWASP's recommended minimum).
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1

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
        "log_level": "IDP_LOG_LEVEL",
        "argon2_time_cost": "IDP_ARGON2_TIME_COST",
        "argon2_memory_kib": "IDP_ARGON2_MEMORY_KIB",
        "argon2_parallelism": "IDP_ARGON2_PARALLELISM",
    }

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
        """Read every `IDP_*` variable, falling back to the defaults above."""
        environ = os.environ if environ is None else environ
        values: dict = {}
        for f in fields(cls):
            name = cls.ENV.get(f.name)
            if name and environ.get(name, "") != "":
                values[f.name] = _convert(name, environ[name], f.default)
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
            raise SettingsError(f"IDP_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {self.log_level!r}")
        if not self.database_url.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise SettingsError(f"IDP_DATABASE_URL must be sqlite:///PATH or postgresql://..., not {self.database_url!r}")
        if self.redis_url is not None and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(f"IDP_REDIS_URL must be redis://host:port/db (or rediss://, unix://), not {self.redis_url!r}")
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

    @property
    def base_url_is_https(self) -> bool:
        return self.base_url.startswith("https://")

    def issuer(self, realm: str) -> str:
        return f"{self.base_url.rstrip('/')}/realms/{realm}"


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
