"""Every key of the ephemeral store, one named builder per kind of state, so that a key is
spelled in one place (node-oidc-provider's `grantKeyFor` style).

The strings never change: entries written before an upgrade (a sign-in in progress, a lock, a
counter) must be found after it. Keys of one realm's state carry the realm's id.
"""
from __future__ import annotations


def auth_session(realm_id: str, root_id: str, tab_id: str) -> str:
    """One sign-in in progress in one browser tab (`idp.login.auth_session`)."""
    return f"auth:{realm_id}:{root_id}:{tab_id}"


def authorization_code(realm_id: str, code: str) -> str:
    """An authorization code waiting to be redeemed at the token endpoint, once."""
    return f"code:{realm_id}:{code}"


def redeemed_code(realm_id: str, code: str) -> str:
    """What a redeemed authorization code issued, so a second redemption can revoke it."""
    return f"code-used:{realm_id}:{code}"


def sign_in_link(realm_id: str, key: str) -> str:
    """A mailed link that resumes a step (an address check), single use."""
    return f"link:{realm_id}:{key}"


def admin_actions_link(realm_id: str, key: str) -> str:
    """An administrator's execute-actions mail link, single use."""
    return f"admin-actions:{realm_id}:{key}"


def recovery_mails_to_address(kind: str, realm_id: str, address_digest: str) -> str:
    """This hour's recovery mails (`kind`: reset-credentials, forgot-user-id) to one typed address."""
    return f"recovery:{kind}:address:{realm_id}:{address_digest}"


def recovery_mails_from_ip(kind: str, realm_id: str, ip: str) -> str:
    """This hour's recovery requests of one kind from one client IP."""
    return f"recovery:{kind}:ip:{realm_id}:{ip}"


def brute_force_member(realm_id: str, who: str) -> str:
    """Failed sign-ins counted against a member, or against a user ID nobody has; case-blind."""
    return f"brute-force:{realm_id}:user:{who.lower()}"


def brute_force_ip(realm_id: str, ip: str) -> str:
    """Failed sign-ins counted against a client IP."""
    return f"brute-force:{realm_id}:ip:{ip}"


def rate_limit_count(group: str, who: str, window: int) -> str:
    """Requests of one rate-limit group from one address or relying party in one window."""
    return f"rate-limit:{group}:{who}:{window}"


def rate_limit_used_up(group: str, who: str, window: int) -> str:
    """The mark that a window's allowance is used up (limits counted after the answer)."""
    return f"{rate_limit_count(group, who, window)}:used-up"


def used_otp_step(device_id: str, step: int) -> str:
    """An authenticator app's time step whose code was accepted, so it is not accepted again."""
    return f"otp-used:{device_id}:{step}"


def mailed_code(realm_id: str, user_id: str) -> str:
    """The member's current code by email (its keyed hash, not the code)."""
    return f"email-code:{realm_id}:{user_id}"


def mailed_code_tries(realm_id: str, user_id: str, nonce: str) -> str:
    """Wrong tries of one mailed code, told apart by the code's nonce."""
    return f"{mailed_code(realm_id, user_id)}:tries:{nonce}"


def mailed_code_send_slot(realm_id: str, user_id: str, hour: int, number: int) -> str:
    """One of a member's mails with a code in one clock hour."""
    return f"email-code-sent:{realm_id}:{user_id}:{hour}:{number}"


def birthdate_attempts(realm_id: str, user_id: str) -> str:
    """Wrong birthdates a member typed at verify-birthdate."""
    return f"verify-birthdate:attempts:{realm_id}:{user_id}"


def birthdate_lock(realm_id: str, user_id: str) -> str:
    """The lock too many wrong birthdates started, with its end."""
    return f"verify-birthdate:lock:{realm_id}:{user_id}"
