"""Importing a Keycloak 26 realm export (both `kc.sh export --users` layouts): settings, clients, members
with their ids, roles, groups, first-sign-in progress and credentials, all or nothing; `--dry-run`'s plan."""
from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from idp.authenticators.webauthn_server import decode
from idp.db.models import Client, Credential, Realm, User
from idp.db.users import check_password, create_user, find_user, otp_key, password_credential
from idp.realms import client_secret_matches, save_realm
from idp.realms.export import export_realm, realm_yaml
from idp.realms.keycloak import (
    ExportFiles,
    KeycloakImportError,
    import_file,
    parse_export,
    plan_import,
    read_export,
    read_exports,
    write_import,
)
from idp.realms.keycloak_mapping import AttributeMapping
from idp.realms.keycloak_models import RealmRepresentation, validated
from idp.realms.redirect_patterns import allowed_web_origins
from idp.realms.schema import RealmConfig
from idp.yamlfile import load_model
from tests.support.keycloak_exports import real_exports
from tests.support.settings import make_settings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "keycloak"
EXPORT = FIXTURES / "kosmo-kc-realm.json"
SPLIT = FIXTURES / "different-files"
IMPORTED_AT = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path, database_url):
    flows = tmp_path / "flows"
    flows.mkdir()
    return make_settings(tmp_path, database_url=database_url, flows_dir=flows)


@pytest.fixture
def database(migrated_database):
    """No realms here: each test imports what it needs."""
    return migrated_database


@pytest.fixture
def export() -> dict:
    return json.loads(EXPORT.read_text(encoding="utf-8"))


@pytest.fixture
def imported(database, settings):
    with database.session() as session:
        realm, _ = import_file(session, EXPORT, settings)
    return realm


def user_entry(export: dict, username: str) -> dict:
    return next(u for u in export["users"] if u["username"] == username)


def parse(export: dict, settings, mapping: AttributeMapping | None = None):
    return parse_export(ExportFiles(export), settings, mapping, now=IMPORTED_AT)


def parsed_member(export: dict, settings, username: str, mapping: AttributeMapping | None = None):
    return next(member for _, member in parse(export, settings, mapping).users if member.username == username)


def members_count():
    """The query that counts members, service accounts aside."""
    return select(func.count()).select_from(User).where(User.service_account_client_id.is_(None))


def refusal(export: dict, settings) -> str:
    with pytest.raises(KeycloakImportError) as refused:
        parse(export, settings)
    return str(refused.value)


# Realm settings and clients


def test_realm_settings_are_carried_over_under_their_keycloak_meaning(export, settings):
    config = parse(export, settings).config
    assert config.realm == "kosmo-kc"
    assert config.display_name == "KOSMO 健康保険組合"
    assert config.password_policy == "length(8) and maxLength(64) and notUsername(undefined) and passwordHistory(3)"
    assert config.browser_flow == "browser"
    assert config.remember_me is True
    tokens = config.tokens
    assert (tokens.access_token_lifespan, tokens.access_code_lifespan, tokens.login_timeout) == (600, 90, 1800)
    assert (config.tokens.sso_session_idle_timeout, config.tokens.sso_session_max_lifespan) == (3600, 43200)
    assert (config.tokens.remember_me_idle_timeout, config.tokens.remember_me_max_lifespan) == (604800, 2592000)
    assert config.tokens.revoke_refresh_token is True
    assert config.tokens.signature_algorithm == "RS256"
    assert config.brute_force.enabled is True
    assert config.brute_force.failure_factor == 5
    assert config.brute_force.max_failure_wait_seconds == 900
    assert (config.email.from_address, config.email.from_display_name) == ("no-reply@kosmo-kc.example.jp", "KOSMO Web")


def test_refresh_token_reuse_is_carried_over_with_keycloaks_defaults(export, settings):
    """Pins Keycloak's realm defaults: `revokeRefreshToken` absent means false (reuse allowed)."""
    export.update(revokeRefreshToken=True, refreshTokenMaxReuse=2)
    assert (parse(export, settings).config.tokens.refresh_token_max_reuse) == 2
    del export["revokeRefreshToken"], export["refreshTokenMaxReuse"]
    tokens = parse(export, settings).config.tokens
    assert (tokens.revoke_refresh_token, tokens.refresh_token_max_reuse) == (False, 0)


def test_a_clients_default_and_optional_client_scopes_are_carried_over(export, settings):
    """Pins Keycloak's ClientRepresentation defaultClientScopes/optionalClientScopes; a scope of the
    realm's own making is noted, and a client without the lists keeps Keycloak 26's defaults."""
    portal = next(c for c in export["clients"] if c["clientId"] == "kosmo-portal")
    portal.update(defaultClientScopes=["profile", "email", "roles", "kosmo-member-no"],
                  optionalClientScopes=["address", "offline_access"])
    app = next(c for c in export["clients"] if c["clientId"] == "kosmo-app")
    app.pop("defaultClientScopes", None), app.pop("optionalClientScopes", None)
    parsed = parse(export, settings)
    clients = {c.client_id: c for c in parsed.config.clients}
    assert clients["kosmo-portal"].default_client_scopes == ["profile", "email", "roles"]
    assert clients["kosmo-portal"].optional_client_scopes == ["address", "offline_access"]
    assert clients["kosmo-app"].optional_client_scopes == ["offline_access", "address", "phone", "microprofile-jwt",
                                                            "organization"]
    assert any("client scopes kosmo-member-no not carried over" in note for note in parsed.notes)


def test_a_realm_without_a_password_policy_keeps_having_none(export, settings):
    del export["passwordPolicy"]
    assert parse(export, settings).config.password_policy == ""


def test_keycloaks_own_clients_are_left_out_and_saml_clients_are_noted(export, settings):
    parsed = parse(export, settings)
    assert [c.client_id for c in parsed.config.clients] == ["kosmo-portal", "kosmo-app", "kosmo-batch"]
    assert "clients[5] (clientId 'https://sp.example.jp/saml'): skipped, saml clients are not supported" in parsed.notes


def test_a_service_account_keeps_the_admin_roles_offered_here_and_the_rest_is_noted(export, settings):
    user_entry(export, "service-account-kosmo-batch")["clientRoles"]["realm-management"].append("impersonation")
    parsed = parse(export, settings)
    batch = next(c for c in parsed.config.clients if c.client_id == "kosmo-batch")
    assert batch.service_account_roles == ["member-sync"]
    assert batch.service_account_client_roles == {"realm-management": ["view-users", "manage-realm"]}
    assert batch.admin_api is False  # the operator turns the Admin REST API on, for the realm and the client
    assert ("users[5] (service account of 'kosmo-batch'): realm-management roles impersonation skipped, "
            "the Admin REST API here does not offer them") in parsed.notes


def test_a_service_account_whose_roles_are_not_names_is_refused_naming_it(export, settings):
    user_entry(export, "service-account-kosmo-batch")["clientRoles"]["realm-management"].append(None)
    assert refusal(export, settings) == (
        "users[5] (service account of 'kosmo-batch'): clientRoles.realm-management[2]: must be a string, not None")
    user_entry(export, "service-account-kosmo-batch")["clientRoles"]["realm-management"].pop()
    user_entry(export, "service-account-kosmo-batch")["realmRoles"] = "member-sync"
    assert refusal(export, settings) == (
        "users[5] (service account of 'kosmo-batch'): realmRoles: must be a JSON list, not 'member-sync'")


def test_a_confidential_client_keeps_its_secret_only_as_a_hash(imported, database):
    with database.session() as session:
        portal = session.scalar(select(Client).where(Client.client_id == "kosmo-portal"))
        assert client_secret_matches(portal, "portal-secret-0123456789abcdef")
        assert not client_secret_matches(portal, "portal-secret-wrong")
        realm = session.get(Realm, imported.id)
        assert "portal-secret-0123456789abcdef" not in json.dumps(realm.config)


def test_client_uris_are_resolved_like_keycloak_resolves_them(imported, database):
    with database.session() as session:
        clients = {c.client_id: c for c in session.scalars(select(Client))}
    portal, app = clients["kosmo-portal"], clients["kosmo-app"]
    assert portal.redirect_uris == [
        "https://kenpo.portal.example.jp/callback",
        "https://kenpo.portal.example.jp/login/callback",  # relative to rootUrl
    ]
    assert portal.post_logout_redirect_uris == ["https://kenpo.portal.example.jp/", "https://kenpo.portal.example.jp/bye"]
    assert portal.web_origins == ["+"]  # kept, and resolved per request to the redirect URIs' origins
    assert allowed_web_origins(portal.web_origins, portal.redirect_uris, "https://idp.example.jp") == {
        "https://kenpo.portal.example.jp"}
    assert portal.base_url == "https://kenpo.portal.example.jp/"
    assert portal.pkce_required and not portal.public
    assert app.public and app.pkce_required and app.direct_access_grants
    assert app.post_logout_redirect_uris == app.redirect_uris  # "+": the redirect URIs
    assert clients["kosmo-batch"].service_account and not clients["kosmo-batch"].standard_flow


def test_a_clients_service_account_keeps_its_realm_roles(imported, database):
    with database.session() as session:
        account = session.scalar(select(User).where(User.username == "service-account-kosmo-batch"))
        assert account.service_account_client_id == "kosmo-batch"
        assert account.roles == ["default-roles-kosmo-kc", "member-sync"]


@pytest.mark.parametrize("uri, kept", [
    ("https://kenpo.portal.example.jp/app/*", "https://kenpo.portal.example.jp/app/*"),
    ("*", "*"),
    ("/app/*", "https://kenpo.portal.example.jp/app/*"),  # relative to the client's rootUrl
], ids=["trailing", "any", "relative"])
def test_a_wildcard_redirect_uri_is_kept_as_keycloak_matches_it(export, settings, uri, kept):
    export["clients"][2]["redirectUris"].append(uri)
    [portal] = [c for c in parse_export(ExportFiles(export), settings).config.clients if c.client_id == "kosmo-portal"]
    assert portal.redirect_uris[-1] == kept


def test_a_relative_redirect_uri_without_root_url_stays_a_path(export, settings):
    export["clients"][2].pop("rootUrl", None)
    export["clients"][2]["redirectUris"] = ["/portal/*"]
    export["clients"][2]["baseUrl"] = "/portal"
    [portal] = [c for c in parse_export(ExportFiles(export), settings).config.clients if c.client_id == "kosmo-portal"]
    assert portal.redirect_uris == ["/portal/*"]


def test_a_wildcard_inside_a_redirect_uri_is_refused_naming_the_client(export, settings):
    export["clients"][2]["redirectUris"].append("https://*.example.jp/callback")
    message = refusal(export, settings)
    assert message.startswith("clients[2] (clientId 'kosmo-portal'): redirectUris: 'https://*.example.jp/callback' "
                              "has a wildcard before its end")


def test_a_masked_client_secret_is_refused(export, settings):
    export["clients"][2]["secret"] = "**********"
    assert "clients[2] (clientId 'kosmo-portal'): the export has no client secret" in refusal(export, settings)


def test_a_client_with_plain_pkce_is_refused(export, settings):
    export["clients"][3]["attributes"]["pkce.code.challenge.method"] = "plain"
    assert refusal(export, settings).startswith("clients[3] (clientId 'kosmo-app'): ")


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("redirectUris", [["https://portal.example.jp/cb"]],
         "redirectUris[0]: must be a string, not ['https://portal.example.jp/cb']"),
        ("secret", 12345, "secret: must be a string, not 12345"),
        ("rootUrl", {"url": "https://portal.example.jp"}, "rootUrl: must be a string, not {'url': 'https://portal.example.jp'}"),
        ("attributes", ["pkce.code.challenge.method"],
         "attributes: must be a JSON object, not ['pkce.code.challenge.method']"),
    ],
    ids=["redirect-uris", "secret", "root-url", "attributes"],
)
def test_a_client_value_of_the_wrong_json_type_is_refused_naming_it(export, settings, key, value, expected):
    export["clients"][2][key] = value
    assert refusal(export, settings) == f"clients[2] (clientId 'kosmo-portal'): {expected}"


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda e: e["groups"][0]["subGroups"][0].update(realmRoles="dependant"),
         "groups[0].subGroups[0].realmRoles: must be a JSON list, not 'dependant'"),
        (lambda e: e["groups"][0].update(subGroups={"name": "被扶養者"}),
         "groups[0].subGroups: must be a JSON list, not {'name': '被扶養者'}"),
        (lambda e: e["roles"]["realm"][3].pop("name"), "roles.realm[3].name is missing"),
        (lambda e: e["roles"]["realm"][0].update(composites={"realm": "insured"}),
         "roles.realm[0].composites.realm: must be a JSON list, not 'insured'"),
        (lambda e: e.update(groups={"組合員": {}}), "groups: must be a JSON list, not {'組合員': {}}"),
    ],
    ids=["group-roles", "sub-groups", "role-name", "composites", "groups"],
)
def test_roles_and_groups_of_the_wrong_json_type_are_refused_naming_them(export, settings, change, expected):
    change(export)
    assert refusal(export, settings) == expected


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda e: e.update(users={"tanaka01": {}}), "users: must be a JSON list, not {'tanaka01': {}}"),
        (lambda e: user_entry(e, "kato04").update(credentials={"type": "password"}),
         "users[3] (username 'kato04'): credentials: must be a JSON list, not {'type': 'password'}"),
        (lambda e: user_entry(e, "kato04")["credentials"][0].update(type=["password"]),
         "users[3] (username 'kato04'): credentials[0].type: must be a string, not ['password']"),
        (lambda e: user_entry(e, "service-account-kosmo-batch").update(serviceAccountClientId=["kosmo-batch"]),
         "users[5] (username 'service-account-kosmo-batch'): serviceAccountClientId: must be a string, "
         "not ['kosmo-batch']"),
        (lambda e: e.update(webAuthnPolicyRpId=["kosmo.example.jp"]),
         "webAuthnPolicyRpId: must be a string, not ['kosmo.example.jp']"),
    ],
    ids=["users", "credentials", "credential-type", "service-account-client-id", "webauthn-rp-id"],
)
def test_members_and_policies_of_the_wrong_json_type_are_refused_naming_them(export, settings, change, expected):
    change(export)
    assert refusal(export, settings) == expected


@pytest.mark.parametrize(
    "username, index, data, expected",
    [
        ("tanaka01", 0, {"hashIterations": 1, "algorithm": ["pbkdf2-sha256"]},
         "credentialData.algorithm: must be a string, not ['pbkdf2-sha256']"),
        ("tanaka01", 1, {"subType": "totp", "digits": 6, "period": 30, "algorithm": {"name": "HmacSHA1"}},
         "credentialData.algorithm: must be a string, not {'name': 'HmacSHA1'}"),
        ("sato03", 0, {"hashIterations": 5, "algorithm": "argon2", "additionalParameters": [["memory", "7168"]]},
         "credentialData.additionalParameters: must be a JSON object, not [['memory', '7168']]"),
    ],
    ids=["password-algorithm", "otp-algorithm", "argon2-parameters"],
)
def test_credential_data_of_the_wrong_json_type_is_refused_naming_it(export, settings, username, index, data, expected):
    user_entry(export, username)["credentials"][index]["credentialData"] = json.dumps(data)
    assert refusal(export, settings).endswith(f"credentials[{index}].{expected}")


def test_what_is_not_carried_over_is_noted_one_line_each_naming_it(export, settings):
    export.update(identityProviders=[{"alias": "google", "providerId": "google"}], directGrantFlow="kosmo direct",
                  authenticationFlows=[{"alias": "kosmo direct", "builtIn": False},
                                       {"alias": "browser", "builtIn": True}],
                  components={"org.keycloak.storage.UserStorageProvider": [{"name": "kenpo-ldap",
                                                                            "providerId": "ldap"}]})
    portal = export["clients"][2]
    portal.update(protocolMappers=[{"name": "member number", "protocolMapper": "oidc-usermodel-attribute-mapper"}],
                  implicitFlowEnabled=True, consentRequired=True)
    user_entry(export, "kato04")["clientConsents"] = [{"clientId": "kosmo-portal", "grantedClientScopes": ["email"]}]
    notes = parse(export, settings).notes
    for expected in [
        "identityProviders: 'google' not carried over; identity brokering is not offered here",
        "directGrantFlow: flow 'kosmo direct' not carried over; that step runs as Keycloak's built-in one here",
        "authenticationFlows: custom flows 'kosmo direct' not carried over; write the ones you use as flow YAML",
        "components: user federation 'kenpo-ldap' not carried over; its members' profiles stay in that directory",
        "smtpServer: host, port and login not carried over; mail goes out through IDP_MAIL_URL",
        "groups: attributes of '/組合員' not carried over; members keep their group paths",
        "users: 1 with client consents (clientConsents) not carried over; no consent screen is shown",
        "clients[2] (clientId 'kosmo-portal'): protocolMappers 'member number' not carried over; tokens carry "
        "Keycloak's default claims",
        "clients[2] (clientId 'kosmo-portal'): implicitFlowEnabled not carried over; the implicit flow is not offered",
        "clients[2] (clientId 'kosmo-portal'): consentRequired not carried over; no consent screen is shown",
    ]:
        assert expected in notes
    assert all("\n" not in note for note in notes)


def test_a_custom_browser_flow_needs_its_yaml_file(export, settings):
    export["browserFlow"] = "kosmo-member"
    assert refusal(export, settings).startswith(
        "realm setting browserFlow: flow 'kosmo-member' has no file kosmo-member.yaml")
    (settings.flows_dir / "kosmo-member.yaml").write_text("flow: kosmo-member\n")
    assert parse(export, settings).config.browser_flow == "kosmo-member"


def test_keycloaks_built_in_reset_credentials_flow_is_ours_and_a_custom_one_needs_its_yaml(export, settings):
    assert export["resetCredentialsFlow"] == "reset credentials"
    assert parse(export, settings).config.reset_credentials_flow == "reset-credentials"
    export["resetCredentialsFlow"] = "kosmo reset"
    assert refusal(export, settings).startswith("realm setting resetCredentialsFlow: flow 'kosmo reset' has no file")


def test_a_realm_setting_out_of_range_is_named_by_its_keycloak_key(export, settings):
    export["accessTokenLifespan"] = 5
    assert refusal(export, settings).startswith("realm setting accessTokenLifespan: ")


def test_a_realm_name_that_cannot_be_a_url_path_here_is_refused(export, settings):
    export["realm"] = "Kosmo KC"
    assert refusal(export, settings).startswith("realm setting realm: ")


def test_the_webauthn_and_otp_policies_are_carried_over(export, settings):
    config = parse(export, settings).config
    assert (config.webauthn.rp_id, config.webauthn.user_verification, config.webauthn.passkey_first_factor) == (
        None, "preferred", False)  # Keycloak's defaults: its host name, "not specified"
    assert (config.otp_policy.algorithm, config.otp_policy.digits, config.otp_policy.period) == ("HmacSHA1", 6, 30)
    export.update(webAuthnPolicyPasswordlessPasskeysEnabled=True, webAuthnPolicyPasswordlessRpId="kenpo.example.jp",
                  webAuthnPolicyPasswordlessRpEntityName="KOSMO 健保")
    webauthn = parse(export, settings).config.webauthn
    assert (webauthn.rp_id, webauthn.user_verification, webauthn.rp_name, webauthn.passkey_first_factor) == (
        "kenpo.example.jp", "required", "KOSMO 健保", True)


def test_a_webauthn_policy_value_not_offered_here_is_refused_naming_its_keycloak_key(export, settings):
    export["webAuthnPolicyUserVerificationRequirement"] = "sometimes"
    assert refusal(export, settings).startswith("realm setting webAuthnPolicyUserVerificationRequirement: ")


def test_two_relying_party_ids_for_one_realms_passkeys_are_refused(export, settings):
    export.update(webAuthnPolicyRpId="auth.kenpo.example.jp", webAuthnPolicyPasswordlessRpId="kenpo.example.jp")
    assert refusal(export, settings).startswith("realm setting webAuthnPolicyRpId: the two WebAuthn policies name "
                                                "different relying-party ids")


# Members and credentials


def test_members_keep_their_keycloak_id_profile_attributes_and_pending_actions(imported, database):
    with database.session() as session:
        tanaka = find_user(session, imported, "tanaka01")
        # Keycloak's id is the `sub` relying parties know the member by, and the passkeys' user handle.
        assert tanaka.id == "00000000-0000-0000-0000-0000000000c9"
        assert (tanaka.last_name, tanaka.first_name) == ("田中", "太郎")
        assert (tanaka.email, tanaka.email_verified) == ("tanaka@example.jp", True)
        assert tanaka.birthdate == date(1980, 4, 1)
        assert tanaka.attributes == {"memberNumber": ["0012345"]}  # the first-sign-in ones became columns
        assert tanaka.required_actions == []
        assert tanaka.created_at.year == 2024
        suzuki = find_user(session, imported, "suzuki@example.jp")
        assert suzuki.email == "suzuki@example.jp"  # Keycloak lower-cases emails too
        assert [a.action for a in suzuki.required_actions] == ["TERMS_AND_CONDITIONS"]
        kato = find_user(session, imported, "kato04")
        assert kato.enabled is False and kato.email is None
        assert [a.action for a in find_user(session, imported, "sato03").required_actions] == ["UPDATE_PASSWORD"]


def test_roles_are_the_ones_keycloaks_tokens_carry_with_groups_and_composites_expanded(imported, database):
    with database.session() as session:
        tanaka = find_user(session, imported, "tanaka01")
        suzuki = find_user(session, imported, "suzuki02")
    # Direct: default-roles-kosmo-kc; from /組合員: insured and kosmo-portal's member; the default
    # roles' composites: offline_access, uma_authorization and the account roles.
    assert sorted(tanaka.roles) == ["default-roles-kosmo-kc", "insured", "offline_access", "uma_authorization"]
    assert tanaka.client_roles == {"account": ["view-profile", "manage-account", "manage-account-links"],
                                   "kosmo-portal": ["member"]}
    assert tanaka.groups == ["/組合員"]
    # /組合員/被扶養者 has its own roles and inherits its parent's.
    assert {"insured", "dependant"} <= set(suzuki.roles)
    assert suzuki.client_roles["kosmo-portal"] == ["member", "family-viewer"]
    assert suzuki.groups == ["/組合員/被扶養者"]


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda u: u.update(groups=["/退職者"]), "group '/退職者' is not a group of the realm"),
        (lambda u: u.update(realmRoles=["admin"]), "realm role 'admin' is not defined in the realm's \"roles\""),
        (lambda u: u.update(clientRoles={"kosmo-portal": ["owner"]}),
         "client role of 'kosmo-portal' 'owner' is not defined"),
    ],
    ids=["group", "realm-role", "client-role"],
)
def test_a_group_or_role_the_realm_does_not_define_is_refused_as_a_partial_export(export, settings, change, expected):
    change(user_entry(export, "tanaka01"))
    assert refusal(export, settings).startswith("users[0] (username 'tanaka01'): " + expected)


def test_keycloaks_built_in_roles_resolve_where_the_export_leaves_them_out(export, settings):
    roles = export["roles"]
    roles["realm"] = [r for r in roles["realm"] if not r["name"].startswith(("offline_access", "default-roles-"))]
    roles["client"].pop("account", None)
    roles["client"].pop("realm-management", None)
    user_entry(export, "tanaka01").update(realmRoles=["offline_access", "default-roles-kosmo-kc"],
                                         clientRoles={"account": ["manage-account"],
                                                      "realm-management": ["view-users"]})
    tanaka = parsed_member(export, settings, "tanaka01")
    assert {"offline_access", "uma_authorization", "default-roles-kosmo-kc"} <= set(tanaka.roles)
    assert set(tanaka.client_roles["account"]) == {"view-profile", "manage-account", "manage-account-links"}
    assert set(tanaka.client_roles["realm-management"]) == {"view-users", "query-users", "query-groups"}


def test_a_built_in_role_the_export_defines_keeps_the_exports_composites(export, settings):
    offline = next(r for r in export["roles"]["realm"] if r["name"] == "offline_access")
    offline.update(composite=True, composites={"realm": ["insured"]})
    user_entry(export, "tanaka01").update(realmRoles=["offline_access"], groups=[])
    assert "insured" in parsed_member(export, settings, "tanaka01").roles


def test_the_realms_required_actions_are_carried_over_with_their_config(export, settings):
    export["requiredActions"] = [
        {"alias": "UPDATE_PASSWORD", "name": "Update Password", "providerId": "UPDATE_PASSWORD", "enabled": True,
         "defaultAction": False, "priority": 30, "config": {"max_auth_age": "600"}},
        {"alias": "VERIFY_EMAIL", "enabled": True, "defaultAction": True},
        {"alias": "CONFIGURE_TOTP", "enabled": False, "defaultAction": True},
        {"alias": "TERMS_AND_CONDITIONS", "enabled": True, "defaultAction": False},
    ]
    parsed = parse(export, settings)
    assert parsed.config.required_action("UPDATE_PASSWORD").max_auth_age == 600
    assert parsed.config.default_required_actions == ["VERIFY_EMAIL"]
    assert not parsed.config.required_action("CONFIGURE_TOTP").enabled
    assert parsed.config.required_action("delete_account").enabled  # not listed: Keycloak's default
    assert any(note.startswith("requiredActions: TERMS_AND_CONDITIONS is enabled") for note in parsed.notes)


def test_a_bearer_only_client_is_imported_without_any_grant(export, settings):
    export["clients"].append({"clientId": "kosmo-api", "bearerOnly": True, "publicClient": False,
                              "standardFlowEnabled": True, "directAccessGrantsEnabled": True,
                              "redirectUris": ["https://api.example.jp/*"]})
    [api] = [c for c in parse(export, settings).config.clients if c.client_id == "kosmo-api"]
    assert api.bearer_only and api.secret is None and not api.public
    assert api.grant_types == []


@pytest.mark.parametrize(
    "username, password, algorithm",
    [
        ("tanaka01", "Sakura-2024", "pbkdf2-sha256"),
        ("suzuki02", "Momiji-2023", "pbkdf2-sha512"),
        ("sato03", "Kaede-2025", "argon2"),
        ("kato04", "Ume-2018!", "pbkdf2"),
    ],
)
def test_keycloak_password_hashes_sign_in_and_are_rehashed(imported, database, settings, username, password, algorithm):
    with database.session() as session:
        member = find_user(session, imported, username)
        assert password_credential(member).credential_data["algorithm"] == algorithm
        assert check_password(session, member, password + "x", settings) is False
        assert check_password(session, member, password, settings) is True
    with database.session() as session:
        credential = password_credential(find_user(session, imported, username))
        assert credential.credential_data["algorithm"] == "argon2"
        assert credential.credential_data["additionalParameters"]["memory"] == [str(settings.argon2_memory_kib)]


def test_otp_secrets_keep_the_key_keycloak_used(imported, database, settings):
    with database.session() as session:
        typed = next(c for c in find_user(session, imported, "tanaka01").credentials if c.type == "otp")
        base32 = next(c for c in find_user(session, imported, "suzuki02").credentials if c.type == "otp")
        assert "gbNkR1c8Ch3eFzYTCBrn" not in typed.secret_data["value"]  # encrypted at rest
        assert otp_key(typed, settings) == b"gbNkR1c8Ch3eFzYTCBrn"
        assert typed.credential_data == {
            "subType": "totp", "digits": 6, "period": 30, "counter": 0, "algorithm": "HmacSHA1", "secretEncoding": None,
        }
        assert typed.user_label == "iPhone"
        assert otp_key(base32, settings) == b"Hello!\xde\xad\xbe\xef"
        assert base32.credential_data["secretEncoding"] == "BASE32"


def test_passkeys_keep_their_credential_id_public_key_and_sign_count(imported, database, export):
    exported = json.loads(user_entry(export, "ito05")["credentials"][1]["credentialData"])
    with database.session() as session:
        ito = find_user(session, imported, "ito05")
        [passkey] = [c for c in ito.credentials if c.type == "webauthn"]  # Keycloak's webauthn-passwordless
        [sato_passkey] = [c for c in find_user(session, imported, "sato03").credentials if c.type == "webauthn"]
    data = passkey.credential_data
    assert decode(data["credentialId"]) == decode(exported["credentialId"])  # base64 there, base64url here
    assert decode(data["credentialPublicKey"]) == decode(exported["credentialPublicKey"])
    assert (data["counter"], data["aaguid"], data["transports"]) == (41, exported["aaguid"], ["internal", "hybrid"])
    assert passkey.user_label == "iPhone のパスキー"
    assert sato_passkey.user_label == "Pixel"


def keycloak_9_credentials(user: dict) -> None:
    """`user`'s password and app in the shape exports had before Keycloak 10: on the credential itself."""
    old = []
    for credential in user["credentials"]:
        secret, data = json.loads(credential["secretData"]), json.loads(credential["credentialData"])
        if credential["type"] == "password":
            old.append({"type": "password", "hashedSaltedValue": secret["value"], "salt": secret["salt"],
                        "hashIterations": data["hashIterations"], "algorithm": data["algorithm"], "counter": 0,
                        "digits": 0, "period": 0, "createdDate": credential["createdDate"], "config": {}})
        elif credential["type"] == "otp":
            old.append({"type": data["subType"], "value": secret["value"], "device": "iPhone", "digits": data["digits"],
                        "period": data["period"], "counter": data["counter"], "algorithm": data["algorithm"],
                        "createdDate": credential["createdDate"], "config": {}})
    user["credentials"] = old


def test_credentials_in_the_shape_before_keycloak_10_sign_in_as_they_did(database, settings, export, tmp_path):
    keycloak_9_credentials(user_entry(export, "tanaka01"))
    path = tmp_path / "kosmo-kc-realm.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    with database.session() as session:
        realm, _ = import_file(session, path, settings)
    with database.session() as session:
        tanaka = find_user(session, realm, "tanaka01")
        password = password_credential(tanaka)
        assert password.credential_data == {"hashIterations": 27500, "algorithm": "pbkdf2-sha256",
                                            "additionalParameters": {}}
        assert password.created_at == datetime.fromtimestamp(1730000001, tz=UTC)
        [app] = [c for c in tanaka.credentials if c.type == "otp"]
        assert otp_key(app, settings) == b"gbNkR1c8Ch3eFzYTCBrn"
        assert app.credential_data == {"subType": "totp", "digits": 6, "period": 30, "counter": 0,
                                       "algorithm": "HmacSHA1", "secretEncoding": None}
        assert check_password(session, tanaka, "Sakura-2024", settings)


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda c: c[0].pop("salt"), "credentials[0]: salt is missing"),
        (lambda c: c[0].update(hashIterations="27500"),
         "credentials[0].hashIterations: must be a whole number, not '27500'"),
        (lambda c: c[0].update(algorithm="md5"), "credentials[0].algorithm: must be 'argon2', "),
        (lambda c: c[1].update(value=""), "credentials[1].value: must not be empty"),
        (lambda c: c[1].update(digits=7), "credentials[1].digits: must be 6 or 8, not 7"),
    ],
    ids=["no-salt", "iterations-text", "algorithm", "no-secret", "digits"],
)
def test_a_credential_before_keycloak_10_that_could_not_sign_in_is_refused_naming_it(export, settings, change,
                                                                                      expected):
    keycloak_9_credentials(user_entry(export, "tanaka01"))
    change(user_entry(export, "tanaka01")["credentials"])
    assert refusal(export, settings).startswith(f"users[0] (username 'tanaka01'): {expected}")


def test_passkey_transports_that_are_not_names_are_left_out(export, settings):
    credential = user_entry(export, "ito05")["credentials"][1]
    data = json.loads(credential["credentialData"])
    credential["credentialData"] = json.dumps({**data, "transports": [{"usb": True}, ["nfc"], "internal"]})
    [passkey] = [c for c in parsed_member(export, settings, "ito05").credentials if c.type == "webauthn"]
    assert passkey.credential_data["transports"] == ["internal"]


def test_credential_types_that_cannot_be_carried_over_are_skipped_with_a_note(export, settings):
    user_entry(export, "kato04")["credentials"].append(
        {"id": "00000000-0000-0000-0000-000000000199", "type": "recovery-authn-codes", "createdDate": 1730000000000,
         "secretData": "{}", "credentialData": "{}"})
    parsed = parse(export, settings)
    kato = next(member for _, member in parsed.users if member.username == "kato04")
    assert [c.type for c in kato.credentials] == ["password"]
    assert "users: 1 recovery-authn-codes credential(s) skipped; those members set them up again" in parsed.notes


@pytest.mark.parametrize(
    "credential_data, expected",
    [
        ({"credentialId": "AAEC", "credentialPublicKey": "pQECAyYgASFYIA", "counter": 0},
         "credentialData.credentialPublicKey: not a COSE public key"),
        ({"credentialPublicKey": "pQECAyYgASFYIA", "counter": 0}, "credentialData.credentialId is missing"),
        ({"credentialId": "AAEC", "counter": -1}, "credentialData.credentialPublicKey is missing"),
        ({"credentialId": "", "credentialPublicKey": "pQECAyYgASFYIA"}, "credentialData.credentialId: not base64"),
    ],
    ids=["truncated-key", "no-id", "no-key", "empty-id"],
)
def test_a_passkey_that_could_not_sign_in_is_refused_naming_it(export, settings, credential_data, expected):
    user_entry(export, "sato03")["credentials"][1]["credentialData"] = json.dumps(credential_data)
    assert refusal(export, settings) == f"users[2] (username 'sato03'): credentials[1].{expected}"


def test_a_sign_count_below_zero_is_refused(export, settings):
    credential = user_entry(export, "sato03")["credentials"][1]
    credential["credentialData"] = json.dumps({**json.loads(credential["credentialData"]), "counter": -3})
    assert refusal(export, settings).endswith(
        "credentials[1].credentialData.counter: must be a non-negative whole number, not -3")


def test_one_passkey_on_two_members_is_refused(export, settings):
    sato_passkey = user_entry(export, "sato03")["credentials"][1]["credentialData"]
    user_entry(export, "ito05")["credentials"][1]["credentialData"] = sato_passkey
    message = refusal(export, settings)
    assert message.startswith("users[4] (username 'ito05'): passkey credentialId ")
    assert message.endswith("is also used by users[2] (username 'sato03')")


def test_a_shared_passkey_is_refused_when_it_is_not_the_members_last(export, settings):
    sato_passkey = copy.deepcopy(user_entry(export, "sato03")["credentials"][1])
    user_entry(export, "ito05")["credentials"].insert(1, sato_passkey)
    message = refusal(export, settings)
    assert message.startswith("users[4] (username 'ito05'): passkey credentialId ")
    assert message.endswith("is also used by users[2] (username 'sato03')")


def test_a_member_with_passkeys_but_no_keycloak_id_is_refused(export, settings):
    del user_entry(export, "sato03")["id"]
    assert refusal(export, settings) == ("users[2] (username 'sato03'): a user with passkeys needs its Keycloak id "
                                         "(the passkeys' user handle)")


# First-sign-in progress (the attribute mapping)


def test_a_member_who_finished_setup_with_the_kosmo_extension_is_not_asked_again(export, settings):
    tanaka = parsed_member(export, settings, "tanaka01")
    assert tanaka.fields["birthdate_verified_at"] == datetime(2024, 10, 27, 3, 33, 23, tzinfo=UTC)  # seconds
    assert tanaka.fields["user_id_chosen_at"] == IMPORTED_AT  # "true": done before the migration
    assert tanaka.fields["second_factor"] == "totp"
    assert tanaka.fields["first_login_completed_at"] == IMPORTED_AT  # every step done: the latest
    assert tanaka.terms == [("2024-10", IMPORTED_AT)]


def test_progress_in_iso_times_and_a_passkey_standing_for_the_chosen_factor(export, settings):
    ito = parsed_member(export, settings, "ito05")
    assert ito.fields["user_id_chosen_at"] == datetime(2024, 11, 2, 0, 16, tzinfo=UTC)
    assert ito.fields["second_factor"] == "passkey"  # no attribute: the factor the member holds
    assert ito.fields["first_login_completed_at"] == ito.fields["user_id_chosen_at"]


def test_a_member_who_never_started_setup_starts_it_at_the_first_sign_in(export, settings):
    suzuki = parsed_member(export, settings, "suzuki02")
    assert suzuki.fields["birthdate_verified_at"] is None and suzuki.fields["user_id_chosen_at"] is None
    assert suzuki.fields["first_login_completed_at"] is None
    assert suzuki.fields["second_factor"] == "totp"


def test_keycloaks_terms_acceptance_counts_as_the_version_the_operator_names(export, settings):
    parsed = parse(export, settings)
    assert next(m for _, m in parsed.users if m.username == "suzuki02").terms == []
    assert any("2 accepted Keycloak's terms (terms_and_conditions) but no --terms-version" in n for n in parsed.notes)
    suzuki = parsed_member(export, settings, "suzuki02", AttributeMapping(keycloak_terms_version="2024-10"))
    assert suzuki.terms == [("2024-10", datetime(2024, 10, 27, 3, 35, 5, tzinfo=UTC))]
    assert "terms_and_conditions" not in suzuki.fields["attributes"]


def test_a_society_with_its_own_attribute_names_gives_a_mapping(export, settings):
    user_entry(export, "kato04")["attributes"] = {"seinengappi": ["1970-07-07"], "seinengappi_ok": ["true"],
                                                  "id_henkou": ["2024-05-01"], "ninshou": ["email"]}
    mapping = AttributeMapping(birthdate="seinengappi", birthdate_verified="seinengappi_ok", user_id_chosen="id_henkou",
                               second_factor="ninshou")
    kato = parsed_member(export, settings, "kato04", mapping)
    assert kato.fields["birthdate"] == date(1970, 7, 7)
    assert kato.fields["birthdate_verified_at"] == IMPORTED_AT
    assert kato.fields["user_id_chosen_at"] == datetime(2024, 5, 1, tzinfo=UTC)
    assert kato.fields["second_factor"] == "email"
    assert kato.fields["first_login_completed_at"] == IMPORTED_AT
    assert kato.fields["attributes"] == {}


@pytest.mark.parametrize(
    "attributes, expected",
    [
        ({"user_id_set": ["sometimes"]}, "attribute user_id_set 'sometimes' is neither true/false"),
        ({"user_id_set": ["999999999999999"]}, "attribute user_id_set '999999999999999' is neither true/false"),
        ({"second_factor": ["sms"]}, "attribute second_factor 'sms' is not a second factor"),
        ({"terms_accepted_version": ["v" * 101]}, "attribute terms_accepted_version is longer than 100 characters"),
    ],
    ids=["state", "state-past-year-9999", "factor", "terms-version"],
)
def test_a_progress_attribute_that_means_nothing_is_refused_naming_it(export, settings, attributes, expected):
    user_entry(export, "kato04")["attributes"] = attributes
    assert refusal(export, settings).startswith(f"users[3] (username 'kato04'): {expected}")


def test_a_plain_password_value_is_hashed_on_import(export, settings):
    user_entry(export, "kato04")["credentials"] = [{"type": "password", "value": "Plain-pass-1", "temporary": True}]
    kato = next(member for _, member in parse(export, settings).users if member.username == "kato04")
    assert kato.credentials[0].credential_data["algorithm"] == "argon2"
    assert kato.credentials[0].temporary is True
    assert "Plain-pass-1" not in json.dumps(kato.credentials[0].secret_data)


def test_an_unknown_password_algorithm_is_refused_naming_the_user_and_credential(export, settings):
    credential = user_entry(export, "suzuki02")["credentials"][0]
    credential["credentialData"] = json.dumps({"hashIterations": 1, "algorithm": "md5", "additionalParameters": {}})
    assert refusal(export, settings) == (
        "users[1] (username 'suzuki02'): credentials[0].credentialData.algorithm: must be "
        "'argon2', 'pbkdf2', 'pbkdf2-sha256' or 'pbkdf2-sha512', not 'md5'")


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda u: u["credentials"][1].update(secretData='{"value":"not base32!"}',
                                              credentialData='{"subType":"totp","digits":6,"counter":0,"period":30,"algorithm":"HmacSHA1","secretEncoding":"BASE32"}'),
         "credentials[1]: secretData.value is marked BASE32 (credentialData.secretEncoding) but is not base32"),
        (lambda u: u["credentials"][1].update(
            credentialData='{"subType":"totp","digits":7,"period":30,"algorithm":"HmacSHA1"}'),
         "credentials[1].credentialData.digits: must be 6 or 8, not 7"),
        (lambda u: u["credentials"][1].update(
            credentialData='{"subType":"totp","digits":6,"algorithm":"HmacSHA1","secretEncoding":"HEX"}'),
         "credentials[1].credentialData.secretEncoding: must be 'BASE32', not 'HEX'"),
        (lambda u: u["credentials"][1].update(
            credentialData='{"subType":"totp","digits":6,"period":Infinity,"algorithm":"HmacSHA1"}'),
         "credentials[1].credentialData.period: must be a whole number, not inf"),
        (lambda u: u["credentials"][1].update(
            credentialData='{"subType":"totp","digits":6,"period":0,"algorithm":"HmacSHA1"}'),
         "credentials[1].credentialData.period: must be a positive whole number, not 0"),
        (lambda u: u["credentials"][0].update(secretData='{"value":"%%%","salt":"AAAA"}'),
         "credentials[0].secretData.value: not base64"),
        (lambda u: u["credentials"][0].update(secretData="{not json"),
         "credentials[0].secretData: not valid JSON"),
        (lambda u: u.update(requiredActions=["MAKE_COFFEE"]), "requiredActions[0]: must be 'UPDATE_PASSWORD', "),
        (lambda u: u.update(requiredActions=[["VERIFY_EMAIL"]]),
         "requiredActions[0]: must be a string, not ['VERIFY_EMAIL']"),
        (lambda u: u.update(email=["tanaka@example.jp"]), "email: must be a string, not ['tanaka@example.jp']"),
        (lambda u: u.update(attributes={"birthdate": ["1 April 1980"]}),
         "attribute birthdate '1 April 1980' is not a date"),
        (lambda u: u.update(createdTimestamp="yesterday"),
         "createdTimestamp: 'yesterday' is not a time in milliseconds"),
        (lambda u: u.update(username=""), "a user needs a username"),
        (lambda u: u.update(realmRoles="insured"), "realmRoles: must be a JSON list, not 'insured'"),
        (lambda u: u.update(clientRoles={"kosmo-portal": "member"}),
         "clientRoles.kosmo-portal: must be a JSON list, not 'member'"),
        (lambda u: u.update(groups="/組合員"), "groups: must be a JSON list, not '/組合員'"),
    ],
    ids=["bad-base32", "digits", "secret-encoding", "period-infinite", "period-zero", "hash-not-base64",
         "secret-not-json", "required-action", "required-action-not-a-name", "email-not-a-string", "birthdate",
         "created", "no-username", "realm-roles", "client-roles", "groups"],
)
def test_a_bad_member_entry_is_refused_naming_it(export, settings, change, expected):
    change(user_entry(export, "tanaka01"))
    assert refusal(export, settings).startswith(f"users[0] (username {export['users'][0]['username']!r}): " + expected)


def test_an_entry_that_is_not_an_object_is_refused(export, settings):
    export["users"].insert(2, "tanaka01")
    assert refusal(export, settings) == "users[2]: must be a JSON object, not 'tanaka01'"


def test_two_entries_for_one_member_are_refused_naming_both(export, settings):
    user_entry(export, "suzuki02")["username"] = "TANAKA01"
    assert refusal(export, settings) == (
        "users[1] (username 'TANAKA01'): username 'tanaka01' is also used by users[0] (username 'tanaka01')")
    user_entry(export, "TANAKA01")["username"] = "suzuki02"
    user_entry(export, "suzuki02")["email"] = "TANAKA@example.jp"
    assert refusal(export, settings) == (
        "users[1] (username 'suzuki02'): email 'tanaka@example.jp' is also used by users[0] (username 'tanaka01')")


def test_a_bad_entry_anywhere_leaves_the_database_untouched(database, settings, tmp_path, export):
    user_entry(export, "kato04")["credentials"][0]["credentialData"] = '{"algorithm":"md5","hashIterations":1}'
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(export), encoding="utf-8")
    with pytest.raises(KeycloakImportError, match=r"users\[3\] \(username 'kato04'\)"):
        with database.session() as session:
            import_file(session, bad, settings)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Realm)) == 0
        assert session.scalar(select(func.count()).select_from(User)) == 0


def test_a_member_who_already_exists_stops_the_whole_import(database, settings, export):
    existing = save_realm_from_fixture(database, settings, export)
    with database.session() as session:
        create_user(session, existing, "Kato04", settings=settings)
    parsed = parse(export, settings)
    with pytest.raises(KeycloakImportError,
                       match=r"users\[3\] \(username 'kato04'\): a user with username 'kato04' already exists"):
        with database.session() as session:
            write_import(session, parsed)
    with database.session() as session:
        assert session.scalar(members_count()) == 1
        assert session.scalar(select(func.count()).select_from(Credential)) == 0


def test_a_clash_the_check_could_not_see_stops_the_import_and_nothing_is_written(database, settings, export,
                                                                                 monkeypatch):
    """On PostgreSQL another writer may add a member between the check and the insert; the unique
    index refuses the import then. Here the member appears in the import's own transaction."""
    import idp.realms.keycloak as keycloak

    existing = save_realm_from_fixture(database, settings, export)
    checked = keycloak._refuse_clashes

    def a_member_appears_right_after_the_check(session, realm, users):
        checked(session, realm, users)
        session.add(User(realm_id=existing.id, username="ito05"))

    monkeypatch.setattr(keycloak, "_refuse_clashes", a_member_appears_right_after_the_check)
    with pytest.raises(KeycloakImportError, match=r"^users\[0\] \(username 'tanaka01'\) to users\[4\] \(username "
                                                  r"'ito05'\): one of these members' username was taken"):
        with database.session() as session:
            write_import(session, parse(export, settings))
    with database.session() as session:
        assert session.scalar(members_count()) == 0
        assert session.scalar(select(func.count()).select_from(Credential)) == 0


def save_realm_from_fixture(database, settings, export) -> Realm:
    with database.session() as session:
        return save_realm(session, parse(export, settings).config)


# Any value of any JSON type anywhere


def places(value, path=()):
    """Every place a value sits in the export, inside the JSON text of secretData and credentialData too."""
    yield path
    inner = _json_text(value)
    children = inner.items() if isinstance(inner, dict) else enumerate(inner) if isinstance(inner, list) else ()
    for key, child in children:
        yield from places(child, (*path, key))


def _json_text(value):
    if isinstance(value, str) and value.startswith("{"):
        return json.loads(value)
    return value


def replaced(value, path: tuple, new):
    if not path:
        return new
    inner = copy.copy(_json_text(value))
    inner[path[0]] = replaced(inner[path[0]], path[1:], new)
    return json.dumps(inner) if isinstance(value, str) else inner


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
EXPORT_PLACES = [path for path in places(json.loads(EXPORT.read_text(encoding="utf-8"))) if path]


@given(place=st.sampled_from(EXPORT_PLACES), value=JSON_VALUES)
@hypothesis_settings(max_examples=300, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_value_of_any_json_type_anywhere_is_imported_or_refused_in_one_line(export, settings, place, value):
    """What 10 commits once patched one place at a time: no value makes the import fail any other way."""
    try:
        parse(replaced(export, place, value), settings)
    except KeycloakImportError as refused:
        assert "\n" not in str(refused)  # noqa: PT017 - imported or refused: pytest.raises would demand the refusal


# Real exports from Keycloak's own repositories (../shared/keycloak-exports, read as they are)


@pytest.mark.parametrize("path", real_exports(), ids=lambda path: path.stem if path else "absent")
def test_real_exports_are_read_as_keycloaks_representations_and_imported_or_refused_in_one_line(path, settings):
    for files in read_exports(path):
        validated(RealmRepresentation, files.realm)  # every key the import reads has the JSON type Keycloak wrote
        try:
            parse_export(files, settings)
        except KeycloakImportError as refused:
            assert "\n" not in str(refused)  # noqa: PT017 - imported or refused: pytest.raises would demand the refusal


# The different_files layout


def test_a_different_files_export_is_read_from_its_folder_or_realm_file(database, settings):
    for where in (SPLIT, SPLIT / "kosmo-split-realm.json"):
        files = read_export(where)
        assert [name for name, _ in files.user_files] == ["kosmo-split-users-0.json", "kosmo-split-users-1.json"]
    parsed = parse_export(files, settings)
    assert [(where, member.username) for where, member in parsed.users] == [
        ("kosmo-split-users-0.json: users[0] (username 'member-a')", "member-a"),
        ("kosmo-split-users-0.json: users[1] (username 'member-b')", "member-b"),
        ("kosmo-split-users-1.json: users[0] (username 'member-c')", "member-c"),
    ]
    assert parsed.notes == ["federated users: 1 skipped; their profiles live in the user federation provider "
                            "(LDAP, ...), which is not carried over"]
    with database.session() as session:
        realm = write_import(session, parsed)
    with database.session() as session:
        assert check_password(session, find_user(session, realm, "a@example.jp"), "Split-pass-1", settings)
        assert check_password(session, find_user(session, realm, "member-c"), "Split-pass-3", settings)
        assert "insured" in find_user(session, realm, "member-c").roles


def copy_of_split(tmp_path) -> Path:
    folder = tmp_path / "export"
    folder.mkdir()
    for path in SPLIT.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def test_a_bad_entry_in_a_user_file_is_refused_naming_the_file(tmp_path, settings):
    folder = copy_of_split(tmp_path)
    users = json.loads((folder / "kosmo-split-users-1.json").read_text(encoding="utf-8"))
    users["users"][0]["credentials"][1]["credentialData"] = '{"subType":"totp","digits":9,"algorithm":"HmacSHA1"}'
    (folder / "kosmo-split-users-1.json").write_text(json.dumps(users), encoding="utf-8")
    with pytest.raises(KeycloakImportError) as refused:
        parse_export(read_export(folder), settings)
    assert str(refused.value) == ("kosmo-split-users-1.json: users[0] (username 'member-c'): "
                                  "credentials[1].credentialData.digits: must be 6 or 8, not 9")


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda f: (f / "kosmo-split-users-0.json").unlink(),
         r"kosmo-split-users-0.json: missing, but kosmo-split-users-1.json is there"),
        (lambda f: (f / "kosmo-split-users-1.json").write_text('{"realm": "other", "users": []}'),
         r"kosmo-split-users-1.json: its users belong to realm 'other', not 'kosmo-split'"),
        (lambda f: (f / "kosmo-split-users-1.json").write_text('{"realm": "kosmo-split"}'),
         r"kosmo-split-users-1.json: not a Keycloak user file \(no \"users\" list\)"),
        (lambda f: (f / "kosmo-split-realm.json").unlink(), r"found no \*-realm.json"),
        (lambda f: (f / "other-realm.json").write_text('{"realm": "other"}'),
         r"found kosmo-split-realm.json, other-realm.json"),
        (lambda f: (f / "kosmo-split-realm.json").write_text('{"realm": "kosmo-split", "users": [{"username": "x"}]}'),
         r"kosmo-split-realm.json: holds users and kosmo-split-users-0.json lies beside it"),
    ],
    ids=["gap", "other-realm", "no-users-list", "no-realm-file", "two-realm-files", "both-layouts"],
)
def test_a_partial_or_mixed_export_folder_is_refused(tmp_path, damage, expected):
    folder = copy_of_split(tmp_path)
    damage(folder)
    with pytest.raises(KeycloakImportError, match=expected):
        read_export(folder)


# What --dry-run prints


def test_the_plan_lists_what_would_be_created_updated_removed_and_skipped(database, settings, export):
    with database.session() as session:
        plan = plan_import(session, parse(export, settings))
    assert (plan.realm, plan.realm_exists) == ("kosmo-kc", False)
    assert plan.clients_created == ["kosmo-portal", "kosmo-app", "kosmo-batch"] and plan.clients_updated == []
    assert plan.users_created == ["tanaka01", "suzuki02", "sato03", "kato04", "ito05"]
    assert plan.credentials == {"password": 5, "otp": 2, "webauthn": 2}
    assert (plan.terms_acceptances, plan.required_actions) == (1, 2)
    assert any(note.startswith("clients[5] (clientId 'https://sp.example.jp/saml'): skipped") for note in plan.skipped)

    export["clients"] = [c for c in export["clients"] if c["clientId"] != "kosmo-app"]
    save_realm_from_fixture(database, settings, export)
    export["clients"][2]["clientId"] = "kosmo-portal2"
    with database.session() as session:
        plan = plan_import(session, parse(export, settings))
    assert plan.realm_exists and plan.clients_updated == ["kosmo-batch"]
    assert plan.clients_created == ["kosmo-portal2"] and plan.clients_removed == ["kosmo-portal"]


def test_the_plan_refuses_a_member_who_already_exists_as_the_import_would(database, settings, export):
    existing = save_realm_from_fixture(database, settings, export)
    with database.session() as session:
        create_user(session, existing, "someone", email="Ito@Example.jp", settings=settings)
    with pytest.raises(KeycloakImportError,
                       match=r"users\[4\] \(username 'ito05'\): a user with email 'ito@example.jp'"):
        with database.session() as session:
            plan_import(session, parse(export, settings))


def split_realm_with_its_members() -> dict:
    """The different_files export's realm with its members inside, as a whole-server export lists realms."""
    realm = json.loads((SPLIT / "kosmo-split-realm.json").read_text(encoding="utf-8"))
    realm["users"] = [user for number in (0, 1) for user in
                      json.loads((SPLIT / f"kosmo-split-users-{number}.json").read_text(encoding="utf-8"))["users"]]
    return realm


def test_a_file_holding_several_realms_gives_each_and_names_the_one_at_fault(tmp_path, export, settings):
    realms = tmp_path / "realms.json"
    split = split_realm_with_its_members()
    realms.write_text(json.dumps([export, split]), encoding="utf-8")
    parsed = [parse_export(files, settings) for files in read_exports(realms)]
    assert [(p.config.realm, len(p.users)) for p in parsed] == [("kosmo-kc", 5), ("kosmo-split", 3)]
    assert any(note.startswith("[0] (realm 'kosmo-kc'): clients[5] ") for note in parsed[0].notes)
    with pytest.raises(KeycloakImportError, match="holds 2 realms; import it with `idp realm import`"):
        read_export(realms)

    split["users"][2]["credentials"] = "Split-pass-3"
    realms.write_text(json.dumps([export, split]), encoding="utf-8")
    with pytest.raises(KeycloakImportError) as refused:
        [parse_export(files, settings) for files in read_exports(realms)]
    assert str(refused.value) == ("[1] (realm 'kosmo-split'): users[2] (username 'member-c'): credentials: must be "
                                  "a JSON list, not 'Split-pass-3'")


@pytest.mark.parametrize(
    "content, expected",
    [([], "holds an empty list, no realm"),
     ([{"realm": "a"}, {"realm": "a"}], "[1]: realm 'a' appears twice in the file"),
     ([{"realm": "a"}, {"name": "b"}], "[1]: not a Keycloak realm export")],
    ids=["empty", "twice", "not-a-realm"],
)
def test_a_list_of_realms_that_is_empty_repeats_one_or_holds_no_realm_is_refused(tmp_path, content, expected):
    realms = tmp_path / "realms.json"
    realms.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(KeycloakImportError) as refused:
        read_exports(realms)
    assert str(refused.value).startswith(f"{realms}: {expected}")


def test_broken_json_is_refused_with_its_position(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"realm": "x",\n  "users": [}', encoding="utf-8")
    with pytest.raises(KeycloakImportError, match=r"broken.json:2:\d+: not valid JSON"):
        read_export(broken)


# Export back to YAML


def test_the_yaml_export_loads_back_as_the_same_realm_without_any_secret(imported, database, tmp_path):
    with database.session() as session:
        text = realm_yaml(export_realm(session, session.get(Realm, imported.id)))
    assert "portal-secret" not in text and "batch-secret" not in text
    path = tmp_path / "kosmo-kc.yaml"
    path.write_text(text, encoding="utf-8")
    config = load_model(RealmConfig, path)
    portal = next(c for c in config.clients if c.client_id == "kosmo-portal")
    assert portal.secret.sha256 and portal.pkce_required
    assert config.tokens.access_token_lifespan == 600
    assert config.display_name == "KOSMO 健康保険組合"
