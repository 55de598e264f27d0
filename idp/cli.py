"""The `idp` command: serve, migrate, and manage realms, members and keys.

Every command exits non-zero with one clear line on bad input (`click.ClickException`).
"""
from __future__ import annotations

import click

from idp.config import Settings, SettingsError


class Context:
    """What every command shares: settings, read once, and the database, opened on demand."""

    def __init__(self):
        try:
            self.settings = Settings.from_env()
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None
        self._database = None

    @property
    def database(self):
        from idp.db import Database

        if self._database is None:
            self._database = Database(self.settings.database_url)
        return self._database


pass_context = click.make_pass_decorator(Context, ensure=True)


@click.group()
def main() -> None:
    """kosmo-idp: a Keycloak-compatible identity provider."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--skip-setup", is_flag=True, help="do not migrate or load realm-config/ first")
@pass_context
def serve(ctx: Context, host: str, port: int, workers: int, skip_setup: bool) -> None:
    """Run the identity provider (gunicorn when --workers is more than 1)."""
    from idp.setup import prepare

    if not skip_setup:
        prepare(ctx.settings, ctx.database, echo=click.echo)
    if workers == 1:
        from idp.app import create_app

        create_app(ctx.settings, ctx.database).run(host=host, port=port, threaded=True)
        return
    _run_gunicorn(host, port, workers)


def _run_gunicorn(host: str, port: int, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", 4)
            self.cfg.set("accesslog", "-")

        def load(self):
            from idp.app import create_app

            return create_app()

    Server().run()


@main.group()
def db() -> None:
    """The SQL database."""


@db.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Apply every Alembic migration."""
    ctx.database.upgrade()
    click.echo("database is up to date")
