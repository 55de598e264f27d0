"""ユーザIDを忘れた方はこちら (flows/forgot-user-id.yaml): email address and date of birth; the user
ID goes to the registered address only when both match, and the page never shows it nor says
whether anything matched."""
from __future__ import annotations

import re
from datetime import date

from idp.db.models import User
from tests.support.recovery import BIRTHDATE, events, link_on, mails_to, press, same_for_everyone
from tests.support.sign_in import MEMBER_ID, add_member, authorize, pkce_pair

ADDRESS = f"{MEMBER_ID}@example.jp"


def forgot_user_id_page(client) -> str:
    """From the portal's sign-in page, the member taps ユーザIDを忘れた方はこちら."""
    sign_in = authorize(client, pkce_pair()[1]).get_data(as_text=True)
    page = client.get(link_on(sign_in, "ユーザIDを忘れた方はこちら"))
    assert page.status_code == 200
    return page.get_data(as_text=True)


def ask(client, email: str = ADDRESS, **birthdate):
    return press(client, forgot_user_id_page(client), email=email, **{**BIRTHDATE, **birthdate})


def test_the_user_id_is_mailed_when_address_and_birthdate_match_and_never_shown(client, database, settings,
                                                                                 no_answer_floor):
    add_member(database, settings, birthdate=date(1980, 4, 1))

    answer = ask(client, email="Hanako-01@Example.jp", year="１９８０")

    shown = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "ご登録のメールアドレスにユーザIDをお送りしました" in shown
    assert MEMBER_ID not in shown
    mail = mails_to(settings, ADDRESS)[-1]
    assert mail["Subject"] == "【KOSMOWeb】ユーザIDのお知らせ"
    assert f"ユーザID: {MEMBER_ID}" in mail.get_body(("plain",)).get_content()
    assert events(database, "SEND_USER_ID")[0][2] == {"username": MEMBER_ID, "email": ADDRESS}


def test_a_wrong_birthdate_or_an_unknown_address_gets_the_same_page_and_no_mail(client, database, settings,
                                                                                  no_answer_floor):
    add_member(database, settings, birthdate=date(1980, 4, 1))

    matched = ask(client)
    wrong_birthdate, unknown = ask(client, day="2"), ask(client, email="someone-else@example.jp")

    assert {(r.status_code, same_for_everyone(r)) for r in (matched, wrong_birthdate, unknown)} == {
        (matched.status_code, same_for_everyone(matched))}
    assert len(mails_to(settings, ADDRESS)) == 1 and mails_to(settings, "someone-else@example.jp") == []
    assert [error for _, error, *_ in events(database, "SEND_USER_ID_ERROR")] == ["user_not_found"] * 2


def test_a_user_id_that_looks_like_an_address_is_not_an_email_match(client, database, settings, no_answer_floor):
    add_member(database, settings, username="taro@example.jp", email="taro.home@example.jp",
               birthdate=date(1980, 4, 1))

    ask(client, email="taro@example.jp")

    assert mails_to(settings, "taro.home@example.jp") == []


def test_a_disabled_member_is_not_mailed(client, database, settings, no_answer_floor):
    user_id = add_member(database, settings, birthdate=date(1980, 4, 1))
    with database.session() as session:
        session.get(User, user_id).enabled = False
        session.commit()

    assert ask(client).status_code == 200
    assert mails_to(settings, ADDRESS) == []


def test_what_is_not_an_address_or_a_date_is_asked_again_and_counts_nothing(client, database, settings,
                                                                          no_answer_floor):
    add_member(database, settings, birthdate=date(1980, 4, 1))

    refused = ask(client, email="hanako", month="13")

    shown = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "無効なメールアドレスです。" in shown and 'value="hanako"' in shown
    assert re.search(r'id="birthdate-errors"', shown)
    assert events(database, "SEND_USER_ID", "SEND_USER_ID_ERROR") == []
    assert "メールアドレスを入力してください。" in ask(client, email="").get_data(as_text=True)


def test_a_fourth_request_for_one_address_within_the_hour_mails_nothing_but_answers_the_same(
        client, database, settings, no_answer_floor):
    add_member(database, settings, birthdate=date(1980, 4, 1))

    answers = [ask(client) for _ in range(4)]

    assert len({same_for_everyone(answer) for answer in answers}) == 1
    assert len(mails_to(settings, ADDRESS)) == 3
    assert events(database, "SEND_USER_ID_ERROR")[0][1] == "too_many_requests"
