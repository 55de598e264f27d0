"""`users`: search and count, create, read, update and delete, as Keycloak's UsersResource."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from idp.admin import errors, required_actions
from idp.admin.api import caller, changed, flag, json_body, member, no_content, record_admin_event, whole_number
from idp.admin.representations import UPDATE_PASSWORD, user_representation
from idp.admin.user_input import UserChanges, read_user
from idp.db import db_session
from idp.db.models import PendingRequiredAction, User, utcnow
from idp.db.users import UserExists, insert_user, password_credential, previous_hashes, set_password
from idp.ephemeral import ephemeral
from idp.request_context import realm_request
from idp.security.brute_force import BruteForce
from idp.security.password_policy import PasswordPolicy

bp = Blueprint("users", __name__)

DEFAULT_MAX = 100  # Keycloak's page size when `max` is not given
EXISTS = {"username": "User exists with same username", "email": "User exists with same email"}
SEARCHED = (User.username, User.email, User.first_name, User.last_name)
FILTERS = {"username": User.username, "email": User.email, "firstName": User.first_name, "lastName": User.last_name}


@bp.get("/users")
def list_users():
    """Users matching `search` or the field filters, ordered by user ID, a page at a time."""
    caller().require("query-users")
    query = _matching(select(User)).order_by(User.username)
    query = query.offset(whole_number("first", 0)).limit(whole_number("max", DEFAULT_MAX))
    users = db_session().scalars(query.options(selectinload(User.credentials), selectinload(User.required_actions)))
    brief, manage = flag("briefRepresentation", False), "manage-users" in caller().permissions
    return jsonify([user_representation(user, brief=brief, can_manage=manage) for user in users])


@bp.get("/users/count")
def count_users():
    caller().require("query-users")
    return jsonify(db_session().scalar(_matching(select(func.count()).select_from(User))))


def _matching(query):
    """Keycloak's filters: `search` over every name (prefix; `*x*` infix; `"x"` exact), or
    `username`/`email`/`firstName`/`lastName` (infix, or equal with `exact=true`)."""
    query = query.where(User.realm_id == realm_request().realm.id, User.service_account_client_id.is_(None))
    search = request.args.get("search", "").strip()
    if search and search != "*":
        query = query.where(or_(*(_search_term(column, search) for column in SEARCHED)))
    exact = flag("exact", False)
    for name, column in FILTERS.items():
        value = request.args.get(name, "").strip().lower()
        if value:
            lowered = func.lower(column)
            query = query.where(lowered == value if exact else lowered.contains(value, autoescape=True))
    for name, flag_column in (("enabled", User.enabled), ("emailVerified", User.email_verified)):
        if flag(name) is not None:
            query = query.where(flag_column.is_(flag(name)))
    return query


def _search_term(column, search: str):
    lowered, term = func.lower(column), search.lower()
    if len(term) > 1 and term.startswith('"') and term.endswith('"'):
        return lowered == term[1:-1]
    if term.startswith("*"):
        return lowered.contains(term.strip("*"), autoescape=True)
    return lowered.startswith(term.rstrip("*"), autoescape=True)


@bp.post("/users")
def create_user():
    """201 with the new user's URL in `Location`; 409 when the user ID or email is taken."""
    caller().require("manage-users")
    changes = read_user(json_body(), creating=True, current_username=None, known_actions=_known_action)
    user = User(realm_id=realm_request().realm.id, **changes.values)
    _insert(user)
    _apply(user, changes)
    _queue_default_actions(user)
    if changes.password is not None:
        set_checked_password(user, changes.password)
    response = changed("CREATE", user, f"users/{user.id}")
    response.status_code = 201
    here = realm_request()
    base_url = here.settings.base_url.rstrip("/")
    response.headers["Location"] = f"{base_url}/admin/realms/{here.realm.name}/users/{user.id}"
    return response


@bp.get("/users/<user_id>")
def get_user(user_id: str):
    caller().require("view-users")
    return jsonify(user_representation(member(user_id), can_manage="manage-users" in caller().permissions))


@bp.put("/users/<user_id>")
def update_user(user_id: str):
    """Change the fields the representation carries; the others stay as they are (204)."""
    caller().require("manage-users")
    user = member(user_id)
    changes = read_user(json_body(), creating=False, current_username=user.username, known_actions=_known_action)
    if "email" in changes.values and changes.values["email"] != user.email:
        # A new address is unverified unless the administrator says otherwise.
        changes.values.setdefault("email_verified", False)
    try:
        with db_session().begin_nested():
            for name, value in changes.values.items():
                setattr(user, name, value)
            _apply(user, changes)
            db_session().flush()
    except IntegrityError as exc:  # only the unique indexes of user ID and email can refuse
        raise errors.conflict(EXISTS[UserExists.from_integrity_error(exc, user).field]) from None
    if changes.password is not None:
        set_checked_password(user, changes.password)
    if changes.values.get("enabled") is True:
        # As Keycloak: enabling a member also forgets their failed sign-ins and lifts a lockout.
        here = realm_request()
        BruteForce(ephemeral(), here.realm.id, here.config.brute_force, utcnow()).unlock_member(user)
    return changed("UPDATE", user, f"users/{user.id}")


@bp.delete("/users/<user_id>")
def delete_user(user_id: str):
    caller().require("manage-users")
    user = member(user_id)
    record_admin_event("DELETE", user, f"users/{user.id}", username=user.username)
    db_session().delete(user)
    db_session().commit()
    return no_content()


def _insert(user: User) -> None:
    try:
        insert_user(db_session(), user)
    except UserExists as exc:
        raise errors.conflict(EXISTS[exc.field]) from None


def _apply(user: User, changes: UserChanges) -> None:
    if changes.attributes is not None:
        own_flags = {name: value for name, value in (user.attributes or {}).items() if not isinstance(value, list)}
        user.attributes = {**changes.attributes, **own_flags}
    if changes.required_actions is not None:
        wanted = [action for action in changes.required_actions if action != UPDATE_PASSWORD]
        user.required_actions = [PendingRequiredAction(action=action) for action in wanted]
        # A temporary password is how UPDATE_PASSWORD is queued here; leaving it out lifts it.
        password = password_credential(user)
        if password is not None:
            password.temporary = UPDATE_PASSWORD in changes.required_actions
        elif UPDATE_PASSWORD in changes.required_actions:
            user.required_actions.append(PendingRequiredAction(action=UPDATE_PASSWORD))


def set_checked_password(user: User, password: dict) -> None:
    """Set a password read by `read_password`; Keycloak applies the realm's password policy to
    passwords administrators set, too."""
    policy = PasswordPolicy.parse(realm_request().config.password_policy)
    violations = policy.violations(password["value"], username=user.username, email=user.email or "",
                                   previous_hashes=previous_hashes(user))
    if violations:
        raise errors.password_refused(violations[0])
    set_password(db_session(), user, password["value"], realm_request().settings, temporary=password["temporary"])


def _known_action(alias: str) -> bool:
    """An installed action the realm has not disabled (by its alias or our own name)."""
    action = current_app.extensions["idp.flows"].registry.action_for_alias(alias)
    if action is None:
        return False
    setting = required_actions.settings().get(action.alias or "")
    return setting is None or bool(setting.enabled)


def _queue_default_actions(user: User) -> None:
    """Keycloak queues the realm's default actions on every new user."""
    queued = {action.action for action in user.required_actions}
    for alias, setting in required_actions.settings().items():
        if setting.enabled and setting.default_action and alias not in queued:
            user.required_actions.append(PendingRequiredAction(action=alias))
