"""An operator migrating a society from Keycloak at the terminal: `idp realm import --dry-run` says
what would change and writes nothing, the `different_files` folder imports whole, `--terms-version`
and `--mapping` carry first-sign-in progress over, and a broken or partial export changes nothing."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from idp.db import models
from idp.db.models import TermsAcceptance, User
from idp.db.users import check_password, find_user
from idp.realms import find_realm
from tests.support.cli import cli, one_error_line
from tests.support.settings import make_settings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "keycloak"
EXPORT = FIXTURES / "kosmo-kc-realm.json"
SPLIT = FIXTURES / "different-files"


@pytest.fixture
def settings(tmp_path, database_url):
    return make_settings(tmp_path, database_url=database_url, flows_dir=tmp_path / "flows")


@pytest.fixture
def idp(settings, migrated_database):
    return cli(settings)


def snapshot(database) -> dict[str, int]:
    """How many rows each table holds."""
    with database.session() as session:
        return {table.name: session.scalar(select(func.count()).select_from(table))
                for table in models.Base.metadata.sorted_tables}


def test_a_dry_run_prints_what_would_change_and_writes_nothing(idp, migrated_database):
    before = snapshot(migrated_database)

    result = idp("realm", "import", "--dry-run", str(EXPORT))

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"dry run of Keycloak export {EXPORT}: nothing was written",
        "realm kosmo-kc: would be created",
        "clients: would create 3 (kosmo-portal, kosmo-app, kosmo-batch); would update 0; would remove 0",
        "users: would create 5 (tanaka01, suzuki02, sato03, kato04, ito05)",
        "credentials: would add 2 otp, 5 password, 2 webauthn",
        "terms acceptances: would add 1",
        "pending required actions: would add 2",
        "skipped: smtpServer: host, port and login not carried over; mail goes out through IDP_MAIL_URL",
        "skipped: groups: attributes of '/組合員' not carried over; members keep their group paths",
        "skipped: clients[5] (clientId 'https://sp.example.jp/saml'): skipped, saml clients are not supported",
        "skipped: users: 2 accepted Keycloak's terms (terms_and_conditions) but no --terms-version says which of "
        "your versions that was; they agree again at the next sign-in",
    ]
    assert snapshot(migrated_database) == before


def test_a_dry_run_of_an_export_already_imported_refuses_as_the_import_would(idp, migrated_database):
    assert idp("realm", "import", str(EXPORT)).exit_code == 0
    before = snapshot(migrated_database)

    line = one_error_line(idp("realm", "import", "--dry-run", str(EXPORT)))

    assert line == (f"{EXPORT}: users[0] (username 'tanaka01'): a user with id '00000000-0000-0000-0000-0000000000c9' "
                    "already exists (imported before?); nothing was imported")
    assert snapshot(migrated_database) == before


def test_the_folder_kc_sh_export_wrote_with_different_files_is_imported_whole(idp, migrated_database, settings):
    dry = idp("realm", "import", "--dry-run", str(SPLIT))
    assert "users: would create 3 (member-a, member-b, member-c)" in dry.output
    assert "skipped: federated users: 1 skipped;" in dry.output

    result = idp("realm", "import", str(SPLIT))

    assert result.exit_code == 0, result.output
    assert result.stdout == f"realm kosmo-split: imported from Keycloak export {SPLIT} (0 clients, 3 users)\n"
    assert "note: federated users: 1 skipped" in result.stderr
    with migrated_database.session() as session:
        realm = find_realm(session, "kosmo-split")
        assert check_password(session, find_user(session, realm, "c@example.jp"), "Split-pass-3", settings)


def test_a_broken_user_file_changes_nothing_and_names_the_file(idp, migrated_database, tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(SPLIT, folder)
    (folder / "kosmo-split-users-1.json").write_text('{"realm": "kosmo-split", "users": [', encoding="utf-8")
    before = snapshot(migrated_database)

    line = one_error_line(idp("realm", "import", str(folder)))

    assert line.startswith(f"{folder}: {folder / 'kosmo-split-users-1.json'}:1:")
    assert line.endswith("nothing was imported") and "not valid JSON" in line
    assert snapshot(migrated_database) == before


def test_a_member_entry_broken_late_in_the_export_changes_nothing(idp, migrated_database, tmp_path):
    export = json.loads(EXPORT.read_text(encoding="utf-8"))
    export["users"][4]["credentials"][1]["credentialData"] = '{"credentialId":"AAEC","credentialPublicKey":"AAEC"}'
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(export), encoding="utf-8")
    before = snapshot(migrated_database)

    line = one_error_line(idp("realm", "import", str(bad)))

    assert line == (f"{bad}: users[4] (username 'ito05'): credentials[1].credentialData.credentialPublicKey: not "
                    "a COSE public key; nothing was imported")
    assert snapshot(migrated_database) == before


def test_a_file_holding_several_realms_imports_each_or_none(idp, migrated_database, settings, tmp_path):
    export = json.loads(EXPORT.read_text(encoding="utf-8"))
    split = json.loads((SPLIT / "kosmo-split-realm.json").read_text(encoding="utf-8"))
    split["users"] = json.loads((SPLIT / "kosmo-split-users-1.json").read_text(encoding="utf-8"))["users"]
    split["users"][0]["requiredActions"] = ["MAKE_COFFEE"]
    realms = tmp_path / "realms.json"
    realms.write_text(json.dumps([export, split]), encoding="utf-8")
    before = snapshot(migrated_database)

    line = one_error_line(idp("realm", "import", str(realms)))

    assert line.startswith(f"{realms}: [1] (realm 'kosmo-split'): users[0] (username 'member-c'): requiredActions[0]: ")
    assert snapshot(migrated_database) == before  # kosmo-kc, valid on its own, is not written either

    split["users"][0]["requiredActions"] = []
    realms.write_text(json.dumps([export, split]), encoding="utf-8")
    dry = idp("realm", "import", "--dry-run", str(realms)).output.splitlines()
    assert [line for line in dry if line.startswith(("dry run", "realm "))] == [
        f"dry run of Keycloak export {realms}: nothing was written",
        "realm kosmo-kc: would be created", "realm kosmo-split: would be created"]

    result = idp("realm", "import", str(realms))

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"realm kosmo-kc: imported from Keycloak export {realms} (3 clients, 5 users)",
        f"realm kosmo-split: imported from Keycloak export {realms} (0 clients, 1 users)"]
    assert "note: [0] (realm 'kosmo-kc'): clients[5] " in result.stderr
    with migrated_database.session() as session:
        assert check_password(session, find_user(session, find_realm(session, "kosmo-kc"), "tanaka01"), "Sakura-2024",
                              settings)
        assert check_password(session, find_user(session, find_realm(session, "kosmo-split"), "member-c"),
                              "Split-pass-3", settings)


def test_strict_refuses_an_export_with_anything_not_carried_over_and_changes_nothing(idp, migrated_database, tmp_path):
    before = snapshot(migrated_database)

    line = one_error_line(idp("realm", "import", "--strict", str(EXPORT)))

    assert line == (f"{EXPORT}: --strict: smtpServer: host, port and login not carried over; mail goes out through "
                    "IDP_MAIL_URL (and 3 more; --dry-run lists them); nothing was imported")
    assert snapshot(migrated_database) == before

    clean = json.loads((SPLIT / "kosmo-split-realm.json").read_text(encoding="utf-8"))
    path = tmp_path / "kosmo-split.json"
    path.write_text(json.dumps(clean), encoding="utf-8")
    assert idp("realm", "import", "--strict", str(path)).exit_code == 0


def test_terms_accepted_in_keycloak_count_as_the_version_the_operator_names(idp, migrated_database):
    result = idp("realm", "import", "--terms-version", "2024-10", str(EXPORT))

    assert result.exit_code == 0, result.output
    assert "terms_and_conditions" not in result.stderr
    with migrated_database.session() as session:
        accepted = dict(session.execute(select(User.username, TermsAcceptance.version).join(
            TermsAcceptance, TermsAcceptance.user_id == User.id)).all())
    assert accepted == {"tanaka01": "2024-10", "suzuki02": "2024-10", "ito05": "2024-10"}


def test_a_society_with_its_own_attribute_names_imports_with_a_mapping_file(idp, migrated_database, tmp_path):
    export = json.loads(EXPORT.read_text(encoding="utf-8"))
    export["users"][3]["attributes"] = {"id_henkou_zumi": ["true"], "ninshou_houhou": ["otp"]}
    path = tmp_path / "kosmo-kc-realm.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("user_id_chosen: id_henkou_zumi\nsecond_factor: ninshou_houhou\n", encoding="utf-8")

    assert idp("realm", "import", "--mapping", str(mapping), str(path)).exit_code == 0

    with migrated_database.session() as session:
        kato = session.scalar(select(User).where(User.username == "kato04"))
        assert kato.user_id_chosen_at is not None and kato.second_factor == "totp" and kato.attributes == {}


def test_a_mapping_file_with_an_unknown_key_is_one_error_line_and_changes_nothing(idp, migrated_database, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("user_id_chosen: id_henkou_zumi\nbirthday: seinengappi\n", encoding="utf-8")
    before = snapshot(migrated_database)

    line = one_error_line(idp("realm", "import", "--mapping", str(mapping), str(EXPORT)))

    assert line.startswith(f"{mapping}:2:1: birthday: ")
    assert snapshot(migrated_database) == before


def test_user_show_lists_the_keycloak_group_paths_a_migrated_member_kept(idp, migrated_database):
    assert idp("realm", "import", str(EXPORT)).exit_code == 0
    shown = idp("user", "show", "--realm", "kosmo-kc", "tanaka01").output
    assert "groups: /組合員\n" in shown
    assert "groups:" not in idp("user", "show", "--realm", "kosmo-kc", "kato04").output
