"""Passkeys (生体認証, docs/member-screens.md §4): a member registers one with `webauthn-register` and names it, then
confirms sign-ins with `passkey`; a software authenticator plays their phone. Answers to another
challenge, from another site, or with a sign count that went backwards are refused."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from idp.actions.webauthn_register import WebAuthnRegister
from idp.authenticators.passkey import PasskeyLogin, PasskeyStep
from idp.authenticators.password import PasswordStep
from idp.authenticators.webauthn_server import encode
from idp.db.models import Credential, User
from idp.flows.api import Done, Page
from idp.realms.schema import WebAuthnSettings
from tests.support import steps
from tests.support.passkeys import InvalidStateError, NotAllowedError, SoftAuthenticator
from tests.support.steps import render

NOW = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)
LATER = datetime(2025, 4, 2, 8, 30, tzinfo=UTC)


class Member(steps.Member):
    """A member at a passkey step in one browser tab: the step's scratch data lives on between
    requests, as the engine keeps it; `sessions_ended` counts 全てのデバイスからサインアウトする."""

    def __init__(self, database, settings, user_id, step_class, **kwargs):
        super().__init__(database, settings, user_id, step_class, now=kwargs.pop("now", NOW), **kwargs)
        self.data: dict = {}
        self.sessions_ended = 0

    def run(self, call):
        with self.database.session() as session:
            ctx = steps.step_context(session, self.settings, session.get(User, self.user_id), self.options,
                                     now=self.now, data=self.data, config_update=self.config_update,
                                     record_event=lambda type, **details: self.events.append((type, details)))
            ctx.end_other_sessions = self._end_other_sessions
            ctx.find_step = lambda kind, name: PasswordStep() if (kind, name) == ("authenticate", "password") else None
            answer = call(self.step_class(), ctx)
            if isinstance(answer, Page):
                session.rollback()
            return answer

    def _end_other_sessions(self) -> int:
        self.sessions_ended += 1
        return 1

    def options_shown(self, page: Page) -> dict:
        assert "options" in page.values, page
        return page.values["options"]

    def passkeys(self) -> list[Credential]:
        with self.database.session() as session:
            rows = session.scalars(select(Credential).where(Credential.user_id == self.user_id,
                                                            Credential.type == "webauthn"))
            found = list(rows)
            session.expunge_all()
            return found

    def config_display_name(self) -> str:
        return self.run(lambda step, ctx: ctx.config.display_name)

    def user(self) -> User:
        with self.database.session() as session:
            user = session.get(User, self.user_id)
            session.expunge(user)
            return user


def errors(member: Member) -> list[tuple[str, str]]:
    """The events the step reported, as (type, error)."""
    return [(type, details["error"]) for type, details in member.events]


def webauthn_realm(**settings) -> dict:
    """The realm's passkey settings changed from the defaults (config_update does not validate)."""
    return {"webauthn": WebAuthnSettings(**settings)}


@pytest.fixture
def member_id(database, settings):
    return steps.create_member(database, settings, "kosmo0001", email="taro@example.jp", password="Initial-2025",
                               first_name="太郎", last_name="山田")


def registering(database, settings, member_id, **realm) -> Member:
    return Member(database, settings, member_id, WebAuthnRegister,
                  config_update=webauthn_realm(**realm) if realm else None)


def register(member: Member, phone: SoftAuthenticator, label: str = "わたしのiPhone", **form) -> Page | Done:
    """The member presses 登録, the phone answers, and they name the passkey; the last answer."""
    answer = member.submit(credential=phone.create(member.options_shown(member.sees())), **form)
    if isinstance(answer, Page) and answer.template == "actions/webauthn-register-label.html":
        return member.submit(label=label)
    return answer


@pytest.fixture
def registered(database, settings, member_id) -> SoftAuthenticator:
    phone = SoftAuthenticator()
    assert register(registering(database, settings, member_id), phone) == Done()
    return phone


def signing_in(database, settings, member_id, now=LATER, **realm) -> Member:
    return Member(database, settings, member_id, PasskeyStep, now=now,
                  config_update=webauthn_realm(**realm) if realm else None)


# Registration (webauthn-register)

def test_the_registration_asks_for_a_passkey_of_this_site_and_member_without_attestation(database, settings,
                                                                                          member_id):
    member = registering(database, settings, member_id)
    page = member.sees()

    assert page.template == "actions/webauthn-register.html"
    options = page.values["options"]["publicKey"]
    assert options["rp"] == {"id": "localhost", "name": member.config_display_name()}
    assert options["user"]["name"] == "kosmo0001" and options["user"]["displayName"] == "山田 太郎"
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["attestation"] == "none"
    assert options["excludeCredentials"] == []


def test_the_realm_decides_user_verification(database, settings, member_id):
    page = registering(database, settings, member_id, user_verification="required").sees()

    assert page.values["options"]["publicKey"]["authenticatorSelection"]["userVerification"] == "required"


def test_the_registration_page_reads_as_the_guide(app, database, settings, member_id):
    html = render(app, registering(database, settings, member_id).sees())

    for text in ("セキュリティの設定", "セキュリティキーの登録", "全てのデバイスからサインアウトする", ">登録<"):
        assert text in html
    assert 'type="application/json" id="passkey-options"' in html and "js/passkey.js" in html


def test_a_named_passkey_is_stored_with_everything_a_later_sign_in_needs(database, settings, member_id):
    member, phone = registering(database, settings, member_id), SoftAuthenticator()
    label_page = member.submit(credential=phone.create(member.options_shown(member.sees())))

    assert label_page.template == "actions/webauthn-register-label.html"
    assert label_page.values == {"label": "パスキー"}
    assert member.passkeys() == [], "nothing is stored before OK"
    assert member.submit(label="  わたしのiPhone ") == Done()

    [passkey] = member.passkeys()
    assert passkey.user_label == "わたしのiPhone"
    assert passkey.created_at.replace(tzinfo=UTC) == NOW
    data = passkey.credential_data
    assert data["credentialId"] == encode(phone.credential_id)
    assert data["counter"] == 0 and data["aaguid"] == "adce0002-35bc-c60a-648b-0b25f1f05503"
    assert data["transports"] == ["internal", "hybrid"]
    assert data["attestationStatementFormat"] == "none" and data["userVerified"] is True
    assert member.user().second_factor == "passkey"
    details = {"credential_type": "webauthn", "credential_id": passkey.id, "credential_user_label": "わたしのiPhone"}
    # Keycloak 26's UPDATE_CREDENTIAL, and REGISTER_WEBAUTHN for audits that look for the passkey by name
    # (as Keycloak still sends the older UPDATE_TOTP beside UPDATE_CREDENTIAL for apps).
    assert member.events == [("UPDATE_CREDENTIAL", details), ("REGISTER_WEBAUTHN", details)]
    assert member.sessions_ended == 0


def test_the_label_page_reads_as_the_guide(app, database, settings, member_id):
    member = registering(database, settings, member_id)
    html = render(app, member.submit(credential=SoftAuthenticator().create(member.options_shown(member.sees()))))

    assert 'value="パスキー"' in html and ">OK<" in html


@pytest.mark.parametrize("label, message", [
    ("", "パスキーの名前を入力してください。"),
    ("あ" * 256, "パスキーの名前は255文字以内で入力してください。"),
])
def test_a_passkey_needs_a_name_of_at_most_255_characters(app, database, settings, member_id, label, message):
    member = registering(database, settings, member_id)
    member.submit(credential=SoftAuthenticator().create(member.options_shown(member.sees())))

    page = member.submit(label=label)

    assert steps.shown(app, page, "label") == [message]
    assert member.passkeys() == []
    assert member.submit(label="あ" * 255) == Done()


def test_sign_out_everywhere_ends_the_other_sessions_once_the_passkey_is_stored(database, settings, member_id):
    member = registering(database, settings, member_id)

    assert register(member, SoftAuthenticator(), sign_out_everywhere="y") == Done()

    assert member.sessions_ended == 1 and len(member.passkeys()) == 1


def test_a_second_factor_already_chosen_is_kept(database, settings, member_id):
    with database.session() as session:
        session.get(User, member_id).second_factor = "totp"
        session.commit()

    assert register(registering(database, settings, member_id), SoftAuthenticator()) == Done()

    assert registering(database, settings, member_id).user().second_factor == "totp"


def test_the_members_passkeys_are_excluded_and_registering_one_twice_is_refused(database, settings, member_id,
                                                                                registered):
    member = registering(database, settings, member_id)
    options = member.options_shown(member.sees())

    assert [item["id"] for item in options["publicKey"]["excludeCredentials"]] == [encode(registered.credential_id)]
    with pytest.raises(InvalidStateError):
        registered.create(options)
    page = member.submit(credential=registered.create(options, ignore_exclusions=True))

    assert page.template == "passkey-retry.html"
    assert page.errors == {"": ["webauthn_register.error.already_registered"]}
    assert len(member.passkeys()) == 1
    assert member.events == [("UPDATE_CREDENTIAL_ERROR", {"credential_type": "webauthn", "error": "credential_exists"})]


def test_a_browser_that_already_holds_one_of_the_members_passkeys_says_so(database, settings, member_id, registered):
    """The browser refuses to make a second passkey on the same device (InvalidStateError): the
    member is told to use another device, not that something failed."""
    member = registering(database, settings, member_id)
    member.sees()

    page = member.submit(webauthn_error="InvalidStateError")

    assert page.template == "passkey-retry.html"
    assert page.errors == {"": ["webauthn_register.error.already_registered"]}


@pytest.mark.parametrize("answer", [
    {"challenge": encode(b"an old challenge of another page")},
    {"origin": "https://evil.example"},
    {"origin": "http://localhost:8081"},
], ids=["another challenge", "another site", "another port"])
def test_a_registration_for_another_challenge_or_site_is_refused(database, settings, member_id, answer):
    member = registering(database, settings, member_id)

    page = member.submit(credential=SoftAuthenticator().create(member.options_shown(member.sees()), **answer))

    assert page.template == "passkey-retry.html" and page.status == 400
    assert member.passkeys() == []
    assert errors(member) == [("UPDATE_CREDENTIAL_ERROR", "invalid_registration")]


def test_a_passkey_of_another_site_is_refused(database, settings, member_id):
    member = registering(database, settings, member_id)

    page = member.submit(credential=SoftAuthenticator(rp_id="evil.example").create(member.options_shown(member.sees())))

    assert page.template == "passkey-retry.html" and member.passkeys() == []


def test_required_user_verification_refuses_a_passkey_made_without_it(database, settings, member_id):
    member = registering(database, settings, member_id, user_verification="required")

    page = member.submit(credential=SoftAuthenticator(user_verified=False).create(member.options_shown(member.sees())))

    assert page.template == "passkey-retry.html" and member.passkeys() == []


def test_a_cancelled_dialog_shows_the_retry_page_which_starts_the_registration_again(app, database, settings,
                                                                                     member_id):
    member = registering(database, settings, member_id)
    first = member.options_shown(member.sees())

    page = member.submit(webauthn_error="NotAllowedError", sign_out_everywhere="y")

    assert page.template == "passkey-retry.html"
    html = render(app, page)
    assert "再試行してください" in html and "セキュリティの設定" in html and 'name="retry"' in html
    again = member.submit(retry="1")
    assert again.template == "actions/webauthn-register.html"
    assert again.values["options"]["publicKey"]["challenge"] != first["publicKey"]["challenge"]
    assert register(member, SoftAuthenticator()) == Done()


def test_a_garbled_answer_is_refused_like_a_wrong_one(database, settings, member_id):
    member = registering(database, settings, member_id)
    member.sees()

    for garbage in ("{", "[]", json.dumps({"id": "x", "rawId": "y"}), "5"):
        assert member.submit(credential=garbage).template == "passkey-retry.html"
    assert member.passkeys() == []


def test_a_reload_after_the_dialog_shows_the_label_page_again(database, settings, member_id):
    member = registering(database, settings, member_id)
    member.submit(credential=SoftAuthenticator().create(member.options_shown(member.sees())))

    assert member.sees().template == "actions/webauthn-register-label.html"
    assert member.submit(label="パスキー") == Done()


# Sign-in (authenticate: passkey)

def test_the_step_is_set_up_only_for_members_with_a_passkey(database, settings, member_id):
    member = signing_in(database, settings, member_id)

    assert member.run(lambda step, ctx: (step.factor, step.setup_action, step.is_set_up(ctx))) == (
        "passkey", "webauthn-register", False)
    assert member.needed() is False


def test_the_member_signs_in_with_any_of_their_passkeys_and_its_use_is_recorded(database, settings, member_id,
                                                                                registered):
    laptop = SoftAuthenticator()
    assert register(registering(database, settings, member_id), laptop, label="会社のPC") == Done()
    member = signing_in(database, settings, member_id)
    assert member.needed()

    options = member.options_shown(member.sees())["publicKey"]
    allowed = {item["id"]: item["transports"] for item in options["allowCredentials"]}
    assert allowed == {encode(registered.credential_id): ["internal", "hybrid"],
                       encode(laptop.credential_id): ["internal", "hybrid"]}
    assert options["rpId"] == "localhost" and options["userVerification"] == "preferred"

    answer = laptop.get(member.options_shown(member.sees()), sign_count=3)
    assert member.submit(credential=answer) == Done(factor="passkey")

    used = {passkey.user_label: passkey for passkey in member.passkeys()}
    assert used["会社のPC"].credential_data["counter"] == 3
    assert used["会社のPC"].last_used_at.replace(tzinfo=UTC) == LATER
    assert used["わたしのiPhone"].last_used_at is None
    assert member.events == []


def test_cross_device_sign_in_is_offered_even_for_a_passkey_that_reported_no_transports(database, settings,
                                                                                        member_id):
    phone = SoftAuthenticator()
    member = registering(database, settings, member_id)
    member.submit(credential=phone.create(member.options_shown(member.sees()), transports=()))
    member.submit(label="パスキー")

    options = signing_in(database, settings, member_id).sees().values["options"]["publicKey"]

    assert options["allowCredentials"][0]["transports"] == ["hybrid"]


def test_a_passkey_that_never_counts_signs_in_every_time(database, settings, member_id, registered):
    member = signing_in(database, settings, member_id)

    for _ in range(2):
        answer = registered.get(member.options_shown(member.sees()), sign_count=0)
        assert member.submit(credential=answer) == Done(factor="passkey")


def test_a_sign_count_that_goes_backwards_is_refused_and_audited(app, database, settings, member_id, registered):
    member = signing_in(database, settings, member_id)
    answer = registered.get(member.options_shown(member.sees()), sign_count=10)
    assert member.submit(credential=answer) == Done(factor="passkey")
    [passkey] = member.passkeys()

    page = member.submit(credential=registered.get(member.options_shown(member.sees()), sign_count=4))

    assert page.template == "passkey.html" and page.status == 401
    assert steps.shown(app, page, "") == [] and "このパスキーではログインできません" in render(app, page)
    assert member.passkeys()[0].credential_data["counter"] == 10
    assert member.events == [("LOGIN_ERROR", {
        "error": "webauthn_sign_count", "credential_type": "webauthn", "credential_id": passkey.id,
        "stored_sign_count": 10, "received_sign_count": 4})]
    assert member.submit(credential=registered.get(member.options_shown(member.sees()), sign_count=10)).status == 401
    answer = registered.get(member.options_shown(member.sees()), sign_count=11)
    assert member.submit(credential=answer) == Done(factor="passkey")


@pytest.mark.parametrize("answer", [
    {"challenge": encode(b"an old challenge of another page")},
    {"origin": "https://evil.example"},
], ids=["another challenge", "another site"])
def test_a_sign_in_for_another_challenge_or_site_is_refused(database, settings, member_id, registered, answer):
    member = signing_in(database, settings, member_id)

    page = member.submit(credential=registered.get(member.options_shown(member.sees()), **answer))

    assert page.template == "passkey-retry.html"
    assert errors(member) == [("LOGIN_ERROR", "invalid_user_credentials")]
    assert member.passkeys()[0].last_used_at is None


def test_another_members_passkey_is_refused(database, settings, member_id, registered):
    other_id = steps.create_member(database, settings, "kosmo0002", password="Initial-2025")
    strangers_phone = SoftAuthenticator()
    assert register(registering(database, settings, other_id), strangers_phone) == Done()
    member = signing_in(database, settings, member_id)
    options = member.options_shown(member.sees())
    with pytest.raises(NotAllowedError):
        strangers_phone.get(options)

    page = member.submit(credential=strangers_phone.get({"publicKey": {**options["publicKey"],
                                                                      "allowCredentials": None}}))

    assert page.template == "passkey-retry.html"


def test_a_forged_signature_is_refused(database, settings, member_id, registered):
    member = signing_in(database, settings, member_id)
    forger = SoftAuthenticator()
    forger.credential_id = registered.credential_id

    page = member.submit(credential=forger.get(member.options_shown(member.sees())))

    assert page.template == "passkey-retry.html"


def test_a_cancelled_sign_in_shows_the_retry_page_which_returns_to_the_step(app, database, settings, member_id,
                                                                            registered):
    member = signing_in(database, settings, member_id)
    member.sees()

    page = member.submit(webauthn_error="NotAllowedError")

    assert page.template == "passkey-retry.html" and "再試行してください" in render(app, page)
    assert member.submit(retry="1").template == "passkey.html"
    assert member.submit(credential=registered.get(member.options_shown(member.sees()))) == Done(factor="passkey")


def test_the_sign_in_page_offers_the_button_and_the_qr_code_hint(app, database, settings, member_id, registered):
    html = render(app, signing_in(database, settings, member_id).sees())

    assert "生体認証でログイン" in html and "QRコード" in html and 'data-ceremony="get"' in html


# A passkey alone (authenticate: passkey-login, realm option webauthn.passkey_first_factor)

def login_page(database, settings, first_factor: bool) -> Member:
    anyone = steps.create_member(database, settings, "visitor01")
    return Member(database, settings, anyone, PasskeyLogin, now=LATER,
                  config_update=webauthn_realm(passkey_first_factor=first_factor))


def test_with_the_option_off_the_sign_in_page_is_the_password_page(database, settings, member_id, registered):
    page = login_page(database, settings, first_factor=False).sees()

    assert page.template == "login.html" and "options" not in page.values


def test_a_passkey_alone_names_the_member(database, settings, member_id, registered):
    visitor = login_page(database, settings, first_factor=True)
    page = visitor.sees()
    assert page.template == "passkey-login.html" and page.values["options"]["publicKey"].get("allowCredentials") is None

    answer = visitor.submit(credential=registered.get(page.values["options"], sign_count=1))

    assert isinstance(answer, Done) and answer.user.id == member_id
    assert visitor.passkeys() == [] and signing_in(database, settings, member_id).passkeys()[0].last_used_at


def test_the_password_still_works_on_the_passkey_sign_in_page(database, settings, member_id, registered):
    visitor = login_page(database, settings, first_factor=True)
    visitor.sees()

    wrong = visitor.submit(username="kosmo0001", password="wrong")
    assert wrong.template == "passkey-login.html" and wrong.errors == {"": ["login.invalid_credentials"]}
    answer = visitor.submit(username="kosmo0001", password="Initial-2025")
    assert isinstance(answer, Done) and answer.user.id == member_id


def test_a_passkey_whose_member_is_unknown_or_disabled_is_refused(database, settings, member_id, registered):
    visitor = login_page(database, settings, first_factor=True)
    with database.session() as session:
        session.get(User, member_id).enabled = False
        session.commit()

    page = visitor.submit(credential=registered.get(visitor.options_shown(visitor.sees())))

    assert page.template == "passkey-retry.html"
    assert errors(visitor) == [("LOGIN_ERROR", "invalid_user_credentials")]
