"""A UserRepresentation sent to the Admin API, checked whole before anything is written.

Problems are reported as Keycloak's user-profile validation names them (`field`, `errorMessage`,
`params`); a body of the wrong shape is a plain 400. Fields left out of an update stay as they are.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from idp.admin import errors
from idp.admin.errors import FieldProblem
from idp.admin.representations import BIRTHDATE

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_LENGTH = 255
NAMES = {"firstName": "first_name", "lastName": "last_name"}


@dataclass
class UserChanges:
    """What a valid representation sets: model attribute values, attributes, actions, a password."""

    values: dict = field(default_factory=dict)
    attributes: dict[str, list[str]] | None = None
    required_actions: list[str] | None = None
    password: dict | None = None  # {"value": ..., "temporary": bool}


def read_user(body: dict, *, creating: bool, current_username: str | None, known_actions) -> UserChanges:
    """Check `body`; raise a 400 AdminError naming every invalid field, or return the changes."""
    changes, problems = UserChanges(), list[FieldProblem]()
    _read_username(body, creating, current_username, changes, problems)
    _read_email(body, changes, problems)
    for key, column in NAMES.items():
        value = _text(body, key)
        if value is not None and len(value) > MAX_LENGTH:
            problems.append(FieldProblem(key, "error-invalid-length", "", str(MAX_LENGTH)))
        elif value is not None:
            changes.values[column] = value
    for key, column in (("enabled", "enabled"), ("emailVerified", "email_verified")):
        if key in body and body[key] is not None:
            changes.values[column] = _boolean(body, key)
    if creating:
        changes.values.setdefault("enabled", False)  # Keycloak creates a user disabled unless told
    _read_attributes(body, changes, problems)
    _read_required_actions(body, changes, known_actions)
    changes.password = _password_credential(body)
    if problems:
        raise errors.invalid_fields(problems)
    return changes


def _text(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise errors.bad_request(f"Invalid value for {key}: expected a string")
    return value.strip()


def _boolean(body: dict, key: str) -> bool:
    if not isinstance(body[key], bool):
        raise errors.bad_request(f"Invalid value for {key}: expected true or false")
    return body[key]


def _read_username(body, creating, current_username, changes, problems) -> None:
    username = _text(body, "username")
    if username is None or username == "":
        if creating:
            problems.append(FieldProblem("username", "error-user-attribute-required"))
        return
    if len(username) > MAX_LENGTH:
        problems.append(FieldProblem("username", "error-invalid-length", "", str(MAX_LENGTH)))
    elif any(char.isspace() or not char.isprintable() for char in username):
        problems.append(FieldProblem("username", "error-username-invalid-character", username))
    elif not creating and username.lower() != current_username:
        # Keycloak's default: editUsernameAllowed is off (members choose their ID themselves).
        problems.append(FieldProblem("username", "error-user-attribute-read-only"))
    elif creating:
        changes.values["username"] = username.lower()


def _read_email(body, changes, problems) -> None:
    email = _text(body, "email")
    if email is None:
        return
    if email and (len(email) > 320 or not EMAIL.fullmatch(email)):
        problems.append(FieldProblem("email", "invalidEmailMessage", email))
    else:
        changes.values["email"] = email.lower() or None


def _read_attributes(body, changes, problems) -> None:
    attributes = body.get("attributes")
    if attributes is None:
        return
    if not isinstance(attributes, dict) or not all(_strings(values) for values in attributes.values()):
        raise errors.bad_request("Invalid value for attributes: expected a map of string lists")
    attributes = {name: [values] if isinstance(values, str) else list(values) for name, values in attributes.items()}
    birthdate = attributes.pop(BIRTHDATE, None)
    if birthdate:
        try:
            changes.values["birthdate"] = date.fromisoformat(birthdate[0])
        except ValueError:
            problems.append(FieldProblem(BIRTHDATE, "error-invalid-date", birthdate[0]))
    elif birthdate is not None:
        changes.values["birthdate"] = None
    changes.attributes = attributes


def _strings(values) -> bool:
    return isinstance(values, str) or (isinstance(values, list) and all(isinstance(v, str) for v in values))


def _read_required_actions(body, changes, known_actions) -> None:
    actions = body.get("requiredActions")
    if actions is None:
        return
    if not isinstance(actions, list) or not all(isinstance(action, str) for action in actions):
        raise errors.bad_request("Invalid value for requiredActions: expected a list of strings")
    if any(not known_actions(action) for action in actions):
        raise errors.bad_request("Provided invalid required actions")
    changes.required_actions = list(dict.fromkeys(actions))


def _password_credential(body: dict) -> dict | None:
    credentials = body.get("credentials")
    if not credentials:
        return None
    if not isinstance(credentials, list) or not all(isinstance(item, dict) for item in credentials):
        raise errors.bad_request("Invalid value for credentials: expected a list of credentials")
    passwords = [item for item in credentials if item.get("type", "password") == "password"]
    if len(passwords) != len(credentials) or len(passwords) > 1:
        raise errors.bad_request("Only one credential of type password can be set")
    return read_password(passwords[0])


def read_password(credential: dict) -> dict:
    """A CredentialRepresentation with a password `value` (reset-password, or a new user's)."""
    value, temporary = credential.get("value"), credential.get("temporary", False)
    if credential.get("type", "password") != "password":
        raise errors.bad_request("Unsupported credential type")
    if not isinstance(value, str) or value == "":
        raise errors.bad_request("Empty password")
    if not isinstance(temporary, bool):
        raise errors.bad_request("Invalid value for temporary: expected true or false")
    return {"value": value, "temporary": temporary}
