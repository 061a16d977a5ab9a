"""A user's uploads as resources: list them, delete one (exactly the rows it imported).

Deleting an upload removes the transactions it imported, in one database transaction with the
version bump and the rollup refresh of their months (`mark_changed`), and keeps the statement's
record with `deleted_at` set, so a repeated delete finds nothing left to do. Rows the upload
skipped as duplicates belong to the earlier upload that imported them and stay. OFX corrections
the upload applied to earlier uploads' rows are not undone.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import Session, col

from core.base.models import Account, Statement, Transaction, utcnow
from core.writes.ledger import mark_changed

LIST_LIMIT = 200


class StatementPublic(BaseModel):
    id: int
    filename: str
    format: str
    size_bytes: int
    rows: int = Field(description="transaction rows the file held")
    imported: int
    skipped: int = Field(description="rows already imported by an earlier upload")
    accounts: list[str] = Field(description="the accounts its rows are filed under")
    transactions: int = Field(description="its transactions still stored")
    created_at: dt.datetime


class StatementNotFound(LookupError):
    pass


def list_statements(session: Session, user_id: str) -> list[StatementPublic]:
    """The user's uploads not deleted, newest first (at most LIST_LIMIT)."""
    statements = list(
        session.scalars(
            sa.select(Statement)
            .where(col(Statement.user_id) == user_id, col(Statement.deleted_at).is_(None))
            .order_by(col(Statement.created_at).desc(), col(Statement.id).desc())
            .limit(LIST_LIMIT)
        )
    )
    ids = [s.id for s in statements]
    held: dict[int, list[str]] = {}
    counts: dict[int, int] = {}
    if ids:
        rows = session.execute(
            sa.select(col(Transaction.statement_id), col(Account.name), sa.func.count())
            .join(Account, col(Account.id) == col(Transaction.account_id))
            .where(col(Transaction.user_id) == user_id, col(Transaction.statement_id).in_(ids))
            .group_by(col(Transaction.statement_id), col(Account.name))
        )
        for statement_id, name, count in rows:
            held.setdefault(int(statement_id), []).append(str(name))
            counts[int(statement_id)] = counts.get(int(statement_id), 0) + int(count)
    return [
        StatementPublic(
            id=s.id or 0,
            filename=s.filename,
            format=s.format,
            size_bytes=s.size_bytes,
            rows=s.row_count,
            imported=s.imported_count,
            skipped=s.skipped_count,
            accounts=sorted(held.get(s.id or 0, [])),
            transactions=counts.get(s.id or 0, 0),
            created_at=s.created_at,
        )
        for s in statements
    ]


def delete_statement(session: Session, user_id: str, statement_id: int) -> int:
    """Remove the rows `statement_id` imported; the number removed (0 when it was deleted
    before). Raises StatementNotFound when the user has no such upload. The caller commits."""
    statement = session.scalars(
        sa.select(Statement).where(
            col(Statement.id) == statement_id, col(Statement.user_id) == user_id
        )
    ).first()
    if statement is None:
        raise StatementNotFound(statement_id)
    if statement.deleted_at is not None:
        return 0
    dates = list(
        session.execute(
            sa.delete(Transaction)
            .where(
                col(Transaction.statement_id) == statement_id,
                col(Transaction.user_id) == user_id,
            )
            .returning(col(Transaction.date))
        ).scalars()
    )
    statement.deleted_at = utcnow()
    session.add(statement)
    if dates:
        mark_changed(session, user_id, dates)
    return len(dates)
