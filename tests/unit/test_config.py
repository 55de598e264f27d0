"""Settings come from `IDP_*` variables with documented defaults; a bad value names its variable."""
from __future__ import annotations

from pathlib import Path

import pytest

from idp.config import CHECKOUT, Settings, SettingsError

KEY = {"IDP_SECRET_KEY": "k" * 32}


def from_env(**variables) -> Settings:
    return Settings.from_env(environ={**KEY, **variables})


def test_with_no_variables_a_newcomer_gets_the_local_development_set_up():
    settings = from_env()
    assert settings.database_url == f"sqlite:///{CHECKOUT / 'var' / 'idp.db'}"
    assert settings.redis_url is None
    assert settings.base_url == "http://localhost:8080"
    assert settings.mail_url == f"outbox:{CHECKOUT / 'var' / 'outbox'}"
    assert settings.realms_dir == CHECKOUT / "realm-config"
    assert settings.flows_dir == CHECKOUT / "flows"
    assert settings.themes_dir == CHECKOUT / "themes"
    assert settings.load_realms_on_start is True
    assert settings.proxy_fix == 0
    assert settings.base_url_is_https is False


def test_without_a_secret_key_one_is_made_once_and_kept_across_restarts():
    first = Settings.from_env(environ={})
    second = Settings.from_env(environ={})
    assert len(first.secret_key) >= 16
    assert first.secret_key == second.secret_key
    assert (CHECKOUT / "var" / "secret-key").read_text().strip() == first.secret_key


def test_the_secret_key_is_kept_out_of_logged_settings():
    assert "k" * 32 not in repr(from_env())


def test_an_empty_variable_means_the_default():
    assert from_env(IDP_BASE_URL="", IDP_PROXY_FIX="").base_url == "http://localhost:8080"


@pytest.mark.parametrize(
    "variable, raw, field, expected",
    [
        ("IDP_DATABASE_URL", "postgresql://idp@db:5432/idp", "database_url", "postgresql://idp@db:5432/idp"),
        ("IDP_REDIS_URL", "redis://cache:6379/0", "redis_url", "redis://cache:6379/0"),
        ("IDP_BASE_URL", "https://id.kosmo.example", "base_url", "https://id.kosmo.example"),
        ("IDP_SECRET_KEY", "another-secret-key-0123456789", "secret_key", "another-secret-key-0123456789"),
        ("IDP_MAIL_URL", "smtps://user:pass@mail:465", "mail_url", "smtps://user:pass@mail:465"),
        ("IDP_MAIL_FROM", "no-reply@kosmo.example", "mail_from", "no-reply@kosmo.example"),
        ("IDP_REALMS_DIR", "/etc/idp/realms", "realms_dir", Path("/etc/idp/realms")),
        ("IDP_FLOWS_DIR", "/etc/idp/flows", "flows_dir", Path("/etc/idp/flows")),
        ("IDP_THEMES_DIR", "/etc/idp/themes", "themes_dir", Path("/etc/idp/themes")),
        ("IDP_LOAD_REALMS", "false", "load_realms_on_start", False),
        ("IDP_LOAD_REALMS", "NO", "load_realms_on_start", False),
        ("IDP_LOAD_REALMS", "1", "load_realms_on_start", True),
        ("IDP_PROXY_FIX", "2", "proxy_fix", 2),
        ("IDP_LOG_LEVEL", "DEBUG", "log_level", "DEBUG"),
        ("IDP_ARGON2_TIME_COST", "3", "argon2_time_cost", 3),
        ("IDP_ARGON2_MEMORY_KIB", "65536", "argon2_memory_kib", 65536),
        ("IDP_ARGON2_PARALLELISM", "4", "argon2_parallelism", 4),
    ],
)
def test_each_variable_sets_its_setting(variable, raw, field, expected):
    assert getattr(from_env(**{variable: raw}), field) == expected


def test_every_setting_but_none_is_reachable_from_a_variable():
    documented = set(Settings.ENV)
    assert documented == set(Settings.__dataclass_fields__)
    assert all(name.startswith("IDP_") for name in Settings.ENV.values())


def test_an_https_base_url_makes_cookies_secure_and_prefixes_the_issuer():
    settings = from_env(IDP_BASE_URL="https://id.kosmo.example/")
    assert settings.base_url_is_https
    assert settings.issuer("kosmo-demo") == "https://id.kosmo.example/realms/kosmo-demo"


def test_overrides_win_over_the_environment():
    settings = Settings.from_env(environ={**KEY, "IDP_BASE_URL": "https://a.example"}, base_url="https://b.example")
    assert settings.base_url == "https://b.example"


@pytest.mark.parametrize(
    "variable, raw",
    [
        ("IDP_BASE_URL", "localhost:8080"),
        ("IDP_MAIL_URL", "mailto:admin@kosmo.example"),
        ("IDP_SECRET_KEY", "short"),
        ("IDP_LOAD_REALMS", "maybe"),
        ("IDP_PROXY_FIX", "two"),
        ("IDP_ARGON2_TIME_COST", "fast"),
        ("IDP_ARGON2_MEMORY_KIB", "19MiB"),
        ("IDP_ARGON2_PARALLELISM", "1.5"),
        # Values that parse but that the server cannot run with must stop it at start-up too,
        # not on a member's first request.
        ("IDP_LOG_LEVEL", "LOUD"),
        ("IDP_ARGON2_TIME_COST", "0"),
        ("IDP_ARGON2_MEMORY_KIB", "-5"),
        ("IDP_PROXY_FIX", "-1"),
        ("IDP_REDIS_URL", "localhost:6379"),
        ("IDP_DATABASE_URL", "var/idp.db"),
    ],
)
def test_a_bad_value_stops_start_up_with_a_message_naming_the_variable(variable, raw):
    with pytest.raises(SettingsError, match=variable):
        from_env(**{variable: raw})
