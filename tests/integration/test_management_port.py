"""IDP_MANAGEMENT_PORT: `idp serve` answers /health/* and /metrics on a second port, and the main
port stops answering /metrics; which port a request reached is read from its socket, never from
what the client sent."""
from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner

from idp.cli import main
from idp.config import Settings, SettingsError
from tests.support.journeys import PASSWORD, USERNAME, sign_in
from tests.support.servers import REALM, IdpServer, free_port

pytestmark = pytest.mark.servers


@pytest.fixture
def management_port() -> int:
    return free_port()


def get(url: str, **headers) -> requests.Response:
    return requests.get(url, headers=headers, allow_redirects=False, timeout=10)


def test_metrics_move_to_the_management_port_and_count_the_sign_ins_of_the_main_port(tmp_path, management_port):
    management = f"http://127.0.0.1:{management_port}"
    with IdpServer(tmp_path, env={"IDP_MANAGEMENT_PORT": str(management_port)}) as idp:
        idp.add_member(USERNAME, PASSWORD)
        sign_in(idp)

        assert get(f"{idp.url}/metrics").status_code == 404
        assert get(f"{idp.url}/health/ready").json()["status"] == "UP"
        scraped = get(f"{management}/metrics")
        assert scraped.status_code == 200 and scraped.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert f'idp_logins_total{{realm="{REALM}",result="success"}} 1' in scraped.text.splitlines()
        assert get(f"{management}/health/live").json() == {"status": "UP"}
        assert get(f"{management}/health/ready").json()["status"] == "UP"


def test_under_gunicorn_the_ports_are_told_apart_by_socket_not_by_host_header(tmp_path, management_port):
    management = f"http://127.0.0.1:{management_port}"
    with IdpServer(tmp_path, workers=2, env={"IDP_MANAGEMENT_PORT": str(management_port)}) as idp:
        assert get(f"{idp.url}/metrics", Host=f"localhost:{management_port}").status_code == 404
        assert get(f"{management}/metrics").status_code == 200
        assert get(f"{management}/health/ready").json()["status"] == "UP"
        # The management port serves nothing a member or relying party uses.
        assert get(f"{management}/realms/{REALM}/.well-known/openid-configuration").status_code == 404
        assert get(f"{idp.url}/realms/{REALM}/.well-known/openid-configuration").status_code == 200


def test_under_gunicorn_every_scrape_reports_the_sign_ins_of_all_workers(tmp_path, management_port):
    with IdpServer(tmp_path, workers=2, env={"IDP_MANAGEMENT_PORT": str(management_port)}) as idp:
        idp.add_member(USERNAME, PASSWORD)
        for _ in range(4):
            sign_in(idp)

        for _ in range(4):
            scraped = get(f"http://127.0.0.1:{management_port}/metrics").text.splitlines()
            assert f'idp_logins_total{{realm="{REALM}",result="success"}} 4' in scraped


def test_without_a_management_port_the_main_port_answers_metrics(tmp_path):
    with IdpServer(tmp_path) as idp:
        assert get(f"{idp.url}/metrics").status_code == 200


def test_serve_refuses_a_management_port_equal_to_the_main_port(tmp_path):
    env = {"IDP_MANAGEMENT_PORT": "8088", "IDP_DATABASE_URL": f"sqlite:///{tmp_path / 'idp.db'}",
           "IDP_SECRET_KEY": "management-port-test-secret-key"}

    result = CliRunner().invoke(main, ["serve", "--port", "8088"], env=env)

    assert result.exit_code != 0
    assert "IDP_MANAGEMENT_PORT (8088) must differ from --port" in result.output
    assert not (tmp_path / "idp.db").exists()  # refused before migrating anything


@pytest.mark.parametrize("value, problem", [("70000", "must be a TCP port"), ("-1", "must be a TCP port"),
                                            ("metrics", "must be a whole number")])
def test_a_management_port_that_is_no_port_stops_the_start_naming_the_variable(value, problem):
    with pytest.raises(SettingsError, match=f"IDP_MANAGEMENT_PORT {problem}"):
        Settings.from_env({"IDP_MANAGEMENT_PORT": value, "IDP_SECRET_KEY": "management-port-test-secret-key"})
