"""Admin API: realm and client roles, their composites and users' role mappings

Revision ID: 0005_admin_roles
Revises: 0004_admin_client_secret
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_admin_roles"
down_revision = "0004_admin_client_secret"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("realm_id", sa.String(36), sa.ForeignKey("realms.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("client_pk", sa.String(36), sa.ForeignKey("clients.id", ondelete="CASCADE"), nullable=True),
        sa.Column("container_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.UniqueConstraint("container_id", "name", name="uq_roles_container_name"),
    )
    op.create_table(
        "role_composites",
        sa.Column("parent_id", sa.String(36), sa.ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("child_id", sa.String(36), sa.ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_table(
        "user_role_mappings",
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("role_id", sa.String(36), sa.ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True,
                  index=True),
    )


def downgrade() -> None:
    op.drop_table("user_role_mappings")
    op.drop_table("role_composites")
    op.drop_table("roles")
