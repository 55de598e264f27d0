"""What a member does in the browser around the account pages: sign in at the portal (which
gives the SSO cookie the pages read) and send a page's form with its CSRF token."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.support.sign_in import REALM_PATH, authorize, hidden_value, pkce_pair, submit_sign_in
from tests.support.tokens import exchange

ACCOUNT = f"{REALM_PATH}/account"


def sign_in_at_portal(client) -> dict:
    """The member signs in at the portal in this browser; the portal's token response."""
    verifier, challenge = pkce_pair()
    page = authorize(client, challenge).get_data(as_text=True)
    location = submit_sign_in(client, page).headers["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    return exchange(client, code, verifier).get_json()


def post(browser, path: str, page_with_token: str | None = None, **data):
    """Send a form of the page at `page_with_token` (its CSRF token included)."""
    token_page = browser.get(page_with_token or f"{ACCOUNT}/security").get_data(as_text=True)
    return browser.post(path, data={"csrf_token": hidden_value(token_page, "csrf_token"), **data})
