"""Every route of the identity provider (app.url_map) called by hypothesis with arbitrary
parameters, odd Unicode, over-long and missing values, malformed tokens, JSON of the wrong
shape and raw bytes: relying parties and browsers never get a server error, and a refused
request changes no stored row. On SQLite and (when configured) PostgreSQL.
"""
from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote, urlencode

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from tests.support.fuzz import assert_answered, form, fuzz, json_values, nasty_text, plausible, value_of
from tests.support.sign_in import CALLBACK, OIDC, PORTAL, PORTAL_SECRET, REALM, REALM_PATH, hidden_value

# Path parameters (<name> in app.url_map rules): the realm is mostly the demo one, so the route's
# own checks run; the others are anything.
PATH_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@pytest.fixture
def stage(stage_on):
    """Keycloak's browser flow: the password, the app's code for members who have one, queued actions."""
    return stage_on("  - authenticate: otp\n    if: otp-configured\n  - pending-required-actions\n")


def path_part(*plausible_values: str) -> st.SearchStrategy[str]:
    """A value for a URL path segment, percent-encoded as a browser sends it."""
    return value_of(plausible(*plausible_values) if plausible_values else None).map(lambda text: quote(text, safe=""))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def segment(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@st.composite
def token_like(draw) -> str:
    """Something shaped like a JWT (header, claims of the wrong types, signature), or any text."""
    header = draw(st.one_of(json_values(), st.just({"alg": "RS256", "kid": draw(nasty_text())}),
                            st.just({"alg": "none"})))
    claims = draw(st.one_of(json_values(), st.fixed_dictionaries({
        "typ": value_of(plausible("Bearer", "Refresh", "ID")), "sub": json_values(), "exp": json_values(),
        "azp": json_values(), "sid": json_values(), "fam": json_values(), "iss": json_values()})))
    shaped = f"{segment(header)}.{segment(claims)}.{draw(st.sampled_from(('', 'c2ln', '....')))}"
    return draw(st.one_of(st.just(shaped), nasty_text(), st.just("a.b.c"), st.just("..")))


# --- any URL ---------------------------------------------------------------------------------

@fuzz(examples=60)
@given(data=st.data(), args=form({"client_id": value_of(plausible(PORTAL)), "tab_id": value_of(),
                                  "state": value_of(), "step": value_of()}))
def test_every_route_answers_any_path_query_and_body_without_changing_anything(stage, data, args):
    """Drawn from app.url_map itself, so routes added later are fuzzed too."""
    rules = sorted((rule.rule, method) for rule in stage.app.url_map.iter_rules()
                   for method in rule.methods - {"HEAD", "OPTIONS"} if rule.endpoint != "static")
    rule, method = data.draw(st.sampled_from(rules))
    values = {name: data.draw(path_part(REALM, REALM.upper(), "master") if name == "realm" else path_part())
              for name in PATH_PARAMETER.findall(rule)}
    path = PATH_PARAMETER.sub(lambda match: values[match.group(1)], rule)
    query = urlencode(list(args.items(multi=True)))
    request = data.draw(body({"username": value_of(), "password": value_of(), "label": value_of()}))
    stage.refused(lambda: stage.browser().open(f"{path}?{query}", method=method,
                                                **(request if method != "GET" else {})), (method, path))


@fuzz(examples=10)
@given(name=path_part("css/idp.css", "js/step-poll.js", "../../../pyproject.toml"))
def test_any_static_file_name_is_served_or_not_found(stage, name):
    response = stage.browser().get(f"/resources/ja/{name}")
    assert_answered(response, name)


# --- the authorization endpoint --------------------------------------------------------------

AUTHORIZATION = {
    "client_id": value_of(plausible(PORTAL, "account-console", "kosmo-batch")),
    "redirect_uri": value_of(plausible(CALLBACK, CALLBACK + "/../evil", "http://localhost:8081/callback?x=1")),
    "response_type": value_of(plausible("code", "token", "id_token", "code id_token")),
    "scope": value_of(plausible("openid", "openid profile email", "offline_access")),
    "state": value_of(), "nonce": value_of(),
    "prompt": value_of(plausible("none", "login", "consent")),
    "max_age": value_of(plausible("0", "60", "-1", "１０", "²", "99999999999999999999")),
    "login_hint": value_of(),
    "ui_locales": value_of(plausible("ja", "en")),
    "code_challenge": value_of(plausible("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")),
    "code_challenge_method": value_of(plausible("S256", "plain", "s256")),
    "response_mode": value_of(plausible("query", "fragment", "form_post")),
    "kc_action": value_of(plausible("UPDATE_PASSWORD", "CONFIGURE_TOTP", "webauthn-register", "UPDATE_EMAIL")),
}


@fuzz(examples=25)
@given(params=form(AUTHORIZATION), signed_in=st.booleans(), method=st.sampled_from(("GET", "POST")))
# Authlib echoes an unknown response_type into an error description, where RFC 6749 allows only
# printable ASCII: it raised ValueError instead of answering unsupported_response_type.
@example(params=MultiDict([("response_type", "\x1f")]), signed_in=False, method="GET")
@example(params=MultiDict([("client_id", PORTAL), ("redirect_uri", CALLBACK), ("response_type", "コード")]),
         signed_in=False, method="POST")
# Authlib repeated an unregistered redirect_uri in its error description too (found by deep).
@example(params=MultiDict([("client_id", PORTAL), ("redirect_uri", "\x1f"), ("response_type", "code")]),
         signed_in=False, method="GET")
# A signed-in browser's max_age went through int(), which refuses "²" although str.isdigit() passes it.
@example(params=MultiDict([("client_id", PORTAL), ("redirect_uri", CALLBACK), ("response_type", "code"),
                           ("max_age", "²")]), signed_in=True, method="GET")
def test_authorization_requests_with_any_parameters_never_fail(stage, params, signed_in, method):
    browser = stage.signed_in(stage.member()) if signed_in else stage.browser()
    before = stage.snapshot()
    if method == "GET":
        response = browser.get(f"{OIDC}/auth?" + urlencode(list(params.items(multi=True))))
    else:
        response = browser.post(f"{OIDC}/auth", data=params)
    assert_answered(response, dict(params.lists()))
    issued_code = response.status_code == 302 and "code=" in response.headers.get("Location", "")
    if not issued_code:  # an SSO answer with a code records the portal's share of the session
        from tests.support.fuzz import assert_unchanged
        assert_unchanged(before, stage.snapshot(), dict(params.lists()))


# --- the token, introspection and revocation endpoints ---------------------------------------

TOKEN_REQUEST = {
    "grant_type": value_of(plausible("authorization_code", "refresh_token", "password", "client_credentials",
                                     "urn:ietf:params:oauth:grant-type:token-exchange")),
    "code": value_of(), "redirect_uri": value_of(plausible(CALLBACK)), "code_verifier": value_of(),
    "refresh_token": token_like(), "username": value_of(), "password": value_of(), "scope": value_of(),
    "client_id": value_of(plausible(PORTAL, "kosmo-batch")), "client_secret": value_of(plausible(PORTAL_SECRET)),
    "client_assertion": token_like(), "client_assertion_type": value_of(),
}
def header(value: str) -> str:
    """As a header can carry it: HTTP servers end a header at a line break, and the test client refuses one."""
    return value.replace("\r", "").replace("\n", "")


CLIENT_AUTHENTICATION = st.one_of(st.none(), st.just(basic(PORTAL, PORTAL_SECRET)), st.just(basic(PORTAL, "x")),
                                  nasty_text().map(lambda text: basic(text, text)),
                                  st.sampled_from(("Basic", "Basic !!!", "Basic " + base64.b64encode(b"\xff\xfe:")
                                                   .decode(), "Bearer x", "Basic " + "A" * 10_000)))


@st.composite
def body(draw, fields: dict):
    """The request body: a form, JSON of any shape, or raw bytes (with a form content type)."""
    kind = draw(st.sampled_from(("form", "form", "json", "bytes")))
    if kind == "form":
        return {"data": draw(form(fields))}
    if kind == "json":
        return {"json": draw(json_values())}
    return {"data": draw(st.binary(max_size=300)), "content_type": "application/x-www-form-urlencoded"}


@fuzz(examples=30)
@given(endpoint=st.sampled_from(("token", "token/introspect", "revoke")), request=body(TOKEN_REQUEST | {
    "token": token_like(), "token_type_hint": value_of(plausible("access_token", "refresh_token"))}),
       authorization=CLIENT_AUTHENTICATION)
# Basic credentials that are not UTF-8 made Authlib raise UnicodeDecodeError.
@example(endpoint="token/introspect", request={"data": MultiDict()}, authorization="Basic //46")
# A NUL in Basic credentials reached the client lookup: a 500 on PostgreSQL (found by deep).
@example(endpoint="token/introspect", request={"json": None}, authorization="Basic ADoA")
@example(endpoint="token", request={"data": MultiDict([("grant_type", "client_credentials")])},
         authorization="Basic " + base64.b64encode(b"kosmo-batch:\xff").decode())
def test_token_introspection_and_revocation_refuse_anything_malformed(stage, endpoint, request, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    send = lambda: stage.browser().post(f"{OIDC}/{endpoint}", headers=headers, **request)  # noqa: E731
    if endpoint == "token" and request.get("data", {}) and _may_be_granted(request["data"], authorization):
        assert_answered(send(), request)
        return
    stage.refused(send, (endpoint, request, authorization))


def _may_be_granted(data, authorization) -> bool:
    """kosmo-batch's client credentials could be right by chance: only then may a token be issued."""
    return isinstance(data, MultiDict) and data.get("grant_type") == "client_credentials"


@fuzz(examples=15)
@given(authorization=st.one_of(st.none(), token_like().map(lambda token: header("Bearer " + token)),
                               st.sampled_from(("Bearer", "bearer  ", "Basic abc"))),
       params=form({"access_token": token_like()}), method=st.sampled_from(("GET", "POST")))
def test_userinfo_refuses_any_token_but_a_real_one(stage, authorization, params, method):
    headers = {"Authorization": authorization} if authorization else {}
    if method == "GET":
        send = lambda: stage.browser().get(f"{OIDC}/userinfo?" + urlencode(list(params.items(multi=True))),  # noqa: E731
                                           headers=headers)
    else:
        send = lambda: stage.browser().post(f"{OIDC}/userinfo", data=params, headers=headers)  # noqa: E731
    response = stage.refused(send, (authorization, params))
    assert response.status_code in (400, 401, 405)


# --- signing out -----------------------------------------------------------------------------

@fuzz(examples=20)
@given(params=form({
    "id_token_hint": token_like(), "post_logout_redirect_uri": value_of(plausible("http://localhost:8081/")),
    "client_id": value_of(plausible(PORTAL)), "state": value_of(), "confirm": value_of(plausible("1")),
    "csrf_token": value_of(), "refresh_token": token_like(), "client_secret": value_of(plausible(PORTAL_SECRET)),
}), signed_in=st.booleans(), method=st.sampled_from(("GET", "POST")), authorization=CLIENT_AUTHENTICATION)
def test_logout_without_a_real_hint_or_confirmation_ends_nothing(stage, params, signed_in, method, authorization):
    browser = stage.signed_in(stage.member()) if signed_in else stage.browser()
    headers = {"Authorization": authorization} if authorization else {}
    if method == "GET":
        send = lambda: browser.get(f"{OIDC}/logout?" + urlencode(list(params.items(multi=True))))  # noqa: E731
    else:
        send = lambda: browser.post(f"{OIDC}/logout", data=params, headers=headers)  # noqa: E731
    stage.refused(send, (method, dict(params.lists())))


# --- the sign-in pages' plumbing -------------------------------------------------------------

@fuzz(examples=20)
@given(fields=form({"tab_id": value_of(), "step": value_of(plausible("0.0", "1.1", "-1.0")),
                    "cancel": value_of(plausible("1")), "csrf_token": value_of()}),
       keep=st.sets(st.sampled_from(("tab_id", "step", "csrf_token"))))
def test_a_step_form_with_broken_hidden_fields_changes_nothing(stage, fields, keep):
    visit = stage.sign_in_page()
    submission = MultiDict([(name, value) for name, value in fields.items(multi=True) if name not in keep])
    submission.update({"username": "nobody-here", "password": "wrong"})
    for name in keep:
        submission[name] = hidden_value(visit.page, name)
    response = stage.refused(lambda: visit.send(submission), dict(submission.lists()))
    if not keep >= {"tab_id", "step", "csrf_token"}:
        assert response.status_code != 302


@fuzz(examples=20)
@given(route=st.sampled_from(("step", "status", "reset-credentials", "forgot-user-id", "link/")),
       key=path_part(), args=form({"tab_id": value_of(), "step": value_of(), "client_id": value_of(plausible(PORTAL))}),
       in_a_sign_in=st.booleans())
def test_sign_in_pages_and_mailed_links_with_any_address_change_nothing(stage, route, key, args, in_a_sign_in):
    browser = stage.sign_in_page().client if in_a_sign_in else stage.browser()
    path = f"{REALM_PATH}/login-actions/{route}{key if route == 'link/' else ''}"
    stage.refused(lambda: browser.get(f"{path}?" + urlencode(list(args.items(multi=True)))), path)


# --- the account pages -----------------------------------------------------------------------

ACCOUNT_GETS = ("", "/start/{}", "/security/{}/rename", "/security/{}/remove", "/email/updated", "/callback",
                "/sessions", "/security")
ACCOUNT_POSTS = ("/security/{}/rename", "/security/{}/remove", "/sessions/{}/logout", "/sessions/others/logout",
                 "/security/preferred", "/security/email-code")


@fuzz(examples=25)
@given(route=st.sampled_from([("GET", path) for path in ACCOUNT_GETS] + [("POST", path) for path in ACCOUNT_POSTS]),
       part=path_part("passkey", "totp", "password", "email", "verify-email"), args=form({
           "kc_action_status": value_of(plausible("success", "cancelled", "error")),
           "action": value_of(plausible("email", "passkey")), "state": value_of(), "code": value_of(),
           "error": value_of(), "second_factor": value_of(plausible("otp", "email")), "label": value_of()}),
       keep_csrf=st.booleans())
def test_account_addresses_with_any_ids_and_parameters_change_nothing(stage, route, part, args, keep_csrf):
    method, path = route
    member = stage.member(email_verified=True)
    browser = stage.signed_in(member)
    url = f"{REALM_PATH}/account{path.format(part)}"
    if method == "GET":
        stage.refused(lambda: browser.get(f"{url}?" + urlencode(list(args.items(multi=True)))), url)
        return
    data = MultiDict(args)
    if keep_csrf:
        data["csrf_token"] = hidden_value(browser.get(f"{REALM_PATH}/account/security").get_data(as_text=True),
                                          "csrf_token")
    if path == "/security/email-code" and keep_csrf:
        assert_answered(browser.post(url, data=data), url)  # switching codes by mail on is this form's job
        return
    stage.refused(lambda: browser.post(url, data=data), (url, dict(data.lists())))


# --- what the fuzzing found ------------------------------------------------------------------

@pytest.mark.parametrize("where", ["realm", "client_id", "user ID", "tab_id", "factor id", "JSON body"])
def test_a_nul_anywhere_is_a_malformed_request_and_changes_nothing(stage, where):
    """PostgreSQL cannot compare text with NUL: every lookup with one was a server error there."""
    member = stage.member(email_verified=True)
    visit, signed_in = stage.sign_in_page(), stage.signed_in(member)
    browser = visit.client
    requests = {
        "realm": lambda: browser.get("/realms/kosmo%00demo/.well-known/openid-configuration"),
        "client_id": lambda: browser.get(f"{OIDC}/auth?client_id=kosmo-portal%00&response_type=code"),
        "user ID": lambda: visit.send(MultiDict({"username": member.username + "\x00", "password": "x"})),
        "tab_id": lambda: browser.get(f"{REALM_PATH}/login-actions/step?tab_id=%00"),
        "factor id": lambda: signed_in.get(f"{REALM_PATH}/account/security/%00/rename"),
        "JSON body": lambda: browser.post(f"/admin/realms/{REALM}/users", json={"username": "hanako\x00"}),
    }
    response = stage.refused(requests[where], where)
    assert response.status_code == 400
    # Members read the error page; the Admin API answers in Keycloak's JSON.
    assert ("Bad Request" if where == "JSON body" else "エラー") in response.get_data(as_text=True)


def test_a_255_character_user_id_is_a_wrong_sign_in_like_any_other(stage):
    """Its brute-force counter's key outgrew the SQL ephemeral store's 255-character column
    (a 500 on PostgreSQL, where the length is enforced)."""
    visit = stage.sign_in_page()
    response = stage.refused(lambda: visit.send(MultiDict({"username": "a" * 255, "password": "wrong"})))
    assert response.status_code == 401
    assert "ユーザIDまたはパスワードが正しくありません" in response.get_data(as_text=True)
