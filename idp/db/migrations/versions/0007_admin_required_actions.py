"""Admin API: a realm's required-action settings (enabled, default action, priority, config)

Revision ID: 0007_admin_required_actions
Revises: 0006_admin_groups
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_admin_required_actions"
down_revision = "0006_admin_groups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "required_action_settings",
        sa.Column("realm_id", sa.String(36), sa.ForeignKey("realms.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("alias", sa.String(100), primary_key=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("default_action", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("required_action_settings")
