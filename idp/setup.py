"""What runs once before serving: migrate, load `realm-config/`, make signing keys and built-in clients."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from idp import themes
from idp.config import Settings
from idp.db import Database
from idp.db.models import Realm
from idp.realms import ensure_account_console, load_realm_dir, save_realm


def prepare(settings: Settings, database: Database, echo: Callable[[str], None] = lambda _: None) -> None:
    """Migrate, then create or update every realm of `realm-config/` (all or nothing). Instances
    starting together take turns, so the first makes the schema, built-in clients and keys and
    the others find them."""
    with database.exclusive("start-up"):
        _prepare(settings, database, echo)


def _prepare(settings: Settings, database: Database, echo: Callable[[str], None]) -> None:
    from idp.admin.master import bootstrap_admin
    from idp.oidc.keys import ensure_signing_key

    database.upgrade()
    if settings.load_realms_on_start:
        configs = load_realm_dir(settings.realms_dir)
        for config in configs:
            themes.check(settings.themes_dir, config.theme)
        with database.session() as session:
            for config in configs:
                save_realm(session, config)
                echo(f"realm {config.realm}: loaded from {settings.realms_dir}")
    with database.session() as session:
        created = bootstrap_admin(session, settings)
    if created:
        echo(created)
    with database.session() as session:
        for realm in session.scalars(select(Realm)):
            ensure_signing_key(session, realm)
            ensure_account_console(session, realm, settings)
