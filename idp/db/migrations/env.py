"""Alembic environment: runs migrations against the URL the identity provider was given."""
from alembic import context

from idp.db import make_engine
from idp.db.models import Base

config = context.config


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic.ini names no sqlalchemy.url: run migrations through idp.db.Database.upgrade")
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=url.startswith("sqlite"),
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
