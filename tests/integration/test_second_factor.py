"""`authenticate: second-factor`: the member's own factor after the password, set up first when
missing, and 別の方法を試す among the factors they have."""
from __future__ import annotations

import time

import pytest

from idp.authenticators.totp import code_at
from tests.support.factors import APP_KEY, give_app, member_with_app_and_email_codes
from tests.support.settings import make_settings
from tests.support.sign_in import (
    add_member,
    authorize,
    follow_step,
    form_action,
    hidden_value,
    pkce_pair,
    redirect_params,
    submit_sign_in,
)

FLOW = """\
flow: factors
steps:
  - authenticate: password
  - authenticate: second-factor
"""


@pytest.fixture
def settings(tmp_path):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "factors.yaml").write_text(FLOW)
    return make_settings(tmp_path, browser_flow="factors", flows_dir=flows)


def submit(client, page: str, **fields):
    data = {name: hidden_value(page, name) for name in ("csrf_token", "tab_id", "step")}
    return follow_step(client, client.post(form_action(page), data={**data, **fields}))


def test_a_member_with_an_app_is_asked_for_its_code_after_the_password(client, database, settings):
    add_member(database, settings)
    give_app(database, "スマートフォン")

    page = submit_sign_in(client, authorize(client, pkce_pair()[1]).get_data(as_text=True)).get_data(as_text=True)

    assert 'autocomplete="one-time-code"' in page
    code = code_at(APP_KEY, int(time.time() // 30) + 1)
    assert redirect_params(submit(client, page, device=hidden_value(page, "device"), otp=code))["code"]


def test_a_member_with_no_factor_chosen_or_set_up_passes_as_keycloaks_conditional_otp_does(client, database, settings):
    add_member(database, settings)

    response = submit_sign_in(client, authorize(client, pkce_pair()[1]).get_data(as_text=True))

    assert redirect_params(response)["code"]


def test_a_factor_proven_earlier_in_the_sign_in_is_not_asked_again(client, database, settings, tmp_path):
    """A flow that asks for the app right after the password does not ask for a second factor again."""
    flows = tmp_path / "flows"
    (flows / "factors.yaml").write_text(FLOW.replace("  - authenticate: second-factor\n",
                                                     "  - authenticate: otp\n  - authenticate: second-factor\n"))
    add_member(database, settings)
    give_app(database, "スマートフォン")
    page = submit_sign_in(client, authorize(client, pkce_pair()[1]).get_data(as_text=True)).get_data(as_text=True)

    code = code_at(APP_KEY, int(time.time() // 30) + 1)
    done = submit(client, page, device=hidden_value(page, "device"), otp=code)

    assert redirect_params(done)["code"]


def test_try_another_way_lists_the_members_other_factors_and_switches_to_the_one_picked(
        client, database, settings):
    member_with_app_and_email_codes(database, settings)
    page = submit_sign_in(client, authorize(client, pkce_pair()[1]).get_data(as_text=True)).get_data(as_text=True)
    assert 'autocomplete="one-time-code"' in page and "別の方法を試す" in page

    choices = submit(client, page, try_another="1").get_data(as_text=True)
    assert "認証方法の選択" in choices
    assert "ワンタイムパスワード (OTP) アプリ認証" in choices and "ワンタイムパスワード (OTP) メール認証" in choices

    emailed = submit(client, choices, factor="email-code").get_data(as_text=True)
    assert "受信したワンタイムパスワードを入力してください。" in emailed
    assert "別の方法を試す" in emailed


def test_picking_nothing_on_the_list_asks_again(client, database, settings):
    member_with_app_and_email_codes(database, settings)
    page = submit_sign_in(client, authorize(client, pkce_pair()[1]).get_data(as_text=True)).get_data(as_text=True)
    choices = submit(client, page, try_another="1").get_data(as_text=True)

    again = submit(client, choices)

    assert again.status_code == 400 and "認証方法を選択してください。" in again.get_data(as_text=True)
