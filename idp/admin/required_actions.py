"""`authentication/required-actions`: the required actions this server knows (its actions with a
Keycloak alias), as Keycloak's RequiredActionProviderRepresentation, and their realm settings.
A disabled action cannot be queued on a user; a default action is queued on every user the Admin
API creates."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import select

from idp.admin import errors
from idp.admin.api import caller, json_body, no_content, record_admin_event, string_lists
from idp.db import db_session
from idp.db.models import RequiredActionSetting
from idp.request_context import realm_request

bp = Blueprint("required_actions", __name__)

# Keycloak's names and default priorities for its built-in required actions.
KEYCLOAK_ACTIONS = {
    "CONFIGURE_TOTP": ("Configure OTP", 10),
    "TERMS_AND_CONDITIONS": ("Terms and Conditions", 20),
    "UPDATE_PASSWORD": ("Update Password", 30),
    "UPDATE_PROFILE": ("Update Profile", 40),
    "VERIFY_EMAIL": ("Verify Email", 50),
    "webauthn-register": ("Webauthn Register", 70),
    "UPDATE_EMAIL": ("Update Email", 110),
}
OTHER_PRIORITY = 200


def known_aliases() -> list[str]:
    """The Keycloak aliases of the installed actions, in Keycloak's order."""
    registry = current_app.extensions["idp.flows"].registry
    aliases = {action.alias for action in registry.actions.values() if action.alias}
    return sorted(aliases, key=lambda alias: (KEYCLOAK_ACTIONS.get(alias, (alias, OTHER_PRIORITY))[1], alias))


def settings() -> dict[str, RequiredActionSetting]:
    """Every known alias with its realm setting (stored, or Keycloak's defaults)."""
    realm_id = realm_request().realm.id
    stored = {row.alias: row for row in db_session().scalars(
        select(RequiredActionSetting).where(RequiredActionSetting.realm_id == realm_id))}
    return {alias: stored.get(alias) or _default(realm_id, alias) for alias in known_aliases()}


def _default(realm_id: str, alias: str) -> RequiredActionSetting:
    priority = KEYCLOAK_ACTIONS.get(alias, (alias, OTHER_PRIORITY))[1]
    return RequiredActionSetting(realm_id=realm_id, alias=alias, enabled=True, default_action=False,
                                 priority=priority, config={})


def representation(setting: RequiredActionSetting) -> dict:
    return {"alias": setting.alias, "name": KEYCLOAK_ACTIONS.get(setting.alias, (setting.alias, 0))[0],
            "providerId": setting.alias, "enabled": bool(setting.enabled),
            "defaultAction": bool(setting.default_action), "priority": setting.priority,
            "config": dict(setting.config or {})}


@bp.get("/authentication/required-actions")
def list_required_actions():
    caller().require("view-realm")
    ordered = sorted(settings().values(), key=lambda setting: (setting.priority, setting.alias))
    return jsonify([representation(setting) for setting in ordered])


@bp.get("/authentication/required-actions/<alias>")
def get_required_action(alias: str):
    caller().require("view-realm")
    return jsonify(representation(_known(alias)))


@bp.put("/authentication/required-actions/<alias>")
def update_required_action(alias: str):
    """`enabled`, `defaultAction` (only while enabled, as Keycloak), `priority` and `config`."""
    caller().require("manage-realm")
    setting, body = _known(alias), json_body()
    if "enabled" in body:
        setting.enabled = bool(body["enabled"])
    if "defaultAction" in body:
        setting.default_action = bool(body["defaultAction"])
    if isinstance(body.get("priority"), int):
        setting.priority = body["priority"]
    if "config" in body:
        setting.config = {key: values[0] for key, values in string_lists(body, "config", "Invalid config").items()}
    setting.default_action = setting.default_action and setting.enabled
    db_session().merge(setting)
    record_admin_event("UPDATE", None, f"authentication/required-actions/{alias}",
                       resource_type="REQUIRED_ACTION")
    db_session().commit()
    return no_content()


def _known(alias: str) -> RequiredActionSetting:
    setting = settings().get(alias)
    if setting is None:
        raise errors.not_found("Failed to find required action")
    return setting
