"""Admin API: groups (nested), their members and role mappings

Revision ID: 0006_admin_groups
Revises: 0005_admin_roles
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_admin_groups"
down_revision = "0005_admin_roles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("realm_id", sa.String(36), sa.ForeignKey("realms.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("parent_id", sa.String(36), sa.ForeignKey("groups.id", ondelete="CASCADE"), nullable=True),
        sa.Column("container_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.UniqueConstraint("container_id", "name", name="uq_groups_container_name"),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.String(36), sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
                  index=True),
    )
    op.create_table(
        "group_role_mappings",
        sa.Column("group_id", sa.String(36), sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("role_id", sa.String(36), sa.ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True,
                  index=True),
    )


def downgrade() -> None:
    op.drop_table("group_role_mappings")
    op.drop_table("group_members")
    op.drop_table("groups")
