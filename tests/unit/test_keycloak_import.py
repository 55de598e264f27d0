"""Importing a Keycloak 26 realm export: settings, clients, members and their credentials, all or nothing."""
from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import make_settings
from idp.db.models import Client, Credential, Realm, User
from idp.db.users import check_password, create_user, find_user, otp_key, password_credential
from idp.realms import client_secret_matches, save_realm
from idp.realms.export import export_realm, realm_yaml
from idp.realms.keycloak import KeycloakImportError, import_file, parse_export, read_export, write_import
from idp.realms.schema import RealmConfig
from idp.yamlfile import load_model

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "keycloak"
EXPORT = FIXTURES / "kosmo-kc-realm.json"


@pytest.fixture
def settings(tmp_path, database_url):
    flows = tmp_path / "flows"
    flows.mkdir()
    return make_settings(tmp_path, database_url=database_url, flows_dir=flows)


@pytest.fixture
def database(migrated_database):
    """No realms here: each test imports what it needs."""
    return migrated_database


@pytest.fixture
def export() -> dict:
    return json.loads(EXPORT.read_text(encoding="utf-8"))


@pytest.fixture
def imported(database, settings):
    with database.session() as session:
        realm, _ = import_file(session, EXPORT, settings)
    return realm


def user_entry(export: dict, username: str) -> dict:
    return next(u for u in export["users"] if u["username"] == username)


def refusal(export: dict, settings) -> str:
    with pytest.raises(KeycloakImportError) as refused:
        parse_export(export, settings)
    return str(refused.value)


# Realm settings and clients


def test_realm_settings_are_carried_over_under_their_keycloak_meaning(export, settings):
    config = parse_export(export, settings).config
    assert config.realm == "kosmo-kc"
    assert config.display_name == "KOSMO 健康保険組合"
    assert config.password_policy == "length(8) and maxLength(64) and notUsername(undefined) and passwordHistory(3)"
    assert config.browser_flow == "browser"
    assert config.remember_me is True
    assert (config.tokens.access_token_lifespan, config.tokens.access_code_lifespan, config.tokens.login_timeout) == (600, 90, 1800)
    assert (config.tokens.sso_session_idle_timeout, config.tokens.sso_session_max_lifespan) == (3600, 43200)
    assert (config.tokens.remember_me_idle_timeout, config.tokens.remember_me_max_lifespan) == (604800, 2592000)
    assert config.tokens.revoke_refresh_token is True
    assert config.tokens.signature_algorithm == "RS256"
    assert config.brute_force.enabled is True
    assert config.brute_force.failure_factor == 5
    assert config.brute_force.max_failure_wait_seconds == 900
    assert (config.email.from_address, config.email.from_display_name) == ("no-reply@kosmo-kc.example.jp", "KOSMO Web")


def test_a_realm_without_a_password_policy_keeps_having_none(export, settings):
    del export["passwordPolicy"]
    assert parse_export(export, settings).config.password_policy == ""


def test_keycloaks_own_clients_are_left_out_and_saml_clients_are_noted(export, settings):
    parsed = parse_export(export, settings)
    assert [c.client_id for c in parsed.config.clients] == ["kosmo-portal", "kosmo-app", "kosmo-batch"]
    assert parsed.notes[0] == "clients[5] (clientId 'https://sp.example.jp/saml'): skipped, saml clients are not supported"


def test_a_confidential_client_keeps_its_secret_only_as_a_hash(imported, database):
    with database.session() as session:
        portal = session.scalar(select(Client).where(Client.client_id == "kosmo-portal"))
        assert client_secret_matches(portal, "portal-secret-0123456789abcdef")
        assert not client_secret_matches(portal, "portal-secret-wrong")
        realm = session.get(Realm, imported.id)
        assert "portal-secret-0123456789abcdef" not in json.dumps(realm.config)


def test_client_uris_are_resolved_like_keycloak_resolves_them(imported, database):
    with database.session() as session:
        clients = {c.client_id: c for c in session.scalars(select(Client))}
    portal, app = clients["kosmo-portal"], clients["kosmo-app"]
    assert portal.redirect_uris == [
        "https://kenpo.portal.example.jp/callback",
        "https://kenpo.portal.example.jp/login/callback",  # relative to rootUrl
    ]
    assert portal.post_logout_redirect_uris == ["https://kenpo.portal.example.jp/", "https://kenpo.portal.example.jp/bye"]
    assert portal.web_origins == ["https://kenpo.portal.example.jp"]  # "+": the redirect URIs' origins
    assert portal.base_url == "https://kenpo.portal.example.jp/"
    assert portal.pkce_required and not portal.public
    assert app.public and app.pkce_required and app.direct_access_grants
    assert app.post_logout_redirect_uris == app.redirect_uris  # "+": the redirect URIs
    assert clients["kosmo-batch"].service_account and not clients["kosmo-batch"].standard_flow


def test_a_clients_service_account_keeps_its_realm_roles(imported, database):
    with database.session() as session:
        account = session.scalar(select(User).where(User.username == "service-account-kosmo-batch"))
        assert account.service_account_client_id == "kosmo-batch"
        assert account.roles == ["default-roles-kosmo-kc", "member-sync"]


@pytest.mark.parametrize(
    "uri", ["https://kenpo.portal.example.jp/*", "*", "/app/*"], ids=["trailing", "any", "relative"]
)
def test_a_wildcard_redirect_uri_is_refused_naming_the_client(export, settings, uri):
    export["clients"][2]["redirectUris"].append(uri)
    message = refusal(export, settings)
    assert message.startswith(f"clients[2] (clientId 'kosmo-portal'): redirectUris {uri!r} has a wildcard")
    assert "matched exactly" in message


def test_a_masked_client_secret_is_refused(export, settings):
    export["clients"][2]["secret"] = "**********"
    assert "clients[2] (clientId 'kosmo-portal'): the export has no client secret" in refusal(export, settings)


def test_a_client_with_plain_pkce_is_refused(export, settings):
    export["clients"][3]["attributes"]["pkce.code.challenge.method"] = "plain"
    assert refusal(export, settings).startswith("clients[3] (clientId 'kosmo-app'): ")


def test_a_custom_browser_flow_needs_its_yaml_file(export, settings):
    export["browserFlow"] = "kosmo-member"
    assert refusal(export, settings).startswith("realm setting browserFlow: flow 'kosmo-member' has no file kosmo-member.yaml")
    (settings.flows_dir / "kosmo-member.yaml").write_text("flow: kosmo-member\n")
    assert parse_export(export, settings).config.browser_flow == "kosmo-member"


def test_a_realm_setting_out_of_range_is_named_by_its_keycloak_key(export, settings):
    export["accessTokenLifespan"] = 5
    assert refusal(export, settings).startswith("realm setting accessTokenLifespan: ")


def test_a_realm_name_that_cannot_be_a_url_path_here_is_refused(export, settings):
    export["realm"] = "Kosmo KC"
    assert refusal(export, settings).startswith("realm setting realm: ")


# Members and credentials


def test_members_keep_profile_roles_attributes_and_pending_actions(imported, database):
    with database.session() as session:
        tanaka = find_user(session, imported, "tanaka01")
        assert (tanaka.last_name, tanaka.first_name, tanaka.email, tanaka.email_verified) == ("田中", "太郎", "tanaka@example.jp", True)
        assert tanaka.birthdate == date(1980, 4, 1)
        assert tanaka.attributes == {"memberNumber": ["0012345"]}
        assert tanaka.roles == ["default-roles-kosmo-kc", "insured"]
        assert tanaka.client_roles == {"kosmo-portal": ["member"]}
        assert [a.action for a in tanaka.required_actions] == ["TERMS_AND_CONDITIONS"]
        assert tanaka.created_at.year == 2024
        suzuki = find_user(session, imported, "suzuki@example.jp")
        assert suzuki.email == "suzuki@example.jp"  # Keycloak lower-cases emails too
        kato = find_user(session, imported, "kato04")
        assert kato.enabled is False and kato.email is None
        assert [a.action for a in find_user(session, imported, "sato03").required_actions] == ["UPDATE_PASSWORD"]


@pytest.mark.parametrize(
    "username, password, algorithm",
    [
        ("tanaka01", "Sakura-2024", "pbkdf2-sha256"),
        ("suzuki02", "Momiji-2023", "pbkdf2-sha512"),
        ("sato03", "Kaede-2025", "argon2"),
        ("kato04", "Ume-2018!", "pbkdf2"),
    ],
)
def test_keycloak_password_hashes_sign_in_and_are_rehashed(imported, database, settings, username, password, algorithm):
    with database.session() as session:
        member = find_user(session, imported, username)
        assert password_credential(member).credential_data["algorithm"] == algorithm
        assert check_password(session, member, password + "x", settings) is False
        assert check_password(session, member, password, settings) is True
    with database.session() as session:
        credential = password_credential(find_user(session, imported, username))
        assert credential.credential_data["algorithm"] == "argon2"
        assert credential.credential_data["additionalParameters"]["memory"] == [str(settings.argon2_memory_kib)]


def test_otp_secrets_keep_the_key_keycloak_used(imported, database, settings):
    with database.session() as session:
        typed = next(c for c in find_user(session, imported, "tanaka01").credentials if c.type == "otp")
        base32 = next(c for c in find_user(session, imported, "suzuki02").credentials if c.type == "otp")
        assert "gbNkR1c8Ch3eFzYTCBrn" not in typed.secret_data["value"]  # encrypted at rest
        assert otp_key(typed, settings) == b"gbNkR1c8Ch3eFzYTCBrn"
        assert typed.credential_data == {
            "subType": "totp", "digits": 6, "period": 30, "counter": 0, "algorithm": "HmacSHA1", "secretEncoding": None,
        }
        assert typed.user_label == "iPhone"
        assert otp_key(base32, settings) == b"Hello!\xde\xad\xbe\xef"
        assert base32.credential_data["secretEncoding"] == "BASE32"


def test_passkeys_are_skipped_with_a_note(export, settings):
    parsed = parse_export(export, settings)
    sato = next(member for _, member in parsed.users if member.username == "sato03")
    assert [c.type for c in sato.credentials] == ["password"]
    assert "users: 1 webauthn credential(s) skipped; those members set them up again" in parsed.notes


def test_a_plain_password_value_is_hashed_on_import(export, settings):
    user_entry(export, "kato04")["credentials"] = [{"type": "password", "value": "Plain-pass-1", "temporary": True}]
    kato = next(member for _, member in parse_export(export, settings).users if member.username == "kato04")
    assert kato.credentials[0].credential_data["algorithm"] == "argon2"
    assert kato.credentials[0].temporary is True
    assert "Plain-pass-1" not in json.dumps(kato.credentials[0].secret_data)


def test_an_unknown_password_algorithm_is_refused_naming_the_user_and_credential(export, settings):
    credential = user_entry(export, "suzuki02")["credentials"][0]
    credential["credentialData"] = json.dumps({"hashIterations": 1, "algorithm": "md5", "additionalParameters": {}})
    assert refusal(export, settings) == "users[1] (username 'suzuki02'): credentials[0]: unknown password algorithm 'md5'"


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda u: u["credentials"][1].update(secretData='{"value":"not base32!"}',
                                              credentialData='{"subType":"totp","digits":6,"counter":0,"period":30,"algorithm":"HmacSHA1","secretEncoding":"BASE32"}'),
         "credentials[1]: OTP secret is marked BASE32 but is not base32"),
        (lambda u: u["credentials"][1].update(credentialData='{"subType":"totp","digits":7,"period":30,"algorithm":"HmacSHA1"}'),
         "credentials[1]: OTP digits must be 6 or 8, not 7"),
        (lambda u: u["credentials"][0].update(secretData='{"value":"%%%","salt":"AAAA"}'),
         "credentials[0]: secretData.value is not base64"),
        (lambda u: u["credentials"][0].update(secretData="{not json"),
         "credentials[0]: secretData is not valid JSON"),
        (lambda u: u.update(requiredActions=["MAKE_COFFEE"]), "unknown required action 'MAKE_COFFEE'"),
        (lambda u: u.update(attributes={"birthdate": ["1 April 1980"]}), "attribute birthdate '1 April 1980' is not a date"),
        (lambda u: u.update(createdTimestamp="yesterday"), "createdTimestamp 'yesterday' is not a time in milliseconds"),
        (lambda u: u.update(username=""), "a user needs a username"),
    ],
    ids=["bad-base32", "digits", "hash-not-base64", "secret-not-json", "required-action", "birthdate", "created", "no-username"],
)
def test_a_bad_member_entry_is_refused_naming_it(export, settings, change, expected):
    change(user_entry(export, "tanaka01"))
    assert refusal(export, settings).startswith(f"users[0] (username {export['users'][0]['username']!r}): " + expected)


def test_an_entry_that_is_not_an_object_is_refused(export, settings):
    export["users"].insert(2, "tanaka01")
    assert refusal(export, settings) == "users[2]: a user entry must be a JSON object"


def test_two_entries_for_one_member_are_refused_naming_both(export, settings):
    user_entry(export, "suzuki02")["username"] = "TANAKA01"
    assert refusal(export, settings) == "users[1] (username 'TANAKA01'): username 'tanaka01' is also used by users[0] (username 'tanaka01')"
    user_entry(export, "TANAKA01")["username"] = "suzuki02"
    user_entry(export, "suzuki02")["email"] = "TANAKA@example.jp"
    assert refusal(export, settings) == "users[1] (username 'suzuki02'): email 'tanaka@example.jp' is also used by users[0] (username 'tanaka01')"


def test_a_bad_entry_anywhere_leaves_the_database_untouched(database, settings, tmp_path, export):
    user_entry(export, "kato04")["credentials"][0]["credentialData"] = '{"algorithm":"md5","hashIterations":1}'
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(export), encoding="utf-8")
    with pytest.raises(KeycloakImportError, match=r"users\[3\] \(username 'kato04'\)"):
        with database.session() as session:
            import_file(session, bad, settings)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Realm)) == 0
        assert session.scalar(select(func.count()).select_from(User)) == 0


def test_a_member_who_already_exists_stops_the_whole_import(database, settings, export):
    existing = save_realm_from_fixture(database, settings, export)
    with database.session() as session:
        create_user(session, existing, "Kato04", settings=settings)
    parsed = parse_export(export, settings)
    with pytest.raises(KeycloakImportError, match=r"users\[3\] \(username 'kato04'\): a user with username 'kato04' already exists"):
        with database.session() as session:
            write_import(session, parsed)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(User).where(User.service_account_client_id.is_(None))) == 1
        assert session.scalar(select(func.count()).select_from(Credential)) == 0


def save_realm_from_fixture(database, settings, export) -> Realm:
    with database.session() as session:
        return save_realm(session, parse_export(export, settings).config)


def test_users_exported_to_separate_files_are_read_with_the_realm(database, settings):
    realm_export, user_files = read_export(FIXTURES / "split-realm.json")
    parsed = parse_export(realm_export, settings, user_files)
    assert [member.username for _, member in parsed.users] == ["member-a", "member-b"]
    with database.session() as session:
        realm = write_import(session, parsed)
    with database.session() as session:
        assert check_password(session, find_user(session, realm, "a@example.jp"), "Split-pass-1", settings)


def test_an_export_holding_several_realms_is_refused(tmp_path, export):
    both = tmp_path / "all.json"
    both.write_text(json.dumps([export, copy.deepcopy(export)]), encoding="utf-8")
    with pytest.raises(KeycloakImportError, match="holds 2 realms"):
        read_export(both)


def test_broken_json_is_refused_with_its_position(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"realm": "x",\n  "users": [}', encoding="utf-8")
    with pytest.raises(KeycloakImportError, match=r"broken.json:2:\d+: not valid JSON"):
        read_export(broken)


# Export back to YAML


def test_the_yaml_export_loads_back_as_the_same_realm_without_any_secret(imported, database, tmp_path):
    with database.session() as session:
        text = realm_yaml(export_realm(session, session.get(Realm, imported.id)))
    assert "portal-secret" not in text and "batch-secret" not in text
    path = tmp_path / "kosmo-kc.yaml"
    path.write_text(text, encoding="utf-8")
    config = load_model(RealmConfig, path)
    portal = next(c for c in config.clients if c.client_id == "kosmo-portal")
    assert portal.secret.sha256 and portal.pkce_required
    assert config.tokens.access_token_lifespan == 600
    assert config.display_name == "KOSMO 健康保険組合"
