"""The flow engine as a member's browser meets it: reloads, the back button, two tabs, a restart,
an expired sign-in, an operator editing the flow mid-journey, and Keycloak's pending actions."""
from __future__ import annotations

import logging
import shutil
import time

import pytest
from sqlalchemy import func, select

from idp.db.models import PendingRequiredAction, User, UserSession
from idp.db.users import create_user
from idp.realms import find_realm
from tests.support.settings import make_settings
from tests.support.sign_in import authorize, form_action, hidden_value, pkce_pair, redirect_params, submit_sign_in

MEMBER, PASSWORD, NEW_PASSWORD = "flowmember01", "Initial-pass1", "Chosen-pass22"
UPDATE_PASSWORD_FLOW = """\
flow: {name}
steps:
  - authenticate: password
  - action: update-password
    if: password-temporary
"""
TERMS_FIRST_FLOW = """\
flow: {name}
steps:
  - authenticate: password
  - action: accept-terms
  - action: update-password
    if: password-temporary
"""


@pytest.fixture
def flows_dir(tmp_path):
    folder = tmp_path / "flows"
    folder.mkdir()
    shutil.copy("flows/browser.yaml", folder / "browser.yaml")
    (folder / "journey.yaml").write_text(UPDATE_PASSWORD_FLOW.format(name="journey"))
    return folder


@pytest.fixture
def settings(tmp_path, flows_dir):
    return make_settings(tmp_path, browser_flow="journey", flows_dir=flows_dir)


@pytest.fixture
def member(database, settings):
    with database.session() as session:
        create_user(session, find_realm(session, "kosmo-demo"), MEMBER, settings=settings, password=PASSWORD,
                    temporary=True, email="flow@example.jp")


def new_password_form(page: str, password: str = NEW_PASSWORD, **extra) -> dict:
    data = {"csrf_token": hidden_value(page, "csrf_token"), "tab_id": hidden_value(page, "tab_id"),
            "step": hidden_value(page, "step"), "password": password, "password_confirm": password}
    data.update(extra)
    return data


def sessions_of(database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(UserSession))


def password_page(client) -> str:
    response = submit_sign_in(client, authorize(client, pkce_pair()[1]).get_data(as_text=True),
                              username=MEMBER, password=PASSWORD)
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    page = response.get_data(as_text=True)
    assert 'name="password_confirm"' in page
    return page


def test_a_temporary_password_leads_to_the_update_password_step_and_then_to_the_portal(client, member, database):
    page = password_page(client)
    assert sessions_of(database) == 0

    done = client.post(form_action(page), data=new_password_form(page))

    assert "code" in redirect_params(done)
    assert sessions_of(database) == 1


def test_reloading_shows_the_same_step_and_changes_nothing(client, member, database):
    page = password_page(client)

    again = client.get(form_action(page))

    assert again.status_code == 200
    assert hidden_value(again.get_data(as_text=True), "step") == hidden_value(page, "step")
    assert sessions_of(database) == 0


def test_the_back_button_resubmitting_the_sign_in_form_does_not_skip_or_repeat_a_step(client, member, database):
    first = authorize(client, pkce_pair()[1]).get_data(as_text=True)
    update_page = submit_sign_in(client, first, username=MEMBER, password=PASSWORD).get_data(as_text=True)

    resubmitted = submit_sign_in(client, first, username=MEMBER, password="whatever-it-was")

    shown = resubmitted.get_data(as_text=True)
    assert resubmitted.status_code == 200 and 'name="password_confirm"' in shown
    assert hidden_value(shown, "step") == hidden_value(update_page, "step")
    assert sessions_of(database) == 0


def test_two_tabs_sign_in_independently(client, member, database):
    tab_one = authorize(client, pkce_pair()[1]).get_data(as_text=True)
    tab_two = authorize(client, pkce_pair()[1]).get_data(as_text=True)
    assert hidden_value(tab_one, "tab_id") != hidden_value(tab_two, "tab_id")

    submit_sign_in(client, tab_one, username=MEMBER, password=PASSWORD)
    still_signing_in = client.get(form_action(tab_two)).get_data(as_text=True)

    assert 'name="username"' in still_signing_in and 'name="password_confirm"' not in still_signing_in


def test_a_restarted_server_continues_the_same_step(app, client, member, settings, database):
    from idp.app import create_app

    page = password_page(client)
    client.application = create_app(settings, database)  # a new process; the browser keeps its cookies

    done = client.post(form_action(page), data=new_password_form(page))

    assert "code" in redirect_params(done)


def test_an_expired_sign_in_shows_a_friendly_page_that_leads_back_to_the_portal(client, member, monkeypatch):
    page = password_page(client)
    later = time.time() + 1800 + 5
    monkeypatch.setattr(time, "time", lambda: later)

    response = client.post(form_action(page), data=new_password_form(page))

    shown = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "有効期限が切れました" in shown
    assert 'href="http://localhost:8081/"' in shown


def test_a_flow_edited_mid_journey_keeps_running_sign_ins_on_the_version_they_started(
        app, client, member, flows_dir, database):
    page = password_page(client)
    (flows_dir / "journey.yaml").write_text(TERMS_FIRST_FLOW.format(name="journey"))

    done = client.post(form_action(page), data=new_password_form(page))

    assert "code" in redirect_params(done)
    fresh = app.test_client()
    with database.session() as session:
        create_user(session, find_realm(session, "kosmo-demo"), "flowmember02", settings=app.config["IDP_SETTINGS"],
                    password=PASSWORD, temporary=True)
    response = submit_sign_in(fresh, authorize(fresh, pkce_pair()[1]).get_data(as_text=True),
                              username="flowmember02", password=PASSWORD)
    assert response.status_code == 200 and "同意する" in response.get_data(as_text=True)


def test_an_invalid_edit_is_refused_and_the_running_flow_keeps_working(app, client, member, flows_dir, caplog):
    (flows_dir / "journey.yaml").write_text("flow: journey\nsteps:\n  - authenticate: pasword\n")

    with caplog.at_level(logging.ERROR, logger="idp.flows"):
        page = password_page(client)

    assert "journey.yaml:3:5: unknown authenticate 'pasword'; did you mean 'password'?" in caplog.text
    assert "keeping the version already running" in caplog.text
    assert "code" in redirect_params(client.post(form_action(page), data=new_password_form(page)))


def test_a_flow_file_invalid_at_start_is_not_loaded_and_members_see_a_maintenance_page(tmp_path, flows_dir, caplog):
    from idp.app import create_app
    from idp.db import Database
    from idp.setup import prepare

    (flows_dir / "journey.yaml").write_text("flow: journey\nsteps:\n  - action: update-password\n    if: frist-login\n")
    settings = make_settings(tmp_path, browser_flow="journey", flows_dir=flows_dir)
    database = Database(settings.database_url)
    prepare(settings, database)
    with caplog.at_level(logging.ERROR):
        client = create_app(settings, database).test_client()

    assert "journey.yaml:4:5: unknown condition 'frist-login'; did you mean 'first-login'?" in caplog.text
    response = authorize(client, pkce_pair()[1])
    assert response.status_code == 503 and "メンテナンス" in response.get_data(as_text=True)
    database.dispose()


def test_keycloaks_pending_required_actions_run_after_the_password_and_are_then_cleared(
        tmp_path, flows_dir, database, member):
    from idp.app import create_app
    from idp.setup import prepare

    settings = make_settings(tmp_path, browser_flow="browser", flows_dir=flows_dir)
    prepare(settings, database)
    with database.session() as session:
        user = session.scalar(select(User).where(User.username == MEMBER))
        for credential in user.credentials:
            credential.temporary = False
        session.add(PendingRequiredAction(user_id=user.id, action="UPDATE_PASSWORD"))
    client = create_app(settings, database).test_client()

    page = password_page(client)
    done = client.post(form_action(page), data=new_password_form(page))

    assert "code" in redirect_params(done)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(PendingRequiredAction)) == 0


def test_a_refused_step_submission_changes_nothing(client, member, database):
    page = password_page(client)
    with database.session() as session:
        before = session.scalar(select(User).where(User.username == MEMBER)).credentials[0].secret_data

    refused = client.post(form_action(page), data=new_password_form(page, password_confirm="something-else1"))

    assert refused.status_code == 200 or refused.status_code == 400
    with database.session() as session:
        after = session.scalar(select(User).where(User.username == MEMBER)).credentials[0]
        assert after.secret_data == before and after.temporary
    assert sessions_of(database) == 0


def test_events_a_refused_step_records_are_kept(client, member, database):
    from idp.db.models import AuditEvent

    page = authorize(client, pkce_pair()[1]).get_data(as_text=True)
    submit_sign_in(client, page, username=MEMBER, password="not-the-password")

    with database.session() as session:
        errors = session.scalars(select(AuditEvent).where(AuditEvent.type == "LOGIN_ERROR")).all()
        assert [event.error for event in errors] == ["invalid_user_credentials"]


def test_after_a_finished_step_the_next_page_comes_by_get_so_a_reload_never_resends_a_form(client, member):
    page = authorize(client, pkce_pair()[1]).get_data(as_text=True)
    data = {name: hidden_value(page, name) for name in ("csrf_token", "tab_id", "step")}

    response = client.post(form_action(page), data={**data, "username": MEMBER, "password": PASSWORD})

    assert response.status_code == 303
    assert "/login-actions/step?" in response.headers["Location"]
    assert 'name="password_confirm"' in client.get(response.headers["Location"]).get_data(as_text=True)
