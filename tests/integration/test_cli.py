"""An operator at the terminal: `idp realm`, `idp user` and `idp keys`, each mistake one clear line."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from idp.config import CHECKOUT
from idp.db.models import Client, Realm, SigningKey, User
from idp.db.users import check_password, get_user, password_credential
from idp.realms import find_realm
from tests.support.cli import cli, one_error_line
from tests.support.settings import make_settings

KEYCLOAK_EXPORT = Path(__file__).resolve().parent.parent / "fixtures" / "keycloak" / "kosmo-kc-realm.json"
DEMO_REALM = CHECKOUT / "realm-config" / "kosmo-demo.yaml"


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path, flows_dir=tmp_path / "flows")


@pytest.fixture
def idp(settings):
    """Run `idp ...` against a fresh SQLite database."""
    return cli(settings)


@pytest.fixture
def database(migrated_database):
    """No realms here: each test imports what it needs."""
    return migrated_database


def count(database, model, *where) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_commands_migrate_a_fresh_database_themselves(idp):
    result = idp("realm", "list")
    assert result.exit_code == 0, result.output
    assert result.output == "no realms yet (idp realm import FILE)\n"
    assert idp("db", "upgrade").output == "database is up to date\n"


def test_a_realm_yaml_file_is_imported_listed_and_exported_without_secrets(idp, database):
    result = idp("realm", "import", str(DEMO_REALM))
    assert result.exit_code == 0, result.output
    assert result.output == f"realm kosmo-demo: imported from {DEMO_REALM} (2 clients)\n"
    assert idp("realm", "list").output == "kosmo-demo\tKOSMO Web デモ健康保険組合\t2 clients\t0 users\n"
    exported = idp("realm", "export", "kosmo-demo")
    assert exported.exit_code == 0
    assert "realm: kosmo-demo\n" in exported.output
    assert "sha256: " in exported.output
    assert "demo-portal-secret-change-me" not in exported.output
    assert "KOSMO_PORTAL_SECRET" not in exported.output
    assert count(database, SigningKey) == 1


def test_a_keycloak_export_is_imported_with_its_members(idp, database, settings):
    result = idp("realm", "import", str(KEYCLOAK_EXPORT))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"realm kosmo-kc: imported from Keycloak export {KEYCLOAK_EXPORT} (3 clients, 5 users)\n"
    assert "note: clients[5] (clientId 'https://sp.example.jp/saml'): skipped" in result.stderr
    assert idp("realm", "list").output == "kosmo-kc\tKOSMO 健康保険組合\t3 clients\t5 users\n"
    with database.session() as session:
        tanaka = get_user(session, find_realm(session, "kosmo-kc"), "tanaka01")
        assert check_password(session, tanaka, "Sakura-2024", settings)


def test_a_bad_keycloak_export_changes_nothing_and_says_which_entry(idp, database, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(KEYCLOAK_EXPORT.read_text().replace('"pbkdf2-sha512', '"md5'), encoding="utf-8")
    line = one_error_line(idp("realm", "import", str(bad)))
    assert line == (
        f"{bad}: users[1] (username 'suzuki02'): credentials[0].credentialData.algorithm: must be 'argon2', 'pbkdf2', "
        "'pbkdf2-sha256' or 'pbkdf2-sha512', not 'md5'; nothing was imported"
    )
    assert count(database, Realm) == 0
    assert count(database, User) == 0


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("realm.txt", "realm: x\n", "give a .yaml/.yml realm file or a Keycloak .json export"),
        ("broken.json", "{", "not valid JSON"),
        ("realm.yaml", "realm: Bad Name\n", "realm: "),
    ],
)
def test_an_unreadable_realm_file_is_one_error_line(idp, database, tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert expected in one_error_line(idp("realm", "import", str(path)))
    assert count(database, Realm) == 0


def test_an_unknown_realm_is_named_in_the_error(idp):
    assert one_error_line(idp("realm", "export", "nowhere")) == "no realm named 'nowhere' (see `idp realm list`)"
    assert one_error_line(idp("keys", "rotate", "nowhere")) == "no realm named 'nowhere' (see `idp realm list`)"
    line = one_error_line(idp("user", "show", "--realm", "nowhere", "someone"))
    assert line == "no realm named 'nowhere' (see `idp realm list`)"


def test_an_operator_adds_a_member_with_a_temporary_password_and_shows_them(idp, database, settings):
    idp("realm", "import", str(DEMO_REALM))
    result = idp(
        "user", "add", "--realm", "kosmo-demo", "Yamada01", "--email", "Yamada@Example.jp",
        "--first-name", "太郎", "--last-name", "山田", "--birthdate", "1980-04-01",
        "--password-stdin", "--temporary", input="Initial-pass-1\n",
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("realm kosmo-demo: added user yamada01 (")
    with database.session() as session:
        member = get_user(session, find_realm(session, "kosmo-demo"), "yamada01")
        assert member.email == "yamada@example.jp"
        assert password_credential(member).temporary
        assert check_password(session, member, "Initial-pass-1", settings)
    shown = idp("user", "show", "--realm", "kosmo-demo", "YAMADA01").output
    assert "username: yamada01\n" in shown
    assert "name: 山田 太郎\n" in shown
    assert "birthdate: 1980-04-01\n" in shown
    assert "credential: password argon2 temporary" in shown
    assert "salt" not in shown and "value" not in shown


def test_a_password_can_be_typed_at_a_prompt(idp, database, settings):
    idp("realm", "import", str(DEMO_REALM))
    result = idp("user", "add", "--realm", "kosmo-demo", "prompt01", "--password", input="Typed-pass-1\nTyped-pass-1\n")
    assert result.exit_code == 0, result.output
    with database.session() as session:
        member = get_user(session, find_realm(session, "kosmo-demo"), "prompt01")
        assert check_password(session, member, "Typed-pass-1", settings)


def test_a_password_the_policy_refuses_adds_nobody(idp, database):
    idp("realm", "import", str(DEMO_REALM))
    line = one_error_line(idp("user", "add", "--realm", "kosmo-demo", "short001", "--password-stdin", input="abc\n"))
    assert line.startswith("the realm's password policy refuses this password: パスワードは8文字以上")
    assert count(database, User, User.username == "short001") == 0


def test_a_taken_user_id_or_email_is_refused(idp, database):
    idp("realm", "import", str(DEMO_REALM))
    idp("user", "add", "--realm", "kosmo-demo", "member01", "--email", "m@example.jp")
    line = one_error_line(idp("user", "add", "--realm", "kosmo-demo", "MEMBER01"))
    assert line == "realm kosmo-demo: another user already has username 'member01'"
    line = one_error_line(idp("user", "add", "--realm", "kosmo-demo", "member02", "--email", "M@example.JP"))
    assert line == "realm kosmo-demo: another user already has email 'm@example.jp'"
    assert count(database, User, User.service_account_client_id.is_(None)) == 1


def test_a_user_id_with_spaces_is_refused(idp):
    idp("realm", "import", str(DEMO_REALM))
    assert "without spaces" in one_error_line(idp("user", "add", "--realm", "kosmo-demo", "two words"))


def test_set_password_checks_the_realms_history_policy(idp, database, settings):
    idp("realm", "import", str(KEYCLOAK_EXPORT))
    # The Keycloak realm has passwordHistory(3): the current password cannot come back.
    line = one_error_line(idp("user", "set-password", "--realm", "kosmo-kc", "tanaka01", "--password-stdin",
                              input="Sakura-2024\n"))
    assert line.startswith("the realm's password policy refuses this password: ")
    result = idp("user", "set-password", "--realm", "kosmo-kc", "tanaka01", "--password-stdin", "--temporary",
                 input="Sakura-2025\n")
    assert result.exit_code == 0, result.output
    assert result.output == "realm kosmo-kc: password of tanaka01 set (temporary)\n"
    with database.session() as session:
        tanaka = get_user(session, find_realm(session, "kosmo-kc"), "tanaka01")
        assert check_password(session, tanaka, "Sakura-2025", settings)
        assert not check_password(session, tanaka, "Sakura-2024", settings)
    unknown = idp("user", "set-password", "--realm", "kosmo-kc", "unknown", "--password-stdin", input="x\n")
    assert "unknown" in one_error_line(unknown)


def test_rotating_keys_keeps_the_old_key_published(idp, database):
    idp("realm", "import", str(DEMO_REALM))
    with database.session() as session:
        old_kid = session.scalar(select(SigningKey.kid))
    result = idp("keys", "rotate", "kosmo-demo")
    assert result.exit_code == 0, result.output
    with database.session() as session:
        keys = {key.kid: key for key in session.scalars(select(SigningKey))}
    new_kid = next(kid for kid in keys if kid != old_kid)
    assert result.output.startswith(f"realm kosmo-demo: new signing key {new_kid} (RS256)")
    assert keys[new_kid].active and not keys[old_kid].active
    assert keys[old_kid].publish_until is not None


def test_the_built_in_account_console_survives_a_reimport_and_is_not_exported(idp, database, settings):
    from idp.setup import prepare

    assert idp("realm", "import", str(DEMO_REALM)).exit_code == 0
    prepare(settings, database)
    assert idp("realm", "import", str(DEMO_REALM)).exit_code == 0

    assert count(database, Client, Client.client_id == "account-console") == 1
    assert "account-console" not in idp("realm", "export", "kosmo-demo").output
    with database.session() as session:
        console = session.scalar(select(Client).where(Client.client_id == "account-console"))
        assert console.name == "アカウント管理"  # the theme's account.title, shown among a session's services
