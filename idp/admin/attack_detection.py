"""`attack-detection/brute-force/users/{id}`: a user's failed sign-ins, and lifting their lock."""
from __future__ import annotations

from flask import g, jsonify

from idp.admin.api import bp, changed, member
from idp.db.models import utcnow
from idp.ephemeral import ephemeral
from idp.security.brute_force import BruteForce


def _detection() -> BruteForce:
    return BruteForce(ephemeral(), g.realm.id, g.realm_config.brute_force, utcnow())


@bp.get("/attack-detection/brute-force/users/<user_id>")
def brute_force_status(user_id: str):
    """numFailures, disabled (locked now), lastIPFailure, lastFailure, as Keycloak reports them."""
    g.caller.require("view-users")
    return jsonify(_detection().status(member(user_id).id))


@bp.delete("/attack-detection/brute-force/users/<user_id>")
def clear_brute_force(user_id: str):
    """Forget the failures and lift the lock; a permanent lockout's disabling is undone too, as
    `idp user unlock` does."""
    g.caller.require("manage-users")
    user = member(user_id)
    _detection().unlock_member(user)
    return changed("DELETE", user, f"attack-detection/brute-force/users/{user.id}")
