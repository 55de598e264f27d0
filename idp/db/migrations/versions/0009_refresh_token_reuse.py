"""Keycloak's refresh token reuse tracking on token families (scopes: revokeRefreshToken, refreshTokenMaxReuse)

Revision ID: 0009_refresh_token_reuse
Revises: 0008_revoked_access_tokens
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_refresh_token_reuse"
down_revision = "0008_revoked_access_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refresh_token_families") as batch_op:
        batch_op.add_column(sa.Column("accepted_jti", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("use_count", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("refresh_token_families") as batch_op:
        batch_op.drop_column("use_count")
        batch_op.drop_column("accepted_jti")
