"""A client's logout settings: in realm YAML and carried over from Keycloak's client attributes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from idp.realms.keycloak import ExportFiles, parse_export
from idp.realms.schema import ClientConfig
from tests.support.settings import make_settings

EXPORT = Path(__file__).resolve().parent.parent / "fixtures" / "keycloak" / "kosmo-kc-realm.json"


@pytest.fixture
def export() -> dict:
    return json.loads(EXPORT.read_text(encoding="utf-8"))


def imported_client(export: dict, tmp_path, client_id: str = "kosmo-portal") -> ClientConfig:
    flows = tmp_path / "flows"
    flows.mkdir(exist_ok=True)
    settings = make_settings(tmp_path, flows_dir=flows)
    config = parse_export(ExportFiles(export), settings).config
    return next(client for client in config.clients if client.client_id == client_id)


def portal_of(export: dict) -> dict:
    return next(client for client in export["clients"] if client["clientId"] == "kosmo-portal")


def test_keycloaks_backchannel_logout_attributes_are_carried_over(export, tmp_path):
    portal_of(export)["attributes"].update({
        "backchannel.logout.url": "https://kenpo.portal.example.jp/backchannel-logout",
        "backchannel.logout.session.required": "true", "backchannel.logout.revoke.offline.tokens": "true"})

    portal = imported_client(export, tmp_path)

    assert portal.backchannel_logout_url == "https://kenpo.portal.example.jp/backchannel-logout"
    assert portal.backchannel_logout_session_required and portal.backchannel_logout_revoke_offline_tokens


def test_keycloaks_unwritten_logout_flags_read_as_off(export, tmp_path):
    """Keycloak reads an absent backchannel.logout.session.required as false."""
    portal_of(export)["attributes"].pop("backchannel.logout.session.required")

    portal = imported_client(export, tmp_path)

    assert portal.backchannel_logout_url == "" and not portal.backchannel_logout_session_required
    assert portal.frontchannel_logout_url == ""


@pytest.mark.parametrize("enabled", [True, False])
def test_the_frontchannel_logout_url_counts_only_while_frontchannel_logout_is_on(export, tmp_path, enabled):
    portal_of(export)["frontchannelLogout"] = enabled
    portal_of(export)["attributes"].update({"frontchannel.logout.url": "https://kenpo.portal.example.jp/fc-logout",
                                            "frontchannel.logout.session.required": "true"})

    portal = imported_client(export, tmp_path)

    assert portal.frontchannel_logout_url == ("https://kenpo.portal.example.jp/fc-logout" if enabled else "")
    assert portal.frontchannel_logout_session_required


@pytest.mark.parametrize("url", ["/backchannel-logout", "ftp://portal.example.jp/x", "https://portal.example.jp/#x"])
def test_a_logout_url_must_be_an_absolute_web_address(url):
    with pytest.raises(ValidationError, match="absolute http"):
        ClientConfig(client_id="portal", public=True, standard_flow=False, backchannel_logout_url=url)
