"""The write side: every change to a user's transactions, and what must happen with it.

In ONE database transaction: write the rows, bump the user's `data_version` and mark the
summary dirty. Commit. Then enqueue the user (one Upstash request). If the enqueue fails the
change is still safe: the dirty marker lets the reconcile sweep find the user later.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from core.base.models import Transaction, User, utcnow
from core.queue import JobQueue
from core.summary import rollups
from core.writes.accounts import account_name, ensure_accounts
from core.writes.users import ensure_user

log = logging.getLogger("tally.ledger")

SUMMARY_KIND = "financial-summary"


@dataclass(frozen=True, slots=True)
class NewTransaction:
    date: dt.date
    amount_minor: int
    currency: str
    description: str = ""
    category: str | None = None
    import_key: str | None = None
    account: str | None = None  # the account's name; None: the user's default account


def mark_changed(session: Session, user_id: str, dates: Iterable[dt.date] | None) -> None:
    """Bump the data version, mark the summary dirty and refresh the rollup cells of the months
    holding `dates` (None: every month), inside the caller's transaction.

    The UPDATE takes the user's row lock first, so the cells are re-summed by one write of the
    user at a time, each reading what the one before committed.
    """
    built = session.execute(
        sa.update(User)
        .where(col(User.id) == user_id)
        .values(
            data_version=col(User.data_version) + 1,
            summary_dirty_since=sa.func.coalesce(col(User.summary_dirty_since), utcnow()),
        )
        .returning(col(User.rollups_built))
        .execution_options(synchronize_session=False)
    ).scalar()
    if built:
        rollups.refresh(session, user_id, dates)


def row_values(
    session: Session,
    user_id: str,
    rows: Sequence[NewTransaction],
    statement_id: int | None = None,
) -> list[dict[str, Any]]:
    """Column values for a bulk INSERT of `rows` (one timestamp for the whole batch), the
    accounts they name made if missing. Raises ValueError for an unusable account name."""
    now = utcnow()
    names = [account_name(row.account) for row in rows]
    accounts = ensure_accounts(session, user_id, names)
    return [
        {
            "user_id": user_id,
            "account_id": accounts[name],
            "statement_id": statement_id,
            "date": row.date,
            "amount_minor": row.amount_minor,
            "currency": row.currency,
            "description": row.description,
            "category": row.category,
            "import_key": row.import_key,
            "created_at": now,
            "updated_at": now,
        }
        for row, name in zip(rows, names, strict=True)
    ]


def insert_transactions(
    session: Session,
    user_id: str,
    rows: Sequence[NewTransaction],
    statement_id: int | None = None,
    *,
    skip_duplicates: bool = False,
) -> None:
    """Bulk insert in one SQL command (executemany), whatever the number of rows.

    `skip_duplicates` leaves out rows whose import key their account already has (re-uploads).
    """
    if not rows:
        return
    values = row_values(session, user_id, rows, statement_id)
    # Without render_nulls SQLAlchemy starts a new INSERT whenever the set of NULL columns
    # changes from one row to the next (a category here, none there): 20,000 INSERTs for a
    # 50,000-row file instead of a handful of multi-row ones.
    options = {"render_nulls": True}
    if not skip_duplicates:
        session.execute(sa.insert(Transaction), values, execution_options=options)
        return
    target = ["account_id", "import_key"]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(
            postgresql.insert(Transaction).on_conflict_do_nothing(index_elements=target),
            values,
            execution_options=options,
        )
    elif dialect == "sqlite":
        session.execute(
            sqlite.insert(Transaction).on_conflict_do_nothing(index_elements=target),
            values,
            execution_options=options,
        )
    else:  # pragma: no cover - only the two databases above are supported
        raise RuntimeError(f"unsupported database {dialect}")


def add_transactions(session: Session, user_id: str, rows: Sequence[NewTransaction]) -> None:
    """Rows plus the version bump, in the caller's transaction (the caller commits)."""
    ensure_user(session, user_id)
    insert_transactions(session, user_id, rows)
    mark_changed(session, user_id, [row.date for row in rows])


def notify_queue(queue: JobQueue | None, user_id: str) -> bool:
    """Enqueue after commit. Never raises: a failure is logged once and the sweep catches up."""
    if queue is None:
        return False
    try:
        queue.enqueue(user_id)
    except Exception as exc:  # noqa: BLE001 - the data is committed; the queue is best effort
        log.warning(
            "enqueue failed (%s); the reconcile sweep will pick the user up", type(exc).__name__
        )
        return False
    return True
