"""docker/: the compose file wires two identity providers, nginx, PostgreSQL, Redis, Mailpit and the portal.

No Docker engine runs here, so the files are read as data and checked against the code they
configure (settings, the demo realm's client), Docker Compose itself reads the compose file
(`.ci/run` installs it; under CI its absence fails), and the image's start command and health
check run for real outside a container.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
from ruamel.yaml import YAML

from idp.config import CHECKOUT, Settings
from idp.realms import load_realm_file
from tests.support.servers import BIN, free_port

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


def test_metrics_are_served_on_a_management_port_that_nginx_does_not_forward(services):
    command = services["idp1"]["command"]
    management_port = environment(services["idp1"])["IDP_MANAGEMENT_PORT"]
    assert management_port != command[command.index("--port") + 1]
    config = (DOCKER / "nginx.conf").read_text(encoding="utf-8")
    assert set(re.findall(r"server\s+\S+:(\d+);", config)) == {"8080"}


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
    assert re.search(r"^HEALTHCHECK .*\n?.*http://127\.0\.0\.1:8080/health/ready", dockerfile, re.M)
    cmd = re.search(r"^CMD (\[.*\])", dockerfile, re.M).group(1)
    assert '"--workers", "2"' in cmd and '"--host", "0.0.0.0"' in cmd


def test_the_image_leaves_local_state_out():
    ignored = set((DOCKER / "Dockerfile.dockerignore").read_text(encoding="utf-8").split())
    assert {".venv", "var", ".git"} <= ignored


def compose_command() -> list[str] | None:
    """Docker Compose v2: the docker CLI's plugin, or the same binary as `docker-compose`."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    if standalone:
        version = subprocess.run([standalone, "version"], capture_output=True, text=True).stdout
        if re.search(r"\bv2\.", version):
            return [standalone]
    return None


def test_docker_compose_accepts_the_file():
    compose = compose_command()
    if compose is None:
        reason = "Docker Compose v2 is not installed (.ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    result = subprocess.run([*compose, "-f", str(COMPOSE), "config", "--format", "json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert set(config["services"]) == {"postgres", "redis", "mailpit", "idp1", "idp2", "nginx", "portal"}
    # Compose resolved the anchors and the `${VAR:-default}` values as the tests above read them.
    assert config["services"]["idp2"]["environment"]["IDP_REDIS_URL"] == "redis://redis:6379/0"
    assert config["services"]["portal"]["network_mode"] == "service:nginx"


def test_compose_refuses_a_broken_file(tmp_path):
    """The check above can fail: a dependency on a service that does not exist is refused."""
    compose = compose_command()
    if compose is None:
        pytest.skip("Docker Compose v2 is not installed (.ci/run installs it)")
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  idp:\n    image: kosmo-idp:dev\n    depends_on: [nowhere]\n", encoding="utf-8")
    result = subprocess.run([*compose, "-f", str(broken), "config", "-q"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "nowhere" in result.stderr


def dockerfile_instruction(name: str) -> list[str]:
    """The exec-form (JSON) arguments of the Dockerfile's last `name` instruction."""
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    *_, line = re.findall(rf"^{name} (.*)$", dockerfile, re.M)
    return json.loads(line[line.index("["):])


def outside_the_container(command: list[str], port: int) -> list[str]:
    """`command` with this virtualenv's programs, on `port` instead of the image's 8080."""
    programs = {"idp": str(BIN / "idp"), "python": sys.executable}
    # 127.0.0.1 instead of the image's 0.0.0.0: a test server listens on loopback only.
    return [programs.get(part, part).replace("0.0.0.0", "127.0.0.1").replace("8080", str(port)) for part in command]


def test_the_images_start_command_serves_and_passes_its_own_health_check(tmp_path):
    """CMD as the image runs it (gunicorn, two workers, migrations and realm-config/ first),
    probed by the image's HEALTHCHECK until healthy, then stopped as `docker stop` does."""
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("IDP_")},
           "IDP_DATABASE_URL": f"sqlite:///{tmp_path / 'idp.db'}", "IDP_SECRET_KEY": "image-start-command-test-key",
           "IDP_MAIL_URL": f"outbox:{tmp_path / 'outbox'}", "IDP_BASE_URL": f"http://localhost:{port}"}
    log = tmp_path / "serve.log"
    with open(log, "wb") as output:
        server = subprocess.Popen(outside_the_container(dockerfile_instruction("CMD"), port), cwd=CHECKOUT, env=env,
                                  stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        health_check = outside_the_container(dockerfile_instruction("HEALTHCHECK.*CMD"), port)
        assert health_check[0] == sys.executable
        healthy = wait_until_healthy(health_check, server)
        assert healthy, f"the health check never passed; server output:\n{log.read_text(errors='replace')[-4000:]}"
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    output = log.read_text(errors="replace")
    assert len(re.findall(r"Booting worker with pid", output)) == 2
    assert "realm kosmo-demo" in output


def wait_until_healthy(health_check: list[str], server: subprocess.Popen, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and server.poll() is None:
        if subprocess.run(health_check, capture_output=True, timeout=10).returncode == 0:
            return True
        time.sleep(0.5)
    return False
