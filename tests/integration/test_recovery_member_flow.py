"""`begin_member_flow`: steps run for a known member outside any sign-in (the Admin API's
execute-actions-email opens one from a mailed link); they end on a done page, never with a code
or an SSO session."""
from __future__ import annotations

import pytest
from flask import Blueprint
from pydantic import ValidationError

from idp.db import db_session
from idp.db.models import User
from idp.login.views import begin_member_flow
from idp.realms import find_client
from idp.request_context import load_realm, realm_request
from tests.support.recovery import change_password, password_hash
from tests.support.sign_in import MEMBER_ID, PORTAL, PORTAL_TOP, REALM_PATH, add_member, count_sessions

RETURN_TO = "http://localhost:8081/after-actions"


@pytest.fixture
def start_flow(app):
    """A stand-in for the caller: GET .../test-member-flow/<user id> runs begin_member_flow."""
    caller = Blueprint("member_flow_caller", __name__, url_prefix="/realms/<realm>")
    caller.url_value_preprocessor(load_realm)

    @caller.get("/test-member-flow/<user_id>")
    def start(user_id):
        from flask import request

        client = find_client(db_session(), realm_request().realm, request.args.get("client_id"))
        return begin_member_flow(client, db_session().get(User, user_id), [{"action": "update-password"}],
                                 redirect_uri=request.args.get("redirect_uri"))

    app.register_blueprint(caller)
    return lambda client, user_id, **query: client.get(f"{REALM_PATH}/test-member-flow/{user_id}", query_string=query)


def test_the_member_sets_a_password_and_lands_on_a_done_page_without_being_signed_in(client, database, settings,
                                                                                    start_flow):
    user_id = add_member(database, settings)
    before = password_hash(database)

    page = start_flow(client, user_id, client_id=PORTAL, redirect_uri=RETURN_TO)
    assert page.status_code == 200 and 'name="password_confirm"' in page.get_data(as_text=True)
    done = change_password(client, page.get_data(as_text=True))

    shown = done.get_data(as_text=True)
    assert done.status_code == 200
    assert "手続きが完了しました。" in shown and f'<a href="{RETURN_TO}">ポータルに戻る</a>' in shown
    assert password_hash(database) != before
    assert count_sessions(database) == 0
    assert not any(header.startswith("KC_IDP_SESSION=") for header in done.headers.getlist("Set-Cookie"))


def test_without_a_redirect_uri_the_done_page_links_to_the_clients_base_url(client, database, settings, start_flow):
    user_id = add_member(database, settings)

    done = change_password(client, start_flow(client, user_id, client_id=PORTAL).get_data(as_text=True))

    assert f'<a href="{PORTAL_TOP}">ポータルに戻る</a>' in done.get_data(as_text=True)


def test_a_refused_password_shows_the_step_again_and_the_flow_goes_on_after(client, database, settings, start_flow):
    user_id = add_member(database, settings)
    page = start_flow(client, user_id, client_id=PORTAL).get_data(as_text=True)

    refused = change_password(client, page, password=MEMBER_ID)

    assert refused.status_code == 200 and 'aria-invalid="true"' in refused.get_data(as_text=True)
    assert "手続きが完了しました。" in change_password(client, refused.get_data(as_text=True)).get_data(as_text=True)


def test_malformed_steps_are_refused_before_any_page(app, database, settings):
    user_id = add_member(database, settings)
    with app.test_request_context(f"{REALM_PATH}/anything"):
        load_realm(None, {"realm": "kosmo-demo"})
        with pytest.raises(ValidationError):
            begin_member_flow(None, db_session().get(User, user_id), [{"act": "update-password"}])
