"""An operator provisions a society's members from a CSV file with `idp members import`."""
from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from idp.config import CHECKOUT
from idp.db import Database
from idp.db.models import User
from idp.db.users import check_password, get_user, password_credential
from idp.realms import find_realm
from tests.support.cli import cli
from tests.support.settings import make_settings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "members"
DEMO_REALM = CHECKOUT / "realm-config" / "kosmo-demo.yaml"
HEADER = "user_id,initial_password,birthdate,last_name,first_name,email\n"


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path, flows_dir=tmp_path / "flows")


@pytest.fixture
def database(migrated_database):
    return migrated_database


@pytest.fixture
def idp(settings, database):
    run = cli(settings)
    assert run("realm", "import", str(DEMO_REALM)).exit_code == 0
    return run


def import_file(idp, path):
    return idp("members", "import", "--realm", "kosmo-demo", str(path))


def write_csv(tmp_path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def member(database, user_id: str) -> User | None:
    with database.session() as session:
        found = get_user(session, find_realm(session, "kosmo-demo"), user_id)
        if found is not None:
            found.credentials  # noqa: B018 - loaded while the session is open
        return found


def members_count(database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(User).where(User.service_account_client_id.is_(None)))


def problems(result) -> list[str]:
    """The `FILE:LINE: message` lines, after checking the command refused the file."""
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    *lines, last = result.stderr.splitlines()
    assert last.startswith("Error: ") and last.endswith("; nothing was imported"), last
    return lines


def assert_first_sign_in_ahead(member: User) -> None:
    assert member.birthdate_verified_at is None
    assert member.user_id_chosen_at is None
    assert member.second_factor is None
    assert member.first_login_completed_at is None
    assert member.email_verified is False
    assert password_credential(member).temporary


def test_each_row_becomes_a_member_with_a_temporary_password_and_the_first_sign_in_ahead(idp, database, settings):
    result = import_file(idp, FIXTURES / "members.csv")
    assert result.exit_code == 0, result.output
    assert result.output == "realm kosmo-demo: 3 created, 0 unchanged\n"

    yamada = member(database, "yamada01")
    assert (yamada.username, yamada.last_name, yamada.first_name) == ("yamada01", "山田", "太郎")
    assert yamada.email == "taro.yamada@example.jp"
    assert yamada.birthdate == date(1980, 4, 1)
    assert_first_sign_in_ahead(yamada)
    # The member without an address is asked for one by the update-email step.
    assert member(database, "kato0003").email is None
    assert members_count(database) == 3
    with database.session() as session:
        realm = find_realm(session, "kosmo-demo")
        assert check_password(session, get_user(session, realm, "yamada01"), "Sakura-2024", settings)
        # Shorter than the realm's policy allows: it applies when the member replaces it.
        assert check_password(session, get_user(session, realm, "suzuki02"), "ab12", settings)


def test_a_file_saved_by_excel_as_csv_utf8_with_a_bom_and_crlf_lines_is_read(idp, database, tmp_path):
    text = (FIXTURES / "members.csv").read_text(encoding="utf-8").replace("\n", "\r\n")
    path = write_csv(tmp_path, "excel.csv", text, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbfuser_id,")

    result = import_file(idp, path)
    assert result.output == "realm kosmo-demo: 3 created, 0 unchanged\n"
    assert member(database, "yamada01").last_name == "山田"


def test_dates_as_excel_writes_them_are_read(idp, database):
    result = import_file(idp, FIXTURES / "excel-dates.csv")
    assert result.output == "realm kosmo-demo: 2 created, 0 unchanged\n"
    assert member(database, "excel001").birthdate == date(1980, 4, 1)
    assert member(database, "excel002").birthdate == date(1999, 12, 9)


def test_importing_again_leaves_existing_members_as_they_are(idp, database, settings, tmp_path):
    import_file(idp, FIXTURES / "members.csv")
    with database.session() as session:
        yamada = get_user(session, find_realm(session, "kosmo-demo"), "yamada01")
        yamada.birthdate_verified_at = datetime(2025, 1, 1, tzinfo=UTC)
    before = member(database, "yamada01")

    assert import_file(idp, FIXTURES / "members.csv").output == "realm kosmo-demo: 0 created, 3 unchanged\n"
    changed = write_csv(tmp_path, "changed.csv", HEADER
                        + "YAMADA01,Other-pass-1,1990-01-01,別人,次郎,jiro@example.jp\n"
                        + "new00001,New-pass-1,2000-01-01,新,入,new@example.jp\n")
    assert import_file(idp, changed).output == "realm kosmo-demo: 1 created, 1 unchanged\n"

    after = member(database, "yamada01")
    assert (after.email, after.last_name, after.birthdate) == ("taro.yamada@example.jp", "山田", date(1980, 4, 1))
    assert after.birthdate_verified_at is not None
    assert password_credential(after).secret_data == password_credential(before).secret_data
    assert len(after.credentials) == 1
    with database.session() as session:
        yamada = get_user(session, find_realm(session, "kosmo-demo"), "yamada01")
        assert check_password(session, yamada, "Sakura-2024", settings)
    assert_first_sign_in_ahead(member(database, "new00001"))


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_written(idp, database):
    path = FIXTURES / "bad-rows.csv"
    result = import_file(idp, path)
    assert problems(result) == [
        f"{path}:3: user_id is empty",
        f"{path}:4: user_id 'two words' may hold only ASCII letters, digits and symbols, without spaces",
        f"{path}:5: user_id 'ｆｕｌｌ０１' may hold only ASCII letters, digits and symbols, without spaces",
        f"{path}:6: initial_password is empty",
        f"{path}:7: initial_password is longer than 64 characters",
        f"{path}:8: initial_password starts or ends with a space",
        f"{path}:9: birthdate is empty",
        f"{path}:10: birthdate '1980.04.01' is not a date like 1980-04-01 or 1980/4/1",
        f"{path}:11: birthdate '1980-02-30' is not a real date",
        f"{path}:12: birthdate '2999-01-01' is in the future",
        f"{path}:13: birthdate '1899/12/31' is before 1900",
        f"{path}:14: email 'not-an-address' is not an email address",
        f"{path}:15: has 3 cells; the header has 6",
    ]
    assert result.stderr.splitlines()[-1] == f"Error: {path}: 13 problem(s); nothing was imported"
    assert members_count(database) == 0


def test_a_password_is_never_shown_in_a_problem(idp, tmp_path):
    path = write_csv(tmp_path, "secret.csv", HEADER + "secret01, Very-secret-1,1980-02-30,秘密,人,\n")
    assert "Very-secret" not in import_file(idp, path).output


def test_the_same_user_id_or_email_twice_in_a_file_names_both_lines(idp, database):
    path = FIXTURES / "duplicates.csv"
    assert problems(import_file(idp, path)) == [
        f"{path}:4: user_id 'twin0001' is also on line 2",
        f"{path}:5: email 'twin@example.jp' is also on line 2",
    ]
    assert members_count(database) == 0


def test_an_email_another_member_already_has_is_refused_naming_the_line(idp, database):
    assert idp("user", "add", "--realm", "kosmo-demo", "hanako99", "--email", "Hanako@example.jp").exit_code == 0
    path = FIXTURES / "members.csv"
    assert problems(import_file(idp, path)) == [
        f"{path}:3: email 'hanako@example.jp' already belongs to member 'hanako99'"]
    assert members_count(database) == 1


def test_a_service_accounts_user_id_is_refused(idp, tmp_path):
    path = write_csv(tmp_path, "robot.csv", HEADER + "service-account-kosmo-batch,Robot-pass-1,1980-04-01,,,\n")
    assert problems(import_file(idp, path)) == [
        f"{path}:2: user_id 'service-account-kosmo-batch' is the service account of a client, not a member"
    ]


def test_a_shift_jis_file_from_an_older_excel_is_refused_with_advice(idp, database, tmp_path):
    text = (FIXTURES / "members.csv").read_text(encoding="utf-8").replace("\n", "\r\n")
    path = write_csv(tmp_path, "sjis.csv", text, encoding="cp932")
    assert problems(import_file(idp, path)) == [
        f"{path}:2: this is not UTF-8 text (perhaps Shift_JIS from an older Excel): "
        "save the file as UTF-8 (CSV UTF-8) and import it again"
    ]
    assert members_count(database) == 0


@pytest.mark.parametrize(
    "text, expected",
    [
        ((FIXTURES / "missing-column.csv").read_text(encoding="utf-8"),
         "1: missing column(s): birthdate, email; unknown column(s): 'birthday'"),
        ("yamada01,Sakura-2024,1980-04-01,山田,太郎,taro@example.jp\n",
         "1: missing column(s): user_id, initial_password, birthdate, last_name, first_name, email; "
         "unknown column(s): "),
        (HEADER.replace("\n", ",email\n"), "1: column(s) given twice: email"),
        (HEADER.replace("\n", ",\n"), "1: unknown column(s): an unnamed one"),
    ],
)
def test_a_header_without_exactly_the_six_columns_is_refused(idp, database, tmp_path, text, expected):
    path = write_csv(tmp_path, "header.csv", text)
    [line] = problems(import_file(idp, path))
    assert line.startswith(f"{path}:{expected}")
    assert line.endswith("the header must be user_id,initial_password,birthdate,last_name,first_name,email")
    assert members_count(database) == 0


def test_an_empty_file_asks_for_the_header(idp, tmp_path):
    path = write_csv(tmp_path, "empty.csv", "\n\n")
    assert problems(import_file(idp, path)) == [
        f"{path}: the file is empty; its first line must be the header "
        "user_id,initial_password,birthdate,last_name,first_name,email"
    ]


def test_header_spelling_column_order_blank_and_empty_excel_rows_are_forgiven(idp, database, tmp_path):
    path = write_csv(tmp_path, "loose.csv", " Email ,User_ID,initial_password,birthdate,last_name,first_name\n"
                     "\n"
                     "Loose@Example.jp,loose001,Loose-pass-1,1980-04-01,緩い,人\n"
                     ",,,,,\n\n")
    assert import_file(idp, path).output == "realm kosmo-demo: 1 created, 0 unchanged\n"
    assert member(database, "loose001").email == "loose@example.jp"


def test_only_the_first_twenty_problems_are_listed(idp, tmp_path):
    path = write_csv(tmp_path, "many.csv", HEADER + "".join(f"bad{i:05d},Pass-{i},someday,,,\n" for i in range(25)))
    result = import_file(idp, path)
    lines = problems(result)
    assert len(lines) == 20
    assert lines[0] == f"{path}:2: birthdate 'someday' is not a date like 1980-04-01 or 1980/4/1"
    assert result.stderr.splitlines()[-1] == f"Error: {path}: 25 problem(s) (5 more not shown); nothing was imported"


def test_a_large_file_shows_its_progress_on_stderr(idp, database, tmp_path):
    rows = "".join(f"bulk{i:04d},Bulk-pass-{i},1980-01-01,大量,{i},bulk{i}@example.jp\n" for i in range(100))
    result = import_file(idp, write_csv(tmp_path, "bulk.csv", HEADER + rows))
    assert result.stdout == "realm kosmo-demo: 100 created, 0 unchanged\n"
    assert "checking rows" in result.stderr and "creating members" in result.stderr
    assert members_count(database) == 100


def test_an_unknown_realm_is_named(idp):
    result = idp("members", "import", "--realm", "nowhere", str(FIXTURES / "members.csv"))
    assert result.exit_code == 1
    assert result.output == "Error: no realm named 'nowhere' (see `idp realm list`)\n"


def test_members_are_imported_whole_or_not_at_all_on_every_database(database_url, tmp_path, monkeypatch):
    settings = make_settings(tmp_path, database_url=database_url, flows_dir=tmp_path / "flows")
    database = Database(database_url)
    idp = cli(settings)
    idp("realm", "import", str(DEMO_REALM))
    assert idp("user", "add", "--realm", "kosmo-demo", "hanako99", "--email", "hanako@example.jp").exit_code == 0
    # The address is taken between the check and the write (another operator, say): the
    # member already created from line 2 must go too.
    monkeypatch.setattr("idp.members._email_owners", lambda *args: {})
    path = FIXTURES / "members.csv"
    assert problems(import_file(idp, path)) == [f"{path}:3: another user already has email 'hanako@example.jp'"]
    assert members_count(database) == 1
    monkeypatch.undo()

    with database.session() as session:
        get_user(session, find_realm(session, "kosmo-demo"), "hanako99").email = "hanako99@example.jp"
    assert import_file(idp, path).output == "realm kosmo-demo: 3 created, 0 unchanged\n"
    assert import_file(idp, path).output == "realm kosmo-demo: 0 created, 3 unchanged\n"
    assert_first_sign_in_ahead(member(database, "suzuki02"))
    with database.session() as session:
        suzuki = get_user(session, find_realm(session, "kosmo-demo"), "suzuki02")
        assert check_password(session, suzuki, "ab12", settings)
    database.dispose()


def test_the_writing_transaction_does_no_password_hashing(idp, database, settings, monkeypatch):
    """argon2 takes ~50 ms a row: the command hashes before it opens the transaction that writes."""
    import idp.security.passwords as passwords
    from idp.members import hash_initial_passwords, import_members, read_member_file

    rows = read_member_file(CHECKOUT / "tests" / "fixtures" / "members" / "members.csv")
    hashes = hash_initial_passwords(rows, settings)
    monkeypatch.setattr(passwords, "hash_password", lambda *_: pytest.fail("hashed inside the transaction"))
    with database.session() as session:
        result = import_members(session, find_realm(session, "kosmo-demo"), rows, settings, hashes=hashes)

    assert result.created == len(rows)
    assert check_password_for(database, rows[0].user_id, rows[0].initial_password, settings)


def check_password_for(database, user_id: str, password: str, settings) -> bool:
    with database.session() as session:
        return check_password(session, get_user(session, find_realm(session, "kosmo-demo"), user_id), password,
                              settings)
