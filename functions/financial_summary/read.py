"""What the `financial-summary` job reads for a batch: versions, stored summaries, then each
user's rollup cells (built users) or rows (users whose cells are not built yet), and last month's
rows up to today's day number. Each read is one query whatever the batch; cells and rows stream
in user by user, `DRAIN_MAX_BATCH_ROWS` at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from itertools import groupby
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from core.base.models import User
from core.summary.cells import PreviousToDate
from core.summary.shapes import Txn
from core.summary.totals import CellRow
from functions.financial_summary.batch import Batch, stable


def _ids_param(name: str) -> sa.BindParameter[Any]:
    return sa.bindparam(name, expanding=True)


def read_versions(session: Session, batch: Batch) -> None:
    """The users' data versions, then their stored summaries (for the change test).

    Versions before transactions: data read after the version can only be newer than the
    version it is labelled with, so the guard may redo work but never marks stale data fresh.
    """
    ids = [job.id for job in batch.jobs]
    rows = session.execute(
        sa.select(col(User.id), col(User.data_version), col(User.rollups_built)).where(
            col(User.id).in_(_ids_param("ids"))
        ),
        {"ids": ids},
    )
    for uid, version, built in rows:
        batch.versions[uid] = int(version)
        if built:
            batch.built.add(uid)
    stored = session.execute(
        sa.text(
            "SELECT user_id, currency, figures FROM financial_summaries WHERE user_id IN :ids"
        ).bindparams(_ids_param("ids")),
        {"ids": ids},
    )
    for user_id, currency, figures in stored:
        batch.previous.setdefault(user_id, {})[currency] = stable(figures)


_TRANSACTIONS = sa.text(
    "SELECT t.user_id, t.date, t.amount_minor, t.currency, t.description, t.category, a.name, "
    "t.account_id FROM transactions AS t JOIN accounts AS a ON a.id = t.account_id "
    "WHERE t.user_id IN :ids ORDER BY t.user_id"
).bindparams(_ids_param("ids"))


def stream(
    session: Session, ids: list[str], held_rows: int
) -> Iterator[tuple[str, Iterator[tuple[Txn, int]]]]:
    """Each user's transactions, one user after the other, `held_rows` rows in memory at most.

    One query whatever the batch: on Postgres a server-side cursor hands the rows over
    `held_rows` at a time (a named cursor inside the read transaction, which a transaction-mode
    pooler allows), so the job's memory does not grow with its users' histories. A user
    without transactions does not appear.
    """
    if not ids:
        return
    result = session.execute(_TRANSACTIONS.execution_options(yield_per=held_rows), {"ids": ids})
    try:
        for user_id, rows in groupby(result, key=itemgetter(0)):
            yield str(user_id), (_txn(row) for row in rows)
    finally:
        result.close()


def _date(day: Any) -> Any:
    if isinstance(day, str):  # SQLite hands dates back as text through a raw query
        return datetime.strptime(day, "%Y-%m-%d").date()
    return day


def _txn(row: Any) -> tuple[Txn, int]:
    _, day, amount, currency, description, category, account, account_id = row
    txn = Txn(_date(day), int(amount), currency, description or "", category, str(account))
    return txn, int(account_id)


_CELLS = sa.text(
    "SELECT r.user_id, r.currency, r.month, a.name, r.category, r.merchant, "
    "r.count, r.income_minor, r.expenses_minor, r.first_date, r.last_date, "
    "r.last_expense_date, r.largest_amount_minor, r.largest_date, r.largest_description "
    "FROM summary_rollups AS r JOIN accounts AS a ON a.id = r.account_id "
    "WHERE r.user_id IN :ids ORDER BY r.user_id"
).bindparams(_ids_param("ids"))


def _cell(row: Any) -> CellRow:
    """A database row of `_CELLS` as the accumulator reads it (dates parsed on SQLite)."""
    (_, currency, month, account, category, merchant, count, income, expenses, first, last,
     last_expense, top, top_date, top_text) = row  # fmt: skip
    if isinstance(first, str):
        first, last = _date(first), _date(last)
        last_expense = _date(last_expense) if last_expense is not None else None
        top_date = _date(top_date) if top_date is not None else None
    return (
        currency, month, account, category, merchant, count, income, expenses, first, last,
        last_expense, top, top_date, top_text or "",
    )  # fmt: skip


def stream_cells(
    session: Session, ids: list[str], held_rows: int
) -> Iterator[tuple[str, Iterator[CellRow]]]:
    """Each built user's cells, one user after the other (as `stream` streams rows)."""
    if not ids:
        return
    result = session.execute(_CELLS.execution_options(yield_per=held_rows), {"ids": ids})
    try:
        for user_id, rows in groupby(result, key=itemgetter(0)):
            yield str(user_id), (_cell(row) for row in rows)
    finally:
        result.close()


_LAST_MONTH = sa.text(
    "SELECT user_id, currency, date, amount_minor FROM transactions "
    "WHERE user_id IN :ids AND date >= :start AND date < :end"
).bindparams(
    _ids_param("ids"), sa.bindparam("start", type_=sa.Date), sa.bindparam("end", type_=sa.Date)
)


def last_month(session: Session, ids: list[str], today: date) -> dict[str, PreviousToDate]:
    """Last month's totals up to today's day number, from last month's rows alone (the one
    figure no month-grained cell can give): a month of rows, whatever the history."""
    previous = {uid: PreviousToDate.empty(today) for uid in ids}
    if not ids:
        return previous
    start, end = PreviousToDate.empty(today).window
    rows = session.execute(_LAST_MONTH, {"ids": ids, "start": start, "end": end})
    for user_id, currency, day, amount in rows:
        previous[str(user_id)].add(currency, _date(day), int(amount))
    return previous
