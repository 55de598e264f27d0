"""Admin API: a client secret regenerated through the Admin REST API outlives restarts and realm reloads

Revision ID: 0004_admin_client_secret
Revises: 0003_keycloak_migration
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_admin_client_secret"
down_revision = "0003_keycloak_migration"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch_op:
        batch_op.add_column(sa.Column("secret_regenerated_from", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch_op:
        batch_op.drop_column("secret_regenerated_from")
