"""Database tables. Money is always integer minor units plus an ISO 4217 currency code.

Schema changes go through Alembic (`migrations/`); a test checks the migrations match these models.
"""

import enum
from datetime import UTC, datetime
from datetime import date as Date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Timestamps are aware UTC; SQLModel stores them as UTC on SQLite and Postgres alike."""
    return datetime.now(UTC)


# 64-bit ids on Postgres; on SQLite only INTEGER PRIMARY KEY autoincrements (and is 64-bit).
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class JobStatus(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # will be retried
    DEAD = "dead"  # gave up after MAX_ATTEMPTS, or can never succeed


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        # The reconcile sweep reads only dirty users, oldest first: keep that index small.
        sa.Index(
            "ix_users_summary_dirty_since",
            "summary_dirty_since",
            postgresql_where=sa.text("summary_dirty_since IS NOT NULL"),
            sqlite_where=sa.text("summary_dirty_since IS NOT NULL"),
        ),
    )

    id: str = Field(primary_key=True, max_length=255)
    email: str | None = Field(default=None, max_length=320)
    created_at: datetime = Field(default_factory=utcnow)
    # Bumped in the same transaction as every change to the user's transactions.
    data_version: int = Field(default=0, sa_type=sa.BigInteger)
    # The data_version the stored summaries were computed from.
    summary_version: int = Field(default=0, sa_type=sa.BigInteger)
    # Set when data changes, cleared only by a summary computed from the current data_version.
    summary_dirty_since: datetime | None = Field(default=None)
    # Whether `summary_rollups` holds this user's cells (then every write keeps them current);
    # false until the first drain builds them from the rows (or `drain.py --rebuild`).
    rollups_built: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class Statement(SQLModel, table=True):
    __tablename__ = "statements"
    __table_args__ = (sa.Index("ix_statements_user_created", "user_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    user_id: str = Field(foreign_key="users.id", max_length=255, ondelete="CASCADE")
    filename: str = Field(max_length=255)
    format: str = Field(max_length=32)
    sha256: str = Field(max_length=64)
    size_bytes: int = Field(default=0)
    row_count: int = Field(default=0)
    imported_count: int = Field(default=0)
    skipped_count: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow)
    # Set by DELETE /api/statements/{id}, which removed the upload's rows: the record stays, so
    # a repeated delete is a no-op rather than a 404.
    deleted_at: datetime | None = None


class Account(SQLModel, table=True):
    """A user's bank account, card or wallet, known by the name the user gave it (or the OFX
    ACCTID). Made by the first write naming it; `default` holds rows that name none."""

    __tablename__ = "accounts"
    __table_args__ = (sa.UniqueConstraint("user_id", "name", name="uq_accounts_user_name"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    user_id: str = Field(foreign_key="users.id", max_length=255, ondelete="CASCADE")
    name: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow)


class Transaction(SQLModel, table=True):
    __tablename__ = "transactions"
    __table_args__ = (
        sa.Index("ix_transactions_user_date", "user_id", "date", "id"),
        sa.Index("ix_transactions_account_date", "account_id", "date", "id"),
        # Re-uploading a statement to an account must not import its rows twice; the same row
        # in another account's statement is another transaction.
        sa.UniqueConstraint("account_id", "import_key", name="uq_transactions_account_import_key"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    user_id: str = Field(foreign_key="users.id", max_length=255, ondelete="CASCADE")
    account_id: int = Field(foreign_key="accounts.id", sa_type=BigId, ondelete="CASCADE")
    statement_id: int | None = Field(
        default=None, foreign_key="statements.id", sa_type=BigId, ondelete="SET NULL"
    )
    date: Date
    amount_minor: int = Field(sa_type=sa.BigInteger)
    currency: str = Field(min_length=3, max_length=3)
    description: str = Field(default="", max_length=500)
    category: str | None = Field(default=None, max_length=100)
    import_key: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class SummaryRollup(SQLModel, table=True):
    """One cell of a user's summary: the user's transactions in one currency, calendar month,
    account, category (as the summary names it) and merchant (normalised), summed.

    Every summary figure is derived from these cells (plus last month's rows up to today's day
    number, for the equal-span comparison), so a change costs the same whatever the history.
    `largest_*` is the cell's largest expense, ties broken as the summary breaks them.
    """

    __tablename__ = "summary_rollups"

    user_id: str = Field(
        foreign_key="users.id", max_length=255, ondelete="CASCADE", primary_key=True
    )
    currency: str = Field(min_length=3, max_length=3, primary_key=True)
    month: int = Field(primary_key=True)  # year * 12 + month - 1
    account_id: int = Field(
        foreign_key="accounts.id", sa_type=BigId, ondelete="CASCADE", primary_key=True
    )
    category: str = Field(max_length=100, primary_key=True)
    merchant: str = Field(max_length=500, primary_key=True)
    count: int = Field(default=0)
    income_minor: int = Field(default=0, sa_type=sa.BigInteger)
    expenses_minor: int = Field(default=0, sa_type=sa.BigInteger)  # positive
    first_date: Date
    last_date: Date
    last_expense_date: Date | None = None
    largest_amount_minor: int | None = Field(default=None, sa_type=sa.BigInteger)  # negative
    largest_date: Date | None = None
    largest_description: str | None = Field(default=None, max_length=500)


class FinancialSummary(SQLModel, table=True):
    __tablename__ = "financial_summaries"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "currency", name="uq_financial_summaries_user_currency"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    user_id: str = Field(foreign_key="users.id", max_length=255, ondelete="CASCADE")
    currency: str = Field(min_length=3, max_length=3)
    income_minor: int = Field(default=0, sa_type=sa.BigInteger)
    expenses_minor: int = Field(default=0, sa_type=sa.BigInteger)
    net_minor: int = Field(default=0, sa_type=sa.BigInteger)
    transaction_count: int = Field(default=0)
    first_date: Date | None = None
    last_date: Date | None = None
    # The richer figures (categories, months, merchants, ...) as one JSON document.
    figures: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    source_version: int = Field(default=0, sa_type=sa.BigInteger)
    computed_at: datetime = Field(default_factory=utcnow)


class DrainRun(SQLModel, table=True):
    __tablename__ = "drain_runs"

    id: str = Field(primary_key=True, max_length=36)
    kind: str = Field(max_length=64)
    trigger: str = Field(max_length=32)
    started_at: datetime = Field(default_factory=utcnow, index=True)
    finished_at: datetime | None = None
    elapsed_ms: int = Field(default=0)
    batches: int = Field(default=0)
    claimed: int = Field(default=0)
    succeeded: int = Field(default=0)
    failed: int = Field(default=0)
    retried: int = Field(default=0)
    dead: int = Field(default=0)
    reclaimed: int = Field(default=0)
    reconciled: int = Field(default=0)
    released: int = Field(default=0)
    remaining: int | None = None
    stop_reason: str = Field(default="", max_length=32)
    error: str | None = Field(default=None, max_length=2000)


class BackgroundJob(SQLModel, table=True):
    __tablename__ = "background_jobs"
    __table_args__ = (sa.Index("ix_background_jobs_user_started", "user_id", "started_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    kind: str = Field(max_length=64)
    # Not a foreign key: a dead-lettered id may name a user that does not exist.
    user_id: str = Field(max_length=255)
    run_id: str | None = Field(default=None, max_length=36, index=True)
    status: str = Field(max_length=16)
    attempt: int = Field(default=1)
    trigger: str = Field(default="", max_length=32)
    source_version: int | None = Field(default=None, sa_type=sa.BigInteger)
    changed: bool = Field(default=False)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    duration_ms: int = Field(default=0)
    error: str | None = Field(default=None, max_length=2000)


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (sa.Index("ix_notifications_user_read_created", "user_id", "read_at", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    user_id: str = Field(foreign_key="users.id", max_length=255, ondelete="CASCADE")
    kind: str = Field(max_length=64)
    title: str = Field(max_length=200)
    body: str = Field(default="", max_length=2000)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    job_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    # Per optional channel (email, webhook): "sent", "skipped" or the error that stopped it.
    channels: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow)
    read_at: datetime | None = None


class IdempotencyKey(SQLModel, table=True):
    """A creating request's `Idempotency-Key`, the hash of that request and its answer, kept
    24 hours so a client's retry gets the first answer instead of writing again."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),
        sa.Index("ix_idempotency_keys_expires_at", "expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    user_id: str = Field(foreign_key="users.id", max_length=255, ondelete="CASCADE")
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    status_code: int
    # The answer's body exactly as first sent (JSON text), so a replay is byte-identical.
    response_body: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
