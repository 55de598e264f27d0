"""A stored realm written back as `realm-config` YAML (`idp realm export`), secrets only as hashes."""
from __future__ import annotations

import io

from ruamel.yaml import YAML
from sqlalchemy.orm import Session

from idp.db.models import Client, Realm
from idp.realms.schema import LOGOUT_SETTINGS, RealmConfig


def export_realm(session: Session, realm: Realm) -> dict:
    """The realm's settings and clients in the native YAML shape, settings left at default omitted.

    Client secrets appear as `{sha256: ...}`: the stored hash, never the secret or the
    environment variable's default, so the output is safe to keep in a repository.
    """
    settings = {key: value for key, value in realm.config.items() if key != "clients"}
    settings.update(realm=realm.name, display_name=realm.display_name, enabled=realm.enabled)
    # Built-in clients (account-console) are made by the identity provider, not the operator.
    clients = sorted((c for c in realm.clients if not c.attributes.get("builtin")), key=lambda client: client.client_id)
    config = RealmConfig.model_validate({**settings, "clients": [_client(client) for client in clients]})
    return config.model_dump(mode="json", exclude_defaults=True)


def _client(client: Client) -> dict:
    secret = None
    if not client.public and client.secret_hash:
        secret = {"sha256": client.secret_hash.removeprefix("sha256:")}
    return {
        "client_id": client.client_id,
        "name": client.name,
        "enabled": client.enabled,
        "public": client.public,
        "secret": secret,
        "redirect_uris": list(client.redirect_uris),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
        "web_origins": list(client.web_origins),
        "base_url": client.base_url,
        "pkce_required": client.pkce_required,
        "standard_flow": client.standard_flow,
        "direct_access_grants": client.direct_access_grants,
        "service_account": client.service_account,
        "service_account_roles": list(client.attributes.get("service_account_roles", [])),
        "service_account_client_roles": dict(client.attributes.get("service_account_client_roles", {})),
        "admin_api": bool(client.attributes.get("admin_api", False)),
        **{name: client.attributes[name] for name in LOGOUT_SETTINGS if name in client.attributes},
        "bearer_only": bool(client.attributes.get("bearer_only", False)),
    }


def realm_yaml(data: dict) -> str:
    """YAML text for an exported realm, Japanese kept readable."""
    yaml = YAML()
    yaml.allow_unicode = True
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()
