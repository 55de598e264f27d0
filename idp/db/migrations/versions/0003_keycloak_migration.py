"""Keycloak group paths on users (kept by `idp realm import` of a Keycloak export)

Revision ID: 0003_keycloak_migration
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_keycloak_migration"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("groups", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("groups")
