"""Every answer carries the security headers: pages, token JSON, error pages and static files."""
from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from tests.support.settings import make_settings
from tests.support.sign_in import (
    CALLBACK,
    MEMBER_ID,
    MEMBER_PASSWORD,
    OIDC,
    PORTAL_TOP,
    REALM_PATH,
    add_member,
    authorization_params,
    authorize,
    form_action,
    hidden_value,
    pkce_pair,
    redirect_params,
    sign_in_for_code,
    sso_cookie_header,
)
from tests.support.tokens import exchange

ACCOUNT = f"{REALM_PATH}/account"
ALWAYS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


def assert_hardened(response, cache_control: str = "no-store") -> None:
    for header, value in ALWAYS.items():
        assert response.headers.get(header) == value, header
    directives = csp_directives(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert "'self'" in directives["form-action"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == cache_control
    if cache_control == "no-store":
        assert response.headers["Pragma"] == "no-cache"
    assert "Strict-Transport-Security" not in response.headers  # the test app is served over http


def assert_no_inline_code(page: str) -> None:
    """Nothing a CSP without 'unsafe-inline' would block: inline scripts, style attributes, handlers."""
    for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S):
        data_block = 'type="application/json"' in attributes
        assert "src=" in attributes or data_block, f"inline script: {body[:80]}"
        assert data_block or not body.strip()
    assert "<style" not in page
    assert not re.search(r"\sstyle=", page)
    assert not re.search(r"\son[a-z]+=", page)
    assert "javascript:" not in page


def test_the_sign_in_page_is_hardened_and_has_no_inline_code(client):
    response = authorize(client, pkce_pair()[1])

    assert response.status_code == 200
    assert_hardened(response)
    assert_no_inline_code(response.get_data(as_text=True))
    assert 'name="referrer"' not in response.get_data(as_text=True)


def test_form_action_allows_the_realms_relying_parties_to_receive_the_member_back(client):
    """Chrome applies form-action to the redirect after the last form: the portal must be listed."""
    directives = csp_directives(authorize(client, pkce_pair()[1]))

    assert "http://localhost:8081" in directives["form-action"]
    assert PORTAL_TOP.startswith("http://localhost:8081") and CALLBACK.startswith("http://localhost:8081")


def test_a_step_page_is_hardened_and_has_no_inline_code(client, database, settings):
    add_member(database, settings)
    sign_in_for_code(client)
    client.get(ACCOUNT)
    response = client.get(f"{OIDC}/auth?" + urlencode(authorization_params(pkce_pair()[1],
                                                                           kc_action="UPDATE_PASSWORD")))
    page = response.get_data(as_text=True)

    assert response.status_code == 200, page[:400]
    assert 'name="password_confirm"' in page
    assert_hardened(response)
    assert_no_inline_code(page)


def test_the_account_page_is_hardened_and_has_no_inline_code(client, database, settings):
    add_member(database, settings, email_verified=True)
    sign_in_for_code(client)
    response = client.get(ACCOUNT)
    while response.status_code in (302, 303):
        response = client.get(response.headers["Location"])
    page = response.get_data(as_text=True)

    assert response.status_code == 200, page[:400]
    assert MEMBER_ID in page
    assert_hardened(response)
    assert_no_inline_code(page)


def test_the_token_answer_is_hardened(client, database, settings):
    add_member(database, settings)
    verifier, challenge = pkce_pair()
    code = sign_in_for_code(client, (verifier, challenge))["code"]

    response = exchange(client, code, verifier)

    assert response.status_code == 200
    assert_hardened(response)


def test_a_token_error_is_hardened(client):
    response = exchange(client, "no-such-code", "verifier")

    assert response.status_code in (400, 401)
    assert_hardened(response)


@pytest.mark.parametrize("path", ["/no-such-page", "/realms/no-such-realm/account/"])
def test_an_error_page_is_hardened(client, path):
    response = client.get(path)

    assert response.status_code == 404
    assert_hardened(response)
    assert_no_inline_code(response.get_data(as_text=True))


def test_static_files_may_be_cached_for_an_hour(client):
    response = client.get("/resources/ja/css/idp.css")

    assert response.status_code == 200
    assert_hardened(response, cache_control="public, max-age=3600")
    assert "Pragma" not in response.headers


def https_client(tmp_path):
    from idp.app import create_app
    from idp.db import Database
    from idp.setup import prepare

    settings = make_settings(tmp_path, base_url="https://idp.example")
    database = Database(settings.database_url)
    prepare(settings, database)
    add_member(database, settings)
    return create_app(settings, database).test_client(), database


def test_hsts_is_sent_only_when_the_identity_provider_is_served_over_https(client, tmp_path):
    secure, database = https_client(tmp_path)

    over_https = secure.get(f"https://idp.example{OIDC}/auth?" + urlencode(authorization_params(pkce_pair()[1])))

    assert over_https.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in authorize(client, pkce_pair()[1]).headers
    database.dispose()


def test_an_https_sign_in_works_without_a_referer(tmp_path):
    """Browsers send none (Referrer-Policy: no-referrer); the CSRF token is what protects the form."""
    secure, database = https_client(tmp_path)
    page = secure.get(f"https://idp.example{OIDC}/auth?" + urlencode(authorization_params(pkce_pair()[1])))
    page = page.get_data(as_text=True)

    response = secure.post("https://idp.example" + form_action(page),
                           data={"csrf_token": hidden_value(page, "csrf_token"), "tab_id": hidden_value(page, "tab_id"),
                                 "step": hidden_value(page, "step"), "username": MEMBER_ID,
                                 "password": MEMBER_PASSWORD})

    assert "Referer" not in response.request.headers
    assert "code" in redirect_params(response)
    assert "Secure" in sso_cookie_header(response)
    database.dispose()


def test_an_https_form_without_its_csrf_token_is_still_refused(tmp_path):
    secure, database = https_client(tmp_path)
    page = secure.get(f"https://idp.example{OIDC}/auth?" + urlencode(authorization_params(pkce_pair()[1])))
    page = page.get_data(as_text=True)

    response = secure.post("https://idp.example" + form_action(page),
                           data={"tab_id": hidden_value(page, "tab_id"), "step": hidden_value(page, "step"),
                                 "username": MEMBER_ID, "password": MEMBER_PASSWORD})

    assert response.status_code == 400
    assert "KC_IDP_SESSION=" not in " ".join(response.headers.getlist("Set-Cookie"))
    database.dispose()
