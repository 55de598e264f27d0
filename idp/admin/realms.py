"""`GET /admin/realms` and `/admin/realms/{realm}`: the realms a caller may administer, as Keycloak's
RealmRepresentation. Read-only: a realm's settings come from the operators' realm YAML."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from idp.admin import errors
from idp.admin.api import caller, http_error, refused, unexpected
from idp.admin.auth import MASTER, Caller, authenticate, bearer_token, token_realm_name
from idp.db import db_session
from idp.db.models import Realm
from idp.realms import realm_config
from idp.request_context import realm_request

bp = Blueprint("realms", __name__)

READ_ONLY = ("Realm settings come from the operators' realm YAML (realm-config/{realm}.yaml); "
             "change them there and reload the realm")


@bp.get("")
def get_realm():
    """The realm's representation (view-realm), or its name and id for any other administrator."""
    here = realm_request()
    return jsonify(realm_representation(here.realm, full="view-realm" in caller().permissions))


@bp.put("")
def update_realm():
    """Refused as Keycloak refuses what it does not support: the YAML is the realm's truth."""
    caller().require("manage-realm")
    raise errors.AdminError(501, {"errorMessage": READ_ONLY.format(realm=realm_request().realm.name)})


def realm_list_blueprint() -> Blueprint:
    """`/admin/realms` itself, outside any one realm (a new blueprint for each app)."""
    listing = Blueprint("admin_realms", __name__, url_prefix="/admin")
    listing.register_error_handler(errors.AdminError, refused)
    listing.register_error_handler(HTTPException, http_error)
    listing.register_error_handler(Exception, unexpected)
    listing.add_url_rule("/realms", view_func=list_realms, methods=["GET"])
    return listing


def list_realms():
    """A master-realm administrator sees every realm whose Admin API is on; a realm's own service
    account sees that realm, when it holds a realm-management role."""
    session = db_session()
    token = bearer_token(request.headers.get("Authorization", ""))
    home = session.scalar(select(Realm).where(Realm.name == (token_realm_name(token) or ""), Realm.enabled.is_(True)))
    if home is None:
        raise errors.unauthorized()
    by = authenticate(session, home, token, current_app.config["IDP_SETTINGS"].issuer)
    realms = session.scalars(select(Realm).where(Realm.enabled.is_(True)).order_by(Realm.name))
    return jsonify([realm_representation(realm, full="view-realm" in by.permissions)
                    for realm in realms if _may_see(by, realm)])


def _may_see(by: Caller, realm: Realm) -> bool:
    if not by.permissions:
        return False
    if by.realm.name == MASTER:
        return realm.name == MASTER or realm_config(realm).admin_api
    return realm.id == by.realm.id and realm_config(realm).admin_api


def realm_representation(realm: Realm, *, full: bool) -> dict:
    """Keycloak's RealmRepresentation for the settings this server has."""
    brief = {"id": realm.id, "realm": realm.name, "displayName": realm.display_name, "enabled": bool(realm.enabled)}
    if not full:
        return brief
    config = realm_config(realm)
    tokens, brute = config.tokens, config.brute_force
    return {
        **brief,
        "notBefore": realm.not_before or 0,
        "defaultSignatureAlgorithm": tokens.signature_algorithm,
        "revokeRefreshToken": tokens.revoke_refresh_token,
        "refreshTokenMaxReuse": 0,
        "accessTokenLifespan": tokens.access_token_lifespan,
        "accessCodeLifespan": tokens.access_code_lifespan,
        "accessCodeLifespanLogin": tokens.login_timeout,
        "actionTokenGeneratedByUserLifespan": tokens.action_token_lifespan,
        "actionTokenGeneratedByAdminLifespan": tokens.action_token_admin_lifespan,
        "ssoSessionIdleTimeout": tokens.sso_session_idle_timeout,
        "ssoSessionMaxLifespan": tokens.sso_session_max_lifespan,
        "ssoSessionIdleTimeoutRememberMe": tokens.remember_me_idle_timeout,
        "ssoSessionMaxLifespanRememberMe": tokens.remember_me_max_lifespan,
        "bruteForceProtected": brute.enabled,
        "permanentLockout": brute.permanent_lockout,
        "failureFactor": brute.failure_factor,
        "waitIncrementSeconds": brute.wait_increment_seconds,
        "maxFailureWaitSeconds": brute.max_failure_wait_seconds,
        "quickLoginCheckMilliSeconds": brute.quick_login_check_milli_seconds,
        "minimumQuickLoginWaitSeconds": brute.minimum_quick_login_wait_seconds,
        "maxDeltaTimeSeconds": brute.max_delta_time_seconds,
        "rememberMe": config.remember_me,
        "registrationAllowed": config.registration_allowed,
        "passwordPolicy": config.password_policy,
        "loginTheme": config.theme,
        "sslRequired": "external",
    }
