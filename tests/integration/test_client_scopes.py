"""Keycloak 26's client scopes as a relying party meets them: default scopes in every token,
optional ones (address, phone, microprofile-jwt, organization) when asked for."""
from __future__ import annotations

from sqlalchemy import select

from idp.db.models import User
from tests.support.sign_in import MEMBER_ID, OIDC, add_member
from tests.support.tokens import (
    APP,
    add_direct_access_client,
    assert_oauth_error,
    claims_of,
    password_grant,
    set_client_scopes,
)

OPTIONAL = "openid address phone microprofile-jwt organization"


def give_attributes(database, **attributes) -> None:
    with database.session() as session:
        session.scalar(select(User).where(User.username == MEMBER_ID)).attributes = attributes


def test_optional_scopes_asked_for_add_the_members_address_phone_upn_and_groups(client, database, settings):
    """Pins Keycloak's address (OIDC Core §5.1.1 object), phone (phoneNumber, phoneNumberVerified
    attributes) and microprofile-jwt (upn = username, groups = realm roles) scope mappers."""
    add_member(database, settings)
    add_direct_access_client(database)
    give_attributes(database, postal_code=["100-0001"], region=["東京都"], locality=["千代田区"],
                    street_address=["千代田1-1"], phoneNumber=["+81-3-0000-0000"], phoneNumberVerified=["true"])

    answer = password_grant(client, scope=OPTIONAL).get_json()

    assert answer["scope"] == "openid profile email address phone microprofile-jwt organization"
    id_token = claims_of(client, answer["id_token"])
    assert id_token["address"] == {"street_address": "千代田1-1", "locality": "千代田区", "region": "東京都",
                                   "postal_code": "100-0001"}
    assert (id_token["phone_number"], id_token["phone_number_verified"]) == ("+81-3-0000-0000", True)
    assert id_token["upn"] == MEMBER_ID
    assert "default-roles-kosmo-demo" in id_token["groups"]
    userinfo = client.get(f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {answer['access_token']}"})
    assert userinfo.get_json()["address"]["postal_code"] == "100-0001"
    assert "organization" not in id_token  # accepted; no organizations here


def test_a_member_without_those_attributes_gets_an_empty_address_and_no_phone(client, database, settings):
    """Pins Keycloak: the address mapper always adds `address` (empty), attribute mappers add nothing."""
    add_member(database, settings)
    add_direct_access_client(database)

    claims = claims_of(client, password_grant(client, scope=OPTIONAL).get_json()["id_token"])

    assert claims["address"] == {}
    assert "phone_number" not in claims and "phone_number_verified" not in claims


def test_without_optional_scopes_asked_for_only_the_default_scopes_apply(client, database, settings):
    add_member(database, settings)
    add_direct_access_client(database)

    answer = password_grant(client, scope="openid").get_json()

    assert answer["scope"] == "openid profile email"
    access = claims_of(client, answer["access_token"])
    assert {"realm_access", "acr", "preferred_username"} <= set(access)
    assert not {"address", "upn", "phone_number"} & set(access)


def test_a_scope_the_client_does_not_have_is_refused_and_default_scopes_decide_the_claims(client, database,
                                                                                             settings):
    """Pins Keycloak's TokenManager.isValidScope: a scope that is neither default nor optional for
    the client is `invalid_scope`; without the `roles` and `acr` default scopes there is no
    `realm_access` and no `acr` claim."""
    add_member(database, settings)
    add_direct_access_client(database)
    set_client_scopes(database, APP, default=["profile", "email", "basic"], optional=["address"])

    assert_oauth_error(password_grant(client, scope="openid phone"), 400, "invalid_scope")
    access = claims_of(client, password_grant(client, scope="openid address").get_json()["access_token"])

    assert access["scope"] == "openid profile email address"
    assert "realm_access" not in access and "acr" not in access


def test_discovery_lists_the_client_scopes_served(client):
    document = client.get(f"{OIDC.rsplit('/protocol', 1)[0]}/.well-known/openid-configuration").get_json()

    assert {"openid", "profile", "email", "roles", "web-origins", "acr", "basic", "address", "phone",
            "microprofile-jwt", "organization"} <= set(document["scopes_supported"])
    assert {"address", "phone_number", "upn", "groups"} <= set(document["claims_supported"])
