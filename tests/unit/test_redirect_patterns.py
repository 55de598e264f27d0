"""Redirect-URI and web-origin patterns match as Keycloak's RedirectUtils and WebOriginsUtils do
(the cases of Keycloak's RedirectUtilsTest)."""
from __future__ import annotations

import pytest

from idp.realms.redirect_patterns import (
    allowed_web_origins,
    check_redirect_pattern,
    redirect_uri_matches,
    web_origin_allowed,
)

SERVER = "https://idp.example.jp"


def matches(patterns: list[str], uri: str) -> bool:
    return redirect_uri_matches(patterns, uri, SERVER)


HTTPS = ["https://keycloak.org/test1", "https://keycloak.org/test2", "https://keycloak.org/parent/*"]


@pytest.mark.parametrize("uri", ["https://keycloak.org/test1", "https://keycloak.org/test2",
                                 "https://keycloak.org/parent", "https://keycloak.org/parent/child"])
def test_exact_uris_and_a_trailing_wildcard_match(uri):
    assert matches(HTTPS, uri)


@pytest.mark.parametrize("uri", ["https://keycloak.org/test", "https://keycloak.org/test1/child",
                                 "https://keycloak.com/test"])
def test_other_uris_do_not_match(uri):
    assert not matches(HTTPS, uri)


NATIVE = ["http://127.0.0.1", "http://127.0.0.1/callback", "http://[::1]", "http://[::1]/callback",
          "http://localhost", "http://localhost/callback"]


@pytest.mark.parametrize("uri", ["http://127.0.0.1:12324", "http://127.0.0.1:12324/callback",
                                 "http://[::1]:12324/callback", "http://localhost:12324/callback",
                                 "http://localhost/callback"])
def test_a_native_app_may_use_any_port_of_its_loopback_address(uri):
    assert matches(NATIVE, uri)


@pytest.mark.parametrize("uri", ["http://127.0.0.1@invalid.com", "http://127.0.0.1:12324@invalid.com/callback",
                                 "http://[::1]@invalid.com", "http://localhost:12324@invalid.com/callback"])
def test_user_info_never_passes_for_a_loopback_address(uri):
    assert not matches(NATIVE, uri)


MIXED = ["https://keycloak.org/*", "custom1:/test1", "custom1:/test2", "custom1:/parent/*", "custom2:*"]


@pytest.mark.parametrize("uri", ["custom1:/test1", "custom1:/parent/child", "custom2:/something",
                                 "https://keycloak.org/test", "https://keycloak.org/", "https://keycloak.org"])
def test_an_apps_own_scheme_matches_its_own_patterns(uri):
    assert matches(MIXED, uri)


@pytest.mark.parametrize("uri", ["custom1:/test", "custom1:/test1/test", "custom3:/test"])
def test_an_apps_own_scheme_matches_nothing_else(uri):
    assert not matches(MIXED, uri)


def test_any_matches_the_web_but_not_an_apps_own_scheme():
    assert matches(["*"], "https://keycloak.org/test")
    assert matches(["*"], "http://keycloak.org/test/../other")
    assert not matches(["*"], "custom3:/test")
    assert matches(["custom2:*", "*"], "custom2:/something")


@pytest.mark.parametrize("uri, matched", [
    ("https://keycloak.org/path%20space/", True), ("https://keycloak.org/path/index.jsp?param=v1+v2", True),
    ("https://keycloak.org/path space/", False), ("https://keycloak.org/path<less/", False),
    ("https://keycloak.org/path/index.jsp?param=v1 v2", False),
])
def test_only_valid_uris_match(uri, matched):
    assert matches(["https://keycloak.org/*"], uri) is matched


@pytest.mark.parametrize("uri, matched", [
    ("https://keycloak.org/index.html", True), ("http://KeyCloak.org/index.html", True),
    ("no.host.Name.App:/Test", True), ("https://KeyCloak.org/index.html", False),
    ("http://keycloak.org/index.html", False), ("HTTPS://keycloak.org/index.html", False),
    ("no.host.Name.app:/Test", False), ("no.host.Name.App:/test", False),
])
def test_matching_is_case_sensitive(uri, matched):
    assert matches(["https://keycloak.org/*", "http://KeyCloak.org/*", "no.host.Name.App:/Test"], uri) is matched


@pytest.mark.parametrize("uri, matched", [
    ("https://keycloak.org/index.html", True), ("https://test/index.html", True),
    ("https://something@keycloak.com/exact", True), ("https://test.com/index.html", False),
    ("https://keycloak.org@other.com", False), ("https://keycloak.org%2F@other.com", False),
    ("https://test@other.com", False), ("https://something@keycloak.org/path", False),
    ("https://test@test.com:-2/path", False),
])
def test_a_wildcard_never_matches_user_info(uri, matched):
    assert matches(["https://keycloak.org/*", "https://test*", "https://something@keycloak.com/exact"], uri) is matched


@pytest.mark.parametrize("uri, matched", [
    ("https://keycloak.org/test/index.html", True), ("https://keycloak.org/test?encodeTest=a%3Cb", True),
    ("https://keycloak.org/test/../", False), ("https://keycloak.org/test/..;/", False),
    ("https://keycloak.org/test/%2E%2E/", False), ("https://keycloak.org/test/..", False),
])
def test_a_wildcard_never_matches_a_path_climbing_out_of_it(uri, matched):
    assert matches(["https://keycloak.org/test/*"], uri) is matched


def test_a_query_is_compared_without_a_wildcard_and_ignored_with_one():
    assert matches(["https://app.example.jp/cb?tenant=a"], "https://app.example.jp/cb?tenant=a")
    assert not matches(["https://app.example.jp/cb?tenant=a"], "https://app.example.jp/cb?tenant=b")
    assert not matches(["https://app.example.jp/cb"], "https://app.example.jp/cb?next=1")
    assert matches(["https://app.example.jp/*"], "https://app.example.jp/cb?next=1")
    # a wildcard after a query is no wildcard: only the same text matches
    assert not matches(["https://app.example.jp/cb?x=*"], "https://app.example.jp/cb?x=1")


def test_a_path_pattern_is_relative_to_the_servers_origin():
    assert matches(["/test-app-authz/*"], "https://idp.example.jp/test-app-authz/callback")
    assert not matches(["/test-app-authz/*"], "https://app.example.jp/test-app-authz/callback")


@pytest.mark.parametrize("pattern", ["https://*.example.jp/cb", "app.example.jp/cb", "https://a.jp/cb#x",
                                     "https://a.jp/a b"])
def test_a_pattern_keycloak_would_not_match_as_meant_is_refused(pattern):
    with pytest.raises(ValueError, match="must be|wildcard"):
        check_redirect_pattern(pattern)


def test_web_origins_resolve_plus_to_the_redirect_uris_origins():
    redirects = ["https://app.example.jp/*", "/portal/*", "custom1:/cb", "*"]
    assert allowed_web_origins(["+"], redirects, SERVER) == {"https://app.example.jp", SERVER}
    assert web_origin_allowed(["+"], redirects, "https://app.example.jp", SERVER)
    assert not web_origin_allowed(["+"], redirects, "https://evil.example.jp", SERVER)
    assert web_origin_allowed(["*"], [], "https://anyone.example.jp", SERVER)
    assert web_origin_allowed(["https://spa.example.jp"], [], "https://spa.example.jp", SERVER)
    assert not web_origin_allowed(["https://spa.example.jp"], [], "http://spa.example.jp", SERVER)
