"""Revoked access tokens, kept in SQL instead of the ephemeral store

Revision ID: 0008_revoked_access_tokens
Revises: 0007_admin_required_actions
"""
import sqlalchemy as sa
from alembic import op

import idp.db.models

revision = "0008_revoked_access_tokens"
down_revision = "0007_admin_required_actions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_access_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at", idp.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti"),
    )
    with op.batch_alter_table("revoked_access_tokens") as batch_op:
        batch_op.create_index(batch_op.f("ix_revoked_access_tokens_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("revoked_access_tokens") as batch_op:
        batch_op.drop_index(batch_op.f("ix_revoked_access_tokens_expires_at"))
    op.drop_table("revoked_access_tokens")
