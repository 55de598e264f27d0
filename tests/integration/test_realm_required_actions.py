"""The realm's required actions as Keycloak's `requiredActions` set them: a default action is asked
of every new member, a disabled one never runs, and `max_auth_age` bounds how long after signing in
a relying party's kc_action runs without asking the member to sign in again."""
from __future__ import annotations

from sqlalchemy import select

from idp.db.models import User
from idp.realms import find_realm, realm_config, save_realm
from idp.realms.schema import RequiredActionSetting
from tests.support.sign_in import (
    MEMBER_ID,
    REALM,
    add_member,
    authorize,
    later,
    pkce_pair,
    sign_in_for_code,
)


def realm_required_actions(database, *settings: RequiredActionSetting) -> None:
    with database.session() as session:
        realm = find_realm(session, REALM)
        save_realm(session, realm_config(realm).model_copy(update={"required_actions": list(settings)}))
        session.commit()


def pending_actions(database) -> list[str]:
    with database.session() as session:
        user = session.scalar(select(User).where(User.username == MEMBER_ID))
        return [item.action for item in user.required_actions]


def test_a_default_action_is_asked_of_every_new_member(database, settings):
    realm_required_actions(database, RequiredActionSetting(alias="VERIFY_EMAIL", default_action=True),
                           RequiredActionSetting(alias="CONFIGURE_TOTP", default_action=True, enabled=False))
    add_member(database, settings)

    assert pending_actions(database) == ["VERIFY_EMAIL"]


def test_a_pending_action_the_realm_switched_off_never_runs(client, database, settings):
    realm_required_actions(database, RequiredActionSetting(alias="UPDATE_PASSWORD", enabled=False))
    add_member(database, settings, required_actions=["UPDATE_PASSWORD"])

    assert sign_in_for_code(client)["code"]
    assert pending_actions(database) == ["UPDATE_PASSWORD"]  # kept, as Keycloak keeps it


def test_kc_action_past_its_max_auth_age_asks_the_member_to_sign_in_first(client, database, settings, monkeypatch):
    realm_required_actions(database, RequiredActionSetting(alias="UPDATE_PASSWORD",
                                                           config={"max_auth_age": "300"}))
    add_member(database, settings)
    sign_in_for_code(client)

    fresh = authorize(client, pkce_pair()[1], kc_action="UPDATE_PASSWORD").get_data(as_text=True)
    later(monkeypatch, 301)
    stale = authorize(client, pkce_pair()[1], kc_action="UPDATE_PASSWORD").get_data(as_text=True)

    assert 'name="password_confirm"' in fresh and 'name="username"' not in fresh
    assert 'name="username"' in stale
