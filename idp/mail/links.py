"""Links sent by mail that work once: a sign-in step's link (メールアドレスの確認, パスワードの再設定)
and an administrator's execute-actions link. Each is kept in the ephemeral store under a random
key until it is opened or expires; the sign-in pages and the Admin API both make them here."""
from __future__ import annotations

import secrets

from idp.ephemeral import ephemeral, keys


def step_link(realm_id: str, issuer: str, *, user_id: str, kind: str, name: str, options: dict, payload: dict,
              ttl: int, sign_in: dict | None = None) -> str:
    """A link that runs step `name` (`kind` "action" or "authenticate", with its `options`) for the
    member with `payload`; `sign_in` is the sign-in it goes on with afterwards, if any."""
    key = secrets.token_urlsafe(32)
    link = {"user_id": user_id, "kind": kind, "name": name, "with": options, "payload": payload}
    if sign_in is not None:
        link["sign_in"] = sign_in
    ephemeral().put(keys.sign_in_link(realm_id, key), link, ttl)
    return f"{issuer}/login-actions/link/{key}"


def take_step_link(realm_id: str, key: str) -> dict | None:
    """The step link's record, which no one can use again; None when it was used or expired."""
    return ephemeral().take(keys.sign_in_link(realm_id, key))


def actions_link(realm_id: str, issuer: str, *, user_id: str, actions: list[str], client_id: str | None,
                 redirect_uri: str | None, ttl: int) -> tuple[str, str]:
    """A link that runs the required `actions` for the member, then leads to `redirect_uri`:
    its URL, and its key for `drop_actions_link` should the mail not go out."""
    key = secrets.token_urlsafe(32)
    ephemeral().put(keys.admin_actions_link(realm_id, key), {"user_id": user_id, "actions": actions,
                                                  "redirect_uri": redirect_uri, "client_id": client_id}, ttl)
    return f"{issuer}/login-actions/action-token?key={key}", key


def take_actions_link(realm_id: str, key: str) -> dict | None:
    """The execute-actions link's record, which no one can use again; None when used or expired."""
    return ephemeral().take(keys.admin_actions_link(realm_id, key))


def drop_actions_link(realm_id: str, key: str) -> None:
    ephemeral().delete(keys.admin_actions_link(realm_id, key))
