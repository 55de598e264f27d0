"""The Admin API's error answers, with Keycloak's JSON bodies and English texts."""
from __future__ import annotations


class AdminError(Exception):
    """An expected refusal: `status` and the JSON `body` Keycloak answers with."""

    def __init__(self, status: int, body: dict):
        super().__init__(body)
        self.status = status
        self.body = body


def unauthorized() -> AdminError:
    return AdminError(401, {"error": "HTTP 401 Unauthorized"})


def forbidden() -> AdminError:
    return AdminError(403, {"error": "HTTP 403 Forbidden"})


def not_found(message: str) -> AdminError:
    """E.g. `User not found`, `Realm not found.`, `Credential not found`."""
    return AdminError(404, {"error": message})


def conflict(message: str) -> AdminError:
    """E.g. `User exists with same username`."""
    return AdminError(409, {"errorMessage": message})


def bad_request(message: str) -> AdminError:
    return AdminError(400, {"errorMessage": message})


def server_error(message: str) -> AdminError:
    """A dependency failed (mail delivery): Keycloak's 500 with its message."""
    return AdminError(500, {"errorMessage": message})


class FieldProblem:
    """One invalid attribute of a representation, as Keycloak's user-profile validation names it."""

    def __init__(self, field: str, message: str, *params: str):
        self.field, self.message, self.params = field, message, [field, *params]

    def as_json(self) -> dict:
        return {"field": self.field, "errorMessage": self.message, "params": self.params}


def invalid_fields(problems: list[FieldProblem]) -> AdminError:
    """400 with the first problem at the top level and, when there are several, all under `errors`."""
    body = problems[0].as_json()
    if len(problems) > 1:
        body["errors"] = [problem.as_json() for problem in problems]
    return AdminError(400, body)


# Keycloak's message keys and English texts for a password its policy refuses.
PASSWORD_POLICY_ERRORS = {
    "password_policy.length": ("invalidPasswordMinLengthMessage", "minimum length {min}."),
    "password_policy.max_length": ("invalidPasswordMaxLengthMessage", "maximum length {max}."),
    "password_policy.digits": ("invalidPasswordMinDigitsMessage", "must contain at least {min} numerical digits."),
    "password_policy.lower_case": ("invalidPasswordMinLowerCaseCharsMessage",
                                   "must contain at least {min} lower case characters."),
    "password_policy.upper_case": ("invalidPasswordMinUpperCaseCharsMessage",
                                   "must contain at least {min} upper case characters."),
    "password_policy.special_chars": ("invalidPasswordMinSpecialCharsMessage",
                                      "must contain at least {min} special characters."),
    "password_policy.not_username": ("invalidPasswordNotUsernameMessage", "must not be equal to the username."),
    "password_policy.not_contains_username": ("invalidPasswordNotContainsUsernameMessage",
                                              "Can not contain the username."),
    "password_policy.not_email": ("invalidPasswordNotEmailMessage", "must not be equal to the email."),
    "password_policy.history": ("invalidPasswordHistoryMessage", "must not be equal to any of last {count} passwords."),
    "password_policy.regex_pattern": ("invalidPasswordRegexPatternMessage", "fails to match regex pattern(s)."),
    "password_policy.allowed_characters": ("invalidPasswordAllowedCharactersMessage",
                                           "contains characters the realm does not allow."),
}


def password_refused(violation) -> AdminError:
    """Keycloak's answer to a password its policy refuses: the first rule broken."""
    key, text = PASSWORD_POLICY_ERRORS.get(violation.key, ("invalidPasswordMessage", "{problem}"))
    description = "Invalid password: " + text.format(problem=violation.key, **violation.params)
    return AdminError(400, {"error": key, "error_description": description})
