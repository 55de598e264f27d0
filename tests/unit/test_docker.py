"""docker/: the compose file wires two identity providers, nginx, PostgreSQL, Redis, Mailpit and the portal.

No Docker engine runs here, so the files are read as data and checked against the code they
configure (settings, the demo realm's client); `docker compose config` also runs when the
plugin is installed.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from idp.config import CHECKOUT, Settings
from idp.realms import load_realm_file

DOCKER = CHECKOUT / "docker"
COMPOSE = DOCKER / "compose.yaml"
IDPS = ("idp1", "idp2")


def resolve(value: str) -> str:
    """Compose's `${VAR:-default}` as it reads with VAR unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))


@pytest.fixture(scope="module")
def services() -> dict:
    return YAML(typ="safe").load(COMPOSE.read_text(encoding="utf-8"))["services"]


def environment(service: dict) -> dict[str, str]:
    return {name: resolve(value) for name, value in service.get("environment", {}).items()}


def test_the_set_up_has_every_part_the_design_names(services):
    assert set(services) == {"postgres", "redis", "mailpit", "idp1", "idp2", "nginx", "portal"}
    assert services["mailpit"]["image"].startswith("axllent/mailpit")


def test_both_identity_providers_are_built_from_the_dockerfile_and_run_gunicorn(services):
    for name in IDPS:
        build = services[name]["build"]
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKER / "Dockerfile"
        command = services[name]["command"]
        assert command[:2] == ["idp", "serve"]
        assert int(command[command.index("--workers") + 1]) > 1


def test_both_identity_providers_share_one_database_cache_key_and_mail_server(services):
    first, second = (environment(services[name]) for name in IDPS)
    assert first == second
    assert first["IDP_DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in first["IDP_DATABASE_URL"]
    assert first["IDP_REDIS_URL"].startswith("redis://redis:6379/")
    assert first["IDP_MAIL_URL"] == "smtp://mailpit:1025"
    assert first["IDP_PROXY_FIX"] == "1"


def test_the_identity_providers_settings_are_valid(services):
    settings = Settings.from_env(environ=environment(services["idp1"]))
    assert settings.base_url == "http://localhost:8080"
    assert settings.redis_url is not None


def test_the_second_identity_provider_starts_after_the_first_has_migrated(services):
    assert services["idp2"]["depends_on"]["idp1"]["condition"] == "service_healthy"
    assert services["idp1"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["idp1"]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_every_dependency_names_a_service(services):
    for name, service in services.items():
        for needed in service.get("depends_on", {}):
            assert needed in services, f"{name} depends on unknown service {needed}"


def test_nginx_spreads_requests_over_both_identity_providers(services):
    nginx = services["nginx"]
    [mount] = nginx["volumes"]
    config_file = (COMPOSE.parent / mount.split(":")[0]).resolve()
    config = config_file.read_text(encoding="utf-8")
    assert set(re.findall(r"server\s+(\S+);", config)) == {"idp1:8080", "idp2:8080"}
    assert re.search(r"listen\s+8080;", config)
    assert "proxy_pass http://idp;" in config
    assert "X-Forwarded-Proto" in config
    assert {"8080:8080", "8081:8081"} <= set(nginx["ports"])


def test_the_portal_reaches_the_identity_provider_at_the_url_the_browser_uses(services):
    portal = services["portal"]
    env = environment(portal)
    assert portal["network_mode"] == "service:nginx"
    assert env["PORTAL_IDP_URL"] == environment(services["idp1"])["IDP_BASE_URL"]
    command = portal["command"]
    assert command[:3] == ["python", "-m", "examples.portal"]
    assert env["PORTAL_URL"].endswith(":" + command[command.index("--port") + 1])


def test_the_portal_and_the_identity_providers_agree_on_the_portal_client(services):
    client = next(c for c in load_realm_file(CHECKOUT / "realm-config" / "kosmo-demo.yaml").clients
                  if c.client_id == "kosmo-portal")
    portal_env = environment(services["portal"])
    secret_variable = client.secret.env
    assert portal_env[secret_variable] == environment(services["idp1"])[secret_variable]
    assert portal_env["PORTAL_URL"] + "/callback" in client.redirect_uris
    assert portal_env["PORTAL_URL"] + "/" in client.post_logout_redirect_uris


def test_the_image_runs_gunicorn_as_a_non_root_user_and_checks_its_health():
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1] not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*\n?.*/realms/kosmo-demo/\.well-known/openid-configuration", dockerfile, re.M)
    cmd = re.search(r"^CMD (\[.*\])", dockerfile, re.M).group(1)
    assert '"--workers", "2"' in cmd and '"--host", "0.0.0.0"' in cmd


def test_the_image_leaves_local_state_out():
    ignored = set((DOCKER / "Dockerfile.dockerignore").read_text(encoding="utf-8").split())
    assert {".venv", "var", ".git"} <= ignored


def test_docker_compose_accepts_the_file():
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the docker compose plugin is not installed here")
    result = subprocess.run([docker, "compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
