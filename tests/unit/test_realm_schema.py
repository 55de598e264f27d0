"""Realm files: the shipped demo realm validates, and each operator mistake names file:line:col."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from idp.config import CHECKOUT
from idp.realms import load_realm_dir, load_realm_file
from idp.realms.schema import ClientConfig, RealmConfig
from idp.yamlfile import ConfigFileError

PORTAL = """\
realm: kosmo-test
clients:
  - client_id: kosmo-portal
    secret:
      env: KOSMO_PORTAL_SECRET
    redirect_uris:
      - http://localhost:8081/callback
"""


def realm_problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "kosmo-test.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigFileError) as caught:
        load_realm_file(path)
    prefix = f"{path}:"
    assert all(str(problem).startswith(prefix) for problem in caught.value.problems)
    return [str(problem)[len(prefix):] for problem in caught.value.problems]


def test_the_shipped_demo_realm_validates():
    config = load_realm_file(CHECKOUT / "realm-config" / "kosmo-demo.yaml")
    assert config.realm == "kosmo-demo"
    portal = next(client for client in config.clients if client.client_id == "kosmo-portal")
    assert "http://localhost:8081/callback" in portal.redirect_uris
    assert portal.pkce_required and not portal.public


def test_every_shipped_realm_loads_as_a_set():
    assert "kosmo-demo" in {config.realm for config in load_realm_dir(CHECKOUT / "realm-config")}


def test_a_minimal_realm_gets_keycloaks_defaults(tmp_path: Path):
    path = tmp_path / "kosmo-test.yaml"
    path.write_text(PORTAL, encoding="utf-8")
    config = load_realm_file(path)
    assert config.tokens.access_token_lifespan == 300
    assert config.tokens.sso_session_idle_timeout == 1800
    assert config.brute_force.failure_factor == 30
    assert config.clients[0].grant_types == ["authorization_code", "refresh_token"]


def test_an_unknown_key_is_an_error_not_silently_ignored(tmp_path: Path):
    assert realm_problems(tmp_path, PORTAL + "remember_mee: true\n") == [
        "8:1: remember_mee: Extra inputs are not permitted"
    ]


def test_an_unknown_key_inside_a_client_points_at_it(tmp_path: Path):
    [problem] = realm_problems(tmp_path, PORTAL + "    pkce: true\n")
    assert problem.startswith("8:5: clients[0].pkce: Extra inputs are not permitted")


def test_a_wrong_type_points_at_its_key(tmp_path: Path):
    text = PORTAL + "tokens:\n  access_token_lifespan: five minutes\n"
    [problem] = realm_problems(tmp_path, text)
    assert problem.startswith("9:3: tokens.access_token_lifespan: Input should be a valid integer")


def test_keycloaks_redirect_uri_patterns_are_accepted(tmp_path: Path):
    path = tmp_path / "kosmo-test.yaml"
    patterns = ["http://localhost:8081/*", "/portal/*", "*", "com.example.app:/callback"]
    path.write_text(PORTAL.replace("      - http://localhost:8081/callback\n",
                                   "".join(f"      - {p!r}\n" for p in patterns)), encoding="utf-8")
    assert load_realm_file(path).clients[0].redirect_uris == patterns


def test_a_wildcard_keycloak_would_not_match_is_refused(tmp_path: Path):
    text = PORTAL.replace("http://localhost:8081/callback", "https://*.example.jp/callback")
    [problem] = realm_problems(tmp_path, text)
    assert problem.startswith("6:5: clients[0].redirect_uris:")
    assert "wildcard before its end" in problem


def test_a_redirect_uri_that_is_neither_absolute_nor_a_path_is_refused(tmp_path: Path):
    text = PORTAL.replace("http://localhost:8081/callback", "callback")
    [problem] = realm_problems(tmp_path, text)
    assert problem.startswith("6:5: clients[0].redirect_uris:")
    assert "'callback'" in problem


def test_a_redirect_uri_with_a_fragment_is_refused(tmp_path: Path):
    text = PORTAL.replace("/callback", "/callback#done")
    [problem] = realm_problems(tmp_path, text)
    assert problem.startswith("6:5: clients[0].redirect_uris:")


def test_a_public_client_with_a_secret_is_refused(tmp_path: Path):
    text = PORTAL.replace("  - client_id: kosmo-portal\n", "  - client_id: kosmo-portal\n    public: true\n")
    [problem] = realm_problems(tmp_path, text)
    assert problem.startswith("3:5: clients[0]:")
    assert "public client has no secret" in problem


def test_a_confidential_client_without_a_secret_is_refused(tmp_path: Path):
    text = PORTAL.replace("    secret:\n      env: KOSMO_PORTAL_SECRET\n", "")
    [problem] = realm_problems(tmp_path, text)
    assert problem.startswith("3:5: clients[0]:")
    assert "needs `secret`" in problem


def test_a_secret_from_both_a_variable_and_a_hash_is_refused(tmp_path: Path):
    text = PORTAL.replace("env: KOSMO_PORTAL_SECRET", "env: KOSMO_PORTAL_SECRET\n      sha256: " + "ab" * 32)
    [problem] = realm_problems(tmp_path, text)
    assert problem.startswith("4:5: clients[0].secret:")
    assert "exactly one" in problem


def test_a_client_id_used_twice_is_refused(tmp_path: Path):
    second = "\n".join(PORTAL.splitlines()[2:]) + "\n"
    [problem] = realm_problems(tmp_path, PORTAL + second)
    line = int(problem.split(":")[0])
    assert line in {2, 8}  # the clients list or the second entry
    assert "'kosmo-portal' appears twice" in problem


def test_a_realm_name_is_kept_exactly_upper_case_included():
    assert RealmConfig(realm="Kosmo-Demo.v2").realm == "Kosmo-Demo.v2"


@pytest.mark.parametrize("name", ["kosmo demo", "-kosmo", ".kosmo", "kosmo/demo", "", "k" * 101])
def test_a_realm_name_that_cannot_appear_in_a_url_is_refused(tmp_path: Path, name: str):
    text = PORTAL.replace("realm: kosmo-test", f"realm: {name!r}".replace("'", '"'))
    [problem] = realm_problems(tmp_path, text)
    assert problem.startswith("1:1: realm:")


def test_a_realm_name_with_a_trailing_newline_is_refused():
    with pytest.raises(ValidationError):
        RealmConfig(realm="kosmo-demo\n")


def test_a_yaml_syntax_error_in_a_realm_file_gives_its_position(tmp_path: Path):
    text = PORTAL.replace("      - http://localhost:8081/callback\n", "      - [http://localhost:8081/callback\n")
    [problem] = realm_problems(tmp_path, text)
    assert problem.startswith("8:1: YAML syntax:")


def test_a_bad_password_policy_is_reported_at_its_key(tmp_path: Path):
    [problem] = realm_problems(tmp_path, PORTAL + "password_policy: length(eight)\n")
    assert problem.startswith("8:1: password_policy:")


def test_problems_of_every_file_in_the_folder_are_reported_together(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("realm: society-a\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("realm: Society B\ncolour: red\n", encoding="utf-8")
    (tmp_path / "c.yaml").write_text("realm: society-a\n", encoding="utf-8")
    with pytest.raises(ConfigFileError) as caught:
        load_realm_dir(tmp_path)
    text = str(caught.value)
    assert f"{tmp_path / 'b.yaml'}:1:1: realm" in text
    assert f"{tmp_path / 'b.yaml'}:2:1: colour" in text
    assert "'society-a' is defined by more than one file" in text


def test_a_client_that_signs_in_members_and_serves_a_batch_has_all_its_grants():
    client = ClientConfig(
        client_id="both",
        secret={"env": "X"},
        redirect_uris=["https://a.example/cb"],
        direct_access_grants=True,
        service_account=True,
    )
    assert client.grant_types == ["authorization_code", "refresh_token", "password", "client_credentials"]
