"""Realms (one per society): reading `realm-config/*.yaml` and saving realms and clients.

A realm file is validated whole before anything is written; saving a realm replaces its
settings and its clients in one transaction.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.db.models import Client, Realm, User
from idp.realms.keycloak_builtins import default_roles
from idp.realms.schema import DEFAULT_CLIENT_SCOPES, ClientConfig, RealmConfig
from idp.yamlfile import ConfigFileError, ConfigProblem, load_model


class RealmNotFound(LookupError):
    """No realm by that name."""


def load_realm_file(path: Path | str) -> RealmConfig:
    """Read and validate one realm YAML file (ConfigFileError lists every problem)."""
    return load_model(RealmConfig, path)


def load_realm_dir(directory: Path) -> list[RealmConfig]:
    """Every `*.yaml` in the folder, or ConfigFileError with the problems of all of them."""
    configs, problems = [], []
    for path in sorted(Path(directory).glob("*.yaml")):
        try:
            configs.append(load_realm_file(path))
        except ConfigFileError as exc:
            problems.extend(exc.problems)
    names = [config.realm for config in configs]
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(ConfigProblem(str(directory), 1, 1, f"realm {name!r} is defined by more than one file"))
    if problems:
        raise ConfigFileError(problems)
    return configs


def hash_client_secret(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def client_secret_matches(client: Client, secret: str | None) -> bool:
    """Constant-time comparison of a presented secret with the client's stored hash."""
    if not client.secret_hash or secret is None:
        return False
    return hmac.compare_digest(client.secret_hash, hash_client_secret(secret))


def resolve_secret_hash(config: ClientConfig, environ=os.environ) -> str | None:
    if config.public or config.secret is None:
        return None
    if config.secret.sha256:
        return "sha256:" + config.secret.sha256
    value = environ.get(config.secret.env) or config.secret.default
    if not value:
        raise ValueError(
            f"client {config.client_id!r}: environment variable {config.secret.env} is not set and no default is given"
        )
    return hash_client_secret(value)


def save_realm(session: Session, config: RealmConfig, environ=os.environ, secret_hashes: dict | None = None) -> Realm:
    """Create or update a realm and replace its clients; the caller commits.

    `secret_hashes` gives already-hashed secrets by client_id (used by Keycloak imports,
    whose exports carry the secret itself).
    """
    secret_hashes = secret_hashes or {}
    realm = session.scalar(select(Realm).where(Realm.name == config.realm))
    if realm is None:
        realm = Realm(name=config.realm)
        session.add(realm)
    realm.display_name = config.display_name
    realm.enabled = config.enabled
    realm.config = config.model_dump(mode="json")
    existing = {client.client_id: client for client in realm.clients}
    # Built-in clients (the account console) are the identity provider's own, not the file's.
    wanted = [client for client in realm.clients if client.attributes.get("builtin")]
    for client_config in config.clients:
        client = existing.get(client_config.client_id) or Client(client_id=client_config.client_id)
        secret_hash = secret_hashes.get(client_config.client_id) or resolve_secret_hash(client_config, environ)
        _apply_client(client, client_config, secret_hash)
        wanted.append(client)
    realm.clients = wanted
    session.flush()
    for client in wanted:
        if client.service_account:
            ensure_service_account(session, realm, client)
    return realm


def _apply_client(client: Client, config: ClientConfig, secret_hash: str | None) -> None:
    client.name = config.name
    client.enabled = config.enabled
    client.public = config.public
    if client.secret_regenerated_from is None or client.secret_regenerated_from != secret_hash:
        client.secret_hash, client.secret_regenerated_from = secret_hash, None
    client.redirect_uris = list(config.redirect_uris)
    client.post_logout_redirect_uris = list(config.post_logout_redirect_uris)
    client.web_origins = list(config.web_origins)
    client.base_url = config.base_url
    client.pkce_required = config.pkce_required or config.public
    client.standard_flow = config.standard_flow
    client.direct_access_grants = config.direct_access_grants
    client.service_account = config.service_account
    client.default_scopes = list(config.default_client_scopes)
    client.attributes = {"service_account_roles": list(config.service_account_roles),
                         "service_account_client_roles": dict(config.service_account_client_roles),
                         "admin_api": config.admin_api, "bearer_only": config.bearer_only,
                         "optional_client_scopes": list(config.optional_client_scopes), **config.logout_settings}


ACCOUNT_CONSOLE = "account-console"


def ensure_account_console(session: Session, realm: Realm, settings) -> Client:
    """The realm's own `account-console` client, through which the account pages sign members in
    and run Keycloak's application-initiated actions (kc_action), as Keycloak's account console does."""
    from idp.i18n import messages_for

    client = session.scalar(select(Client).where(Client.realm_id == realm.id, Client.client_id == ACCOUNT_CONSOLE))
    if client is None:
        # Members see the name among a session's services: the account pages' title in the realm's theme.
        name = messages_for(settings.themes_dir, realm_config(realm).theme)["account.title"]
        client = Client(realm_id=realm.id, client_id=ACCOUNT_CONSOLE, name=name, public=True,
                        pkce_required=True, standard_flow=True, attributes={"builtin": True})
        session.add(client)
    issuer = settings.issuer(realm.name)
    client.default_scopes = list(DEFAULT_CLIENT_SCOPES)
    client.redirect_uris = [f"{issuer}/account/callback"]
    client.base_url = f"{issuer}/account"
    session.flush()
    return client


def ensure_service_account(session: Session, realm: Realm, client: Client) -> User:
    """Keycloak's `service-account-<client>` user, who holds client-credentials tokens."""
    username = f"service-account-{client.client_id}".lower()
    user = session.scalar(select(User).where(User.realm_id == realm.id, User.username == username))
    if user is None:
        user = User(realm_id=realm.id, username=username, service_account_client_id=client.client_id)
        session.add(user)
    user.roles = sorted(set(client.attributes.get("service_account_roles", [])) | {default_roles(realm.name)})
    client_roles = client.attributes.get("service_account_client_roles", {})
    user.client_roles = {name: sorted(roles) for name, roles in client_roles.items()}
    session.flush()
    return user


def find_realm(session: Session, name: str) -> Realm:
    realm = session.scalar(select(Realm).where(Realm.name == name, Realm.enabled.is_(True)))
    if realm is None:
        raise RealmNotFound(name)
    return realm


_parsed_configs: dict[tuple[str, str], RealmConfig] = {}


def realm_config(realm: Realm) -> RealmConfig:
    """The realm's validated settings, parsed once per saved version."""
    key = (realm.id, str(realm.updated_at))
    config = _parsed_configs.get(key)
    if config is None:
        config = _parsed_configs[key] = RealmConfig.model_validate(realm.config)
    return config


def find_client(session: Session, realm: Realm, client_id: str | None) -> Client | None:
    if not client_id:
        return None
    return session.scalar(
        select(Client).where(Client.realm_id == realm.id, Client.client_id == client_id, Client.enabled.is_(True))
    )
