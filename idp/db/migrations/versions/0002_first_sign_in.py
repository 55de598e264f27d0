"""First sign-in progress on users, and terms acceptances

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

import idp.db.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("birthdate_verified_at", idp.db.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("user_id_chosen_at", idp.db.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("second_factor", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("first_login_completed_at", idp.db.models.UTCDateTime(timezone=True),
                                      nullable=True))
    op.create_table(
        "terms_acceptances",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("accepted_at", idp.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_terms_acceptances_user_id", "terms_acceptances", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_terms_acceptances_user_id", table_name="terms_acceptances")
    op.drop_table("terms_acceptances")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("first_login_completed_at")
        batch_op.drop_column("second_factor")
        batch_op.drop_column("user_id_chosen_at")
        batch_op.drop_column("birthdate_verified_at")
