"""The authorization response in the mode the relying party asks for (`response_mode`), as Keycloak
delivers it (OIDCResponseMode, AuthorizationEndpointChecker): query by default for the code flow,
fragment as keycloak-js asks, form_post as an auto-submitting page, anything else refused."""
from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.sign_in import CALLBACK, REALM_PATH, add_member, authorize, pkce_pair, submit_sign_in

ISSUER = f"http://localhost{REALM_PATH}"


def signed_in_answer(client, database, settings, **overrides):
    add_member(database, settings)
    page = authorize(client, pkce_pair()[1], **overrides)
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    return submit_sign_in(client, page.get_data(as_text=True))


def fragment_params(response) -> dict:
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert not location.query
    return {key: values[0] for key, values in parse_qs(location.fragment).items()}


def test_fragment_mode_puts_the_code_in_the_fragment(client, database, settings):
    """keycloak-js's default: code, state, session_state and iss after the `#`."""
    response = signed_in_answer(client, database, settings, response_mode="fragment")

    assert response.headers["Location"].startswith(CALLBACK + "#")
    params = fragment_params(response)
    assert params["code"] and params["session_state"]
    assert params["state"] == "portal-state-1" and params["iss"] == ISSUER


def test_query_mode_and_no_mode_put_the_code_in_the_query(client, database, settings):
    response = signed_in_answer(client, database, settings, response_mode="query")

    location = urlsplit(response.headers["Location"])
    assert "code" in parse_qs(location.query) and not location.fragment


def test_form_post_mode_answers_a_page_that_posts_the_response_to_the_client(client, database, settings):
    """Keycloak answers a page whose form posts to the redirect URI; ours submits it from a static
    script (the CSP allows no inline script) and shows a button for browsers without script."""
    response = signed_in_answer(client, database, settings, response_mode="form_post")

    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert f'<form method="post" action="{CALLBACK}"' in page
    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    fields = {name: unescape(value) for name, value in hidden}
    assert fields["code"] and fields["session_state"]
    assert fields["state"] == "portal-state-1" and fields["iss"] == ISSUER
    assert '<button type="submit" class="button primary">サービスに戻る</button>' in page
    assert "js/form-post.js" in page and "<script>" not in page
    assert "http://localhost:8081" in response.headers["Content-Security-Policy"].split("form-action")[1].split(";")[0]
    assert any(cookie.startswith("KC_IDP_SESSION=") for cookie in response.headers.getlist("Set-Cookie"))


def test_an_error_goes_back_in_the_requested_mode(client):
    """A request without PKCE is refused at the client's fragment, as Keycloak answers errors."""
    response = authorize(client, None, response_mode="fragment")

    params = fragment_params(response)
    assert params["error"] == "invalid_request" and params["state"] == "portal-state-1"


@pytest.mark.parametrize("mode", ["nonsense", "query.jwt", "jwt"])
def test_an_unknown_response_mode_is_refused_with_keycloaks_error(client, mode):
    """Keycloak: invalid_request, "Invalid parameter: response_mode", in the default (query) mode.
    JWT-secured modes (JARM) are not supported, so they are refused the same way."""
    response = authorize(client, pkce_pair()[1], response_mode=mode)

    assert response.status_code == 302
    params = {key: values[0] for key, values in parse_qs(urlsplit(response.headers["Location"]).query).items()}
    assert params["error"] == "invalid_request"
    assert params["error_description"] == "Invalid parameter: response_mode"
    assert params["state"] == "portal-state-1"


def test_discovery_lists_exactly_the_modes_that_work(client):
    document = client.get(f"{REALM_PATH}/.well-known/openid-configuration").get_json()

    assert document["response_modes_supported"] == ["query", "fragment", "form_post"]


def test_the_unregistered_redirect_uri_page_is_html(client):
    response = authorize(client, pkce_pair()[1], redirect_uri="https://evil.example/cb")

    assert response.status_code == 400
    assert response.mimetype == "text/html"
