"""The user repository on SQLite and PostgreSQL: unique user IDs and emails, passwords and history."""
from __future__ import annotations

import base64
import hashlib
import json
from datetime import date

import pytest
from sqlalchemy import select

from idp.db.models import Credential, User
from idp.db.users import (
    PASSWORD_HISTORY,
    UserExists,
    check_password,
    create_user,
    find_user,
    get_user,
    otp_key,
    password_credential,
    password_history,
    set_password,
)
from idp.realms import save_realm
from idp.realms.schema import RealmConfig
from tests.support.settings import make_settings


@pytest.fixture
def settings(tmp_path, database_url):
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
def database(migrated_database):
    """No realms here: each test imports what it needs."""
    return migrated_database


def add_realm(database, name="society", policy="length(8) and maxLength(64) and notUsername and passwordHistory(3)"):
    config = RealmConfig(realm=name, password_policy=policy)
    with database.session() as session:
        return save_realm(session, config)


@pytest.fixture
def realm(database):
    return add_realm(database)


def test_user_ids_are_stored_lower_case_and_found_in_any_case(database, realm, settings):
    with database.session() as session:
        user = create_user(session, realm, "  Yamada.Taro ", settings=settings, email="Taro@Example.JP")
    assert user.username == "yamada.taro"
    assert user.email == "taro@example.jp"
    with database.session() as session:
        assert find_user(session, realm, "YAMADA.taro").id == user.id
        assert find_user(session, realm, "TARO@example.jp").id == user.id
        assert get_user(session, realm, "Yamada.Taro").id == user.id
        assert find_user(session, realm, "someone-else") is None
        assert find_user(session, realm, "") is None


def test_a_service_account_cannot_be_signed_in_to_as_a_member(database, realm, settings):
    with database.session() as session:
        session.add(User(realm_id=realm.id, username="service-account-batch", service_account_client_id="batch"))
    with database.session() as session:
        assert find_user(session, realm, "service-account-batch") is None
        assert get_user(session, realm, "service-account-batch") is not None


def test_a_user_id_taken_in_another_case_is_refused_and_the_session_stays_usable(database, realm, settings):
    with database.session() as session:
        create_user(session, realm, "suzuki01", settings=settings)
        with pytest.raises(UserExists) as refused:
            create_user(session, realm, "SUZUKI01", settings=settings)
        assert refused.value.field == "username"
        create_user(session, realm, "suzuki02", settings=settings)
    with database.session() as session:
        names = session.scalars(select(User.username).where(User.realm_id == realm.id).order_by(User.username))
        assert list(names) == ["suzuki01", "suzuki02"]


def test_an_email_used_by_another_member_in_another_case_is_refused(database, realm, settings):
    with database.session() as session:
        create_user(session, realm, "sato0001", settings=settings, email="sato@example.jp")
    with database.session() as session:
        with pytest.raises(UserExists) as refused:
            create_user(session, realm, "sato0002", settings=settings, email="SATO@Example.jp")
        assert refused.value.field == "email"
        # Members without an email yet do not collide with each other.
        create_user(session, realm, "sato0003", settings=settings)
        create_user(session, realm, "sato0004", settings=settings, email="")


def test_the_same_user_id_and_email_may_exist_in_two_societies(database, realm, settings):
    other = add_realm(database, "other-society")
    with database.session() as session:
        create_user(session, realm, "kato0001", settings=settings, email="kato@example.jp")
        create_user(session, other, "kato0001", settings=settings, email="kato@example.jp")


def test_a_new_member_keeps_profile_password_and_queued_actions(database, realm, settings):
    with database.session() as session:
        user = create_user(
            session, realm, "ito00001", settings=settings, first_name="一郎", last_name="伊藤",
            birthdate=date(1975, 5, 5), password="Initial-pass1", temporary=True,
            required_actions=["TERMS_AND_CONDITIONS", "VERIFY_EMAIL", "VERIFY_EMAIL"],
        )
    with database.session() as session:
        user = session.get(User, user.id)
        assert user.full_name == "伊藤 一郎"
        assert user.birthdate == date(1975, 5, 5)
        assert sorted(a.action for a in user.required_actions) == ["TERMS_AND_CONDITIONS", "VERIFY_EMAIL"]
        credential = password_credential(user)
        assert credential.temporary is True
        assert credential.credential_data["algorithm"] == "argon2"
        assert "Initial-pass1" not in json.dumps(credential.secret_data)
        assert check_password(session, user, "Initial-pass1", settings)


def test_a_wrong_password_is_refused_and_changes_nothing(database, realm, settings):
    with database.session() as session:
        user = create_user(session, realm, "abe00001", settings=settings, password="Right-pass1")
        before = dict(password_credential(user).secret_data)
    with database.session() as session:
        user = session.get(User, user.id)
        assert check_password(session, user, "Wrong-pass1", settings) is False
    with database.session() as session:
        credential = password_credential(session.get(User, user.id))
        assert credential.secret_data == before
        assert credential.last_used_at is None


def test_a_member_without_a_password_cannot_sign_in_with_one(database, realm, settings):
    with database.session() as session:
        user = create_user(session, realm, "nopass01", settings=settings)
        assert check_password(session, user, "anything-at-all", settings) is False


def keycloak_pbkdf2_sha256(password: str, salt: bytes, iterations: int = 27500) -> Credential:
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, 64)
    return Credential(
        type="password",
        secret_data={"value": base64.b64encode(digest).decode(), "salt": base64.b64encode(salt).decode()},
        credential_data={"hashIterations": iterations, "algorithm": "pbkdf2-sha256", "additionalParameters": {}},
    )


def test_a_keycloak_pbkdf2_password_is_rehashed_to_argon2id_at_the_first_right_sign_in(database, realm, settings):
    with database.session() as session:
        user = create_user(session, realm, "migrated", settings=settings)
        user.credentials.append(keycloak_pbkdf2_sha256("Keycloak-pass1", b"0123456789abcdef"))
    with database.session() as session:
        user = session.get(User, user.id)
        assert check_password(session, user, "Keycloak-pass2", settings) is False
        assert password_credential(user).credential_data["algorithm"] == "pbkdf2-sha256"
        assert check_password(session, user, "Keycloak-pass1", settings) is True
    with database.session() as session:
        user = session.get(User, user.id)
        credential = password_credential(user)
        assert credential.credential_data["algorithm"] == "argon2"
        assert credential.last_used_at is not None
        assert check_password(session, user, "Keycloak-pass1", settings) is True


def test_changing_the_password_keeps_earlier_hashes_only_as_far_as_the_policy_looks_back(database, realm, settings):
    with database.session() as session:
        user = create_user(session, realm, "history1", settings=settings, password="First-pass-1")
        for password in ("Second-pass-2", "Third-pass-3", "Fourth-pass-4"):
            set_password(session, user, password, settings)
    with database.session() as session:
        user = session.get(User, user.id)
        # passwordHistory(3): the current password and the two before it.
        assert [c.type for c in user.credentials].count("password") == 1
        history = password_history(user)
        assert len(history) == 2
        assert all(c.type == PASSWORD_HISTORY for c in history)
        assert check_password(session, user, "Fourth-pass-4", settings)
        assert not check_password(session, user, "Third-pass-3", settings)


def test_without_a_history_policy_the_old_hash_is_dropped(database, settings):
    realm = add_realm(database, "no-history", policy="length(8)")
    with database.session() as session:
        user = create_user(session, realm, "member01", settings=settings, password="First-pass-1")
        set_password(session, user, "Second-pass-2", settings, temporary=True)
    with database.session() as session:
        user = session.get(User, user.id)
        assert [c.type for c in user.credentials] == ["password"]
        assert password_credential(user).temporary is True


def test_an_otp_key_is_the_utf8_text_unless_keycloak_marked_it_base32():
    typed = Credential(type="otp", secret_data={"value": "gbNkR1c8Ch3eFzYTCBrn"},
                       credential_data={"secretEncoding": None})
    base32 = Credential(type="otp", secret_data={"value": "jbswy3dpehpk3pxp"},
                        credential_data={"secretEncoding": "BASE32"})
    assert otp_key(typed) == b"gbNkR1c8Ch3eFzYTCBrn"
    assert otp_key(base32) == b"Hello!\xde\xad\xbe\xef"
