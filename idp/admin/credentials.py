"""`users/{id}/credentials`: list a user's passwords, apps and passkeys, remove one, rename one."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from idp.admin import errors
from idp.admin.api import caller, changed, member
from idp.admin.representations import credential_representation
from idp.db.models import Credential, User
from idp.db.users import PASSWORD_HISTORY

bp = Blueprint("credentials", __name__)

MAX_LABEL = 255


@bp.get("/users/<user_id>/credentials")
def list_credentials(user_id: str):
    """Stored credentials by priority, without secrets; old passwords kept for the history rule are not listed."""
    caller().require("view-users")
    user = member(user_id)
    return jsonify([credential_representation(c) for c in user.credentials if c.type != PASSWORD_HISTORY])


@bp.delete("/users/<user_id>/credentials/<credential_id>")
def delete_credential(user_id: str, credential_id: str):
    caller().require("manage-users")
    user = member(user_id)
    credential = _credential(user, credential_id)
    user.credentials.remove(credential)
    return changed("DELETE", user, f"users/{user.id}/credentials/{credential_id}", credential_type=credential.type)


@bp.put("/users/<user_id>/credentials/<credential_id>/userLabel")
def rename_credential(user_id: str, credential_id: str):
    """The body is the new label as plain text, as Keycloak takes it."""
    caller().require("manage-users")
    user = member(user_id)
    credential = _credential(user, credential_id)
    label = request.get_data(as_text=True).strip()
    if len(label) > MAX_LABEL:
        raise errors.bad_request(f"User label must be at most {MAX_LABEL} characters")
    credential.user_label = label
    return changed("UPDATE", user, f"users/{user.id}/credentials/{credential_id}/userLabel")


def _credential(user: User, credential_id: str) -> Credential:
    credential = next((c for c in user.credentials if c.id == credential_id and c.type != PASSWORD_HISTORY), None)
    if credential is None:
        raise errors.not_found("Credential not found")
    return credential
