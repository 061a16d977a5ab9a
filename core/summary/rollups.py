"""Keeping a user's `summary_rollups` cells current with their rows, in the write's transaction.

`mark_changed` calls `refresh` after it has bumped the user's data version, so the user's row
lock is held: two writes of one user refresh one after the other, and the second reads what the
first committed. A refresh replaces the cells of the calendar months a write touched, re-summed
from those months' rows (a month's rows, not the history). Users whose cells were never built
(`users.rollups_built` false: data from before the rollups, or rows loaded behind the app's
back) are skipped: the next drain builds their cells from the rows (`build_cells`), or
`scripts/drain.py --rebuild` does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from core.base.bulk import insert_rows
from core.base.models import SummaryRollup, Transaction, User
from core.summary.cells import Cell, CellKey, cells_of, month_of
from core.summary.merchants import normalise_uncached
from core.summary.shapes import Txn

_STREAM_ROWS = 5000
_ROW_COLUMNS = (
    col(Transaction.date),
    col(Transaction.amount_minor),
    col(Transaction.currency),
    col(Transaction.description),
    col(Transaction.category),
    col(Transaction.account_id),
)


def _first_day(month: int) -> dt.date:
    return dt.date(month // 12, month % 12 + 1, 1)


def month_ranges(months: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted months as [first, last] runs of consecutive months."""
    runs: list[tuple[int, int]] = []
    for month in sorted(set(months)):
        if runs and month == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], month)
        else:
            runs.append((month, month))
    return runs


def _rows(session: Session, user_id: str, months: Sequence[int] | None) -> Iterator[Any]:
    query = sa.select(*_ROW_COLUMNS).where(col(Transaction.user_id) == user_id)
    if months is not None:
        query = query.where(
            sa.or_(
                *(
                    sa.and_(
                        col(Transaction.date) >= _first_day(first),
                        col(Transaction.date) < _first_day(last + 1),
                    )
                    for first, last in month_ranges(months)
                )
            )
        )
    # Streamed (a server-side cursor on Postgres): a large upload's months are never all held.
    return iter(session.execute(query.execution_options(yield_per=_STREAM_ROWS)))


def _cells(rows: Iterator[Any]) -> dict[CellKey, Cell]:
    # The uncached merchant names: a write's pass must not fill the process-wide cache.
    return cells_of(
        (
            (Txn(day, int(amount), currency, description or "", category), int(account_id))
            for day, amount, currency, description, category, account_id in rows
        ),
        normalise_uncached,
    )


# The money columns of summary_rollups are BIGINT, like the summaries' own.
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1


def storable(cells: Iterable[Cell]) -> bool:
    """Whether every cell's sums fit the columns. Amounts are bounded one by one, not in sum:
    ten of the largest CLF amounts add up past 2^63 minor units."""
    return all(cell.income <= _BIGINT_MAX and cell.expenses <= _BIGINT_MAX for cell in cells)


def cell_rows(user_id: str, cells: Iterable[Cell]) -> list[dict[str, Any]]:
    """`summary_rollups` rows for `cells`."""
    return [
        {
            "user_id": user_id,
            "currency": cell.currency,
            "month": cell.month,
            "account_id": cell.account_id,
            "category": cell.category,
            "merchant": cell.merchant,
            "count": cell.count,
            "income_minor": cell.income,
            "expenses_minor": cell.expenses,
            "first_date": cell.first_date,
            "last_date": cell.last_date,
            "last_expense_date": cell.last_expense_date,
            "largest_amount_minor": cell.largest.amount_minor if cell.largest else None,
            "largest_date": cell.largest.date if cell.largest else None,
            "largest_description": cell.largest.description if cell.largest else None,
        }
        for cell in cells
    ]


def refresh(session: Session, user_id: str, dates: Iterable[dt.date] | None) -> None:
    """Re-sum the cells of the months holding `dates` (all months when None) from the rows.

    Call with the user's row locked (after the version bump) and only when their cells are
    built.
    """
    months = None if dates is None else sorted({month_of(day) for day in dates})
    if months == []:
        return
    delete = sa.delete(SummaryRollup).where(col(SummaryRollup.user_id) == user_id)
    if months is not None:
        delete = delete.where(col(SummaryRollup.month).in_(months))
    session.execute(delete)
    cells = _cells(_rows(session, user_id, months))
    if not storable(cells.values()):
        # Sums beyond the columns: no cells for this user, whose summary is then computed from
        # the rows, where such totals fail that user alone (never the write).
        session.execute(sa.delete(SummaryRollup).where(col(SummaryRollup.user_id) == user_id))
        session.execute(
            sa.update(User)
            .where(col(User.id) == user_id)
            .values(rollups_built=False)
            .execution_options(synchronize_session=False)
        )
        return
    insert_rows(session, SummaryRollup, cell_rows(user_id, cells.values()))


def rebuild(session: Session, user_id: str) -> int:
    """Every cell of the user from their rows, and mark them built; the number of cells.

    Locks the user's row first, as a write does, so no write refreshes meanwhile.
    """
    locked = session.execute(
        sa.update(User)
        .where(col(User.id) == user_id)
        .values(rollups_built=True)
        .returning(col(User.id))
        .execution_options(synchronize_session=False)
    ).first()
    if locked is None:
        return 0
    session.execute(sa.delete(SummaryRollup).where(col(SummaryRollup.user_id) == user_id))
    cells = _cells(_rows(session, user_id, None))
    if not storable(cells.values()):
        refresh(session, user_id, None)  # unbuilds the user (see there)
        return 0
    insert_rows(session, SummaryRollup, cell_rows(user_id, cells.values()))
    return len(cells)


def drift(session: Session, user_id: str) -> list[str]:
    """How the user's stored cells differ from their rows' (empty: none; not built: skipped)."""
    built = session.execute(sa.select(col(User.rollups_built)).where(col(User.id) == user_id))
    if not built.scalar():
        return []
    expected = dict(_keyed(cell_rows(user_id, _cells(_rows(session, user_id, None)).values())))
    stored_rows = session.execute(
        sa.select(SummaryRollup).where(col(SummaryRollup.user_id) == user_id)
    ).scalars()
    stored = dict(_keyed(row.model_dump() for row in stored_rows))
    problems = []
    for key in sorted(set(expected) | set(stored)):
        if key not in stored:
            problems.append(f"missing cell {key}")
        elif key not in expected:
            problems.append(f"extra cell {key}")
        elif expected[key] != stored[key]:
            problems.append(f"cell {key}: stored {stored[key]}, rows say {expected[key]}")
    return problems


def _keyed(rows: Iterable[dict[str, Any]]) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    for row in rows:
        key = (row["currency"], row["month"], row["account_id"], row["category"], row["merchant"])
        yield key, row
