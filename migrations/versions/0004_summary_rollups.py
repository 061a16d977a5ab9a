"""summary_rollups: per-user cells every summary figure is derived from; users.rollups_built

Existing users keep rollups_built false: the first drain that computes their summary builds
their cells from the rows, in its write transaction (or `python scripts/drain.py --rebuild`).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN, not a batch copy: on SQLite, recreating `users` would cascade the
    # deletion of every row that references it.
    op.add_column(
        "users",
        sa.Column("rollups_built", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "summary_rollups",
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("merchant", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("income_minor", sa.BigInteger(), nullable=False),
        sa.Column("expenses_minor", sa.BigInteger(), nullable=False),
        sa.Column("first_date", sa.Date(), nullable=False),
        sa.Column("last_date", sa.Date(), nullable=False),
        sa.Column("last_expense_date", sa.Date(), nullable=True),
        sa.Column("largest_amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("largest_date", sa.Date(), nullable=True),
        sa.Column(
            "largest_description", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True
        ),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(
            "user_id", "currency", "month", "account_id", "category", "merchant"
        ),
    )


def downgrade() -> None:
    op.drop_table("summary_rollups")
    op.drop_column("users", "rollups_built")  # SQLite 3.35+ drops a column in place
