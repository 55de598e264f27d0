"""`attack-detection/brute-force/users/{id}`: a user's failed sign-ins, and lifting their lock."""
from __future__ import annotations

from flask import Blueprint, jsonify

from idp.admin.api import caller, changed, member
from idp.db.models import utcnow
from idp.ephemeral import ephemeral
from idp.request_context import realm_request
from idp.security.brute_force import BruteForce

bp = Blueprint("attack_detection", __name__)


def _detection() -> BruteForce:
    return BruteForce(ephemeral(), realm_request().realm.id, realm_request().config.brute_force, utcnow())


@bp.get("/attack-detection/brute-force/users/<user_id>")
def brute_force_status(user_id: str):
    """numFailures, disabled (locked now), lastIPFailure, lastFailure, as Keycloak reports them."""
    caller().require("view-users")
    return jsonify(_detection().status(member(user_id).id))


@bp.delete("/attack-detection/brute-force/users/<user_id>")
def clear_brute_force(user_id: str):
    """Forget the failures and lift the lock; a permanent lockout's disabling is undone too, as
    `idp user unlock` does."""
    caller().require("manage-users")
    user = member(user_id)
    _detection().unlock_member(user)
    return changed("DELETE", user, f"attack-detection/brute-force/users/{user.id}")
