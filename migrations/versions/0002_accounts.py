"""accounts: every transaction belongs to an account of its user; duplicates are per account

Every existing user gets a `default` account and every existing transaction moves to it, so
their summaries are unchanged. The unique import key becomes (account_id, import_key).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 12:10:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DEFAULT_ACCOUNT = "default"  # core.writes.accounts.DEFAULT_ACCOUNT, as of this revision


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", BigId, nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "name", name="uq_accounts_user_name"),
    )
    now = sa.bindparam("now", datetime.now(UTC), type_=sqlmodel.sql.sqltypes.UTCDateTime())
    name: sa.BindParameter[str] = sa.bindparam("name", DEFAULT_ACCOUNT)
    op.execute(
        sa.text(
            "INSERT INTO accounts (user_id, name, created_at) SELECT id, :name, :now FROM users"
        ).bindparams(now, name)
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", BigId, nullable=True))
    op.execute(
        sa.text(
            "UPDATE transactions SET account_id = (SELECT a.id FROM accounts AS a"
            " WHERE a.user_id = transactions.user_id AND a.name = :name)"
        ).bindparams(name)
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.alter_column("account_id", existing_type=BigId, nullable=False)
        batch_op.create_foreign_key(
            "transactions_account_id_fkey", "accounts", ["account_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.drop_constraint("uq_transactions_user_import_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_transactions_account_import_key", ["account_id", "import_key"]
        )
        batch_op.create_index(
            "ix_transactions_account_date", ["account_id", "date", "id"], unique=False
        )


def downgrade() -> None:
    # One import key per user again: of rows that share one across accounts, the first keeps it
    # (the others stay, only no longer recognised as duplicates by a later upload).
    op.execute(
        sa.text(
            "UPDATE transactions SET import_key = NULL WHERE import_key IS NOT NULL AND EXISTS ("
            "SELECT 1 FROM transactions AS t WHERE t.user_id = transactions.user_id"
            " AND t.import_key = transactions.import_key AND t.id < transactions.id)"
        )
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_transactions_account_date")
        batch_op.drop_constraint("uq_transactions_account_import_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_transactions_user_import_key", ["user_id", "import_key"]
        )
        batch_op.drop_constraint("transactions_account_id_fkey", type_="foreignkey")
        batch_op.drop_column("account_id")
    op.drop_table("accounts")
