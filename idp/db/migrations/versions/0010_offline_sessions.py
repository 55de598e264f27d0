"""Keycloak's offline sessions (scopes: the offline_access scope), and token families that belong to one

Revision ID: 0010_offline_sessions
Revises: 0009_refresh_token_reuse
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_offline_sessions"
down_revision = "0009_refresh_token_reuse"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "offline_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("realm_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("origin_session_id", sa.String(length=36), nullable=False),
        sa.Column("auth_time", sa.Integer(), nullable=False),
        sa.Column("acr", sa.String(length=20), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["realm_id"], ["realms.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("origin_session_id", "client_id"),
    )
    op.create_index("ix_offline_sessions_realm_id", "offline_sessions", ["realm_id"])
    op.create_index("ix_offline_sessions_user_id", "offline_sessions", ["user_id"])
    with op.batch_alter_table("refresh_token_families") as batch_op:
        batch_op.add_column(sa.Column("offline_session_id", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key("fk_refresh_token_families_offline_session", "offline_sessions",
                                    ["offline_session_id"], ["id"], ondelete="CASCADE")
        batch_op.create_index("ix_refresh_token_families_offline_session_id", ["offline_session_id"])


def downgrade() -> None:
    with op.batch_alter_table("refresh_token_families") as batch_op:
        batch_op.drop_index("ix_refresh_token_families_offline_session_id")
        batch_op.drop_constraint("fk_refresh_token_families_offline_session", type_="foreignkey")
        batch_op.drop_column("offline_session_id")
    op.drop_table("offline_sessions")
