"""Front-channel logout (OpenID Connect Front-Channel Logout 1.0): when the member signs out in
the browser, the logout page frames each of the session's clients' front-channel logout URL (with
`iss` and `sid`), allows exactly those in its CSP, then goes on to the relying party."""
from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

from idp.realms import find_client, find_realm
from tests.support.sign_in import PORTAL, PORTAL_TOP, REALM
from tests.support.tokens import logout_url, signed_in_tokens

FRONTCHANNEL = "http://localhost:8081/frontchannel-logout"


def register_frontchannel_logout(database, session_required: bool = True) -> None:
    with database.session() as session:
        client = find_client(session, find_realm(session, REALM), PORTAL)
        client.attributes = {**client.attributes, "frontchannel_logout_url": FRONTCHANNEL,
                             "frontchannel_logout_session_required": session_required}
        session.commit()


def framed(response) -> list[str]:
    return [unescape(src) for src in re.findall(r'<iframe class="frontchannel-logout" src="([^"]+)"',
                                                response.get_data(as_text=True))]


def test_the_logout_page_frames_the_portals_logout_url_with_iss_and_sid_then_goes_on(client, database, settings):
    """Keycloak's front-channel logout page: an iframe per client with frontchannelLogout on and
    `iss`/`sid` when frontchannel.logout.session.required, then the post-logout redirect."""
    register_frontchannel_logout(database)
    answer = signed_in_tokens(client, database, settings)

    response = client.get(logout_url(id_token_hint=answer["id_token"], post_logout_redirect_uri=PORTAL_TOP,
                                     state="bye-2"))

    assert response.status_code == 200 and response.mimetype == "text/html"
    (url,) = framed(response)
    assert url.split("?")[0] == FRONTCHANNEL
    assert parse_qs(urlsplit(url).query) == {"iss": [f"http://localhost/realms/{REALM}"],
                                             "sid": [answer["session_state"]]}
    assert f'href="{PORTAL_TOP}?state=bye-2"' in response.get_data(as_text=True)
    assert "js/frontchannel-logout.js" in response.get_data(as_text=True)
    policy = response.headers["Content-Security-Policy"]
    assert policy.endswith(f"; frame-src {FRONTCHANNEL}") and "frame-ancestors 'none'" in policy


def test_without_session_required_the_url_is_framed_as_registered(client, database, settings):
    register_frontchannel_logout(database, session_required=False)
    answer = signed_in_tokens(client, database, settings)

    response = client.get(logout_url(id_token_hint=answer["id_token"]))

    assert framed(response) == [FRONTCHANNEL]


def test_a_client_without_frontchannel_logout_is_redirected_to_at_once(client, database, settings):
    """Keycloak redirects straight to post_logout_redirect_uri when no client needs a frame."""
    answer = signed_in_tokens(client, database, settings)

    response = client.get(logout_url(id_token_hint=answer["id_token"], post_logout_redirect_uri=PORTAL_TOP))

    assert response.status_code == 302 and response.headers["Location"] == PORTAL_TOP
    assert "frame-src" not in response.headers["Content-Security-Policy"]


def test_other_pages_frame_nothing(client):
    assert "frame-src" not in client.get(f"/realms/{REALM}/account").headers["Content-Security-Policy"]
