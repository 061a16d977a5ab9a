"""The summary from rollup cells equals the summary from the rows, for any transactions."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from core.summary.cells import PreviousToDate, cells_of, summaries_from_cells
from core.summary.figures import compute_summaries
from core.summary.shapes import Txn

ACCOUNTS = {"default": 1, "Savings": 2, "Card": 3}
DESCRIPTIONS = ("COFFEE HOUSE 12", "Coffee House #99", "RENT", "salary", "", "1234", " grocer ")
CATEGORIES = (None, "", "  ", "Dining", "dining", "Rent", " Rent ")

txns = st.builds(
    Txn,
    date=st.dates(dt.date(2023, 10, 1), dt.date(2025, 3, 31)),
    amount_minor=st.integers(-50_000, 50_000) | st.sampled_from([0, -1, 1, -1000, -1000]),
    currency=st.sampled_from(["USD", "EUR"]),
    description=st.sampled_from(DESCRIPTIONS),
    category=st.sampled_from(CATEGORIES),
    account=st.sampled_from(sorted(ACCOUNTS)),
)


def from_cells(rows: list[Txn], today: dt.date) -> dict[str, object]:
    previous = PreviousToDate.empty(today)
    for txn in rows:
        previous.add(txn.currency, txn.date, txn.amount_minor)
    cells = cells_of((txn, ACCOUNTS[txn.account]) for txn in rows)
    return {c: s.model_dump() for c, s in summaries_from_cells(cells.values(), previous).items()}


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(txns, max_size=40),
    today=st.dates(dt.date(2024, 1, 1), dt.date(2025, 6, 30)),
)
def test_cells_give_the_summary_the_rows_give(rows: list[Txn], today: dt.date) -> None:
    expected = {c: s.model_dump() for c, s in compute_summaries(rows, today=today).items()}
    assert from_cells(rows, today) == expected


def test_last_month_to_date_counts_up_to_todays_day_number() -> None:
    previous = PreviousToDate.empty(dt.date(2025, 3, 31))
    assert previous.window == (dt.date(2025, 2, 1), dt.date(2025, 3, 1))
    for day in (dt.date(2025, 2, 28), dt.date(2025, 3, 1), dt.date(2025, 1, 31)):
        previous.add("USD", day, -100)
    assert previous.totals["USD"].count == 1  # all of February, nothing else
    early = PreviousToDate.empty(dt.date(2025, 3, 3))
    for day in (dt.date(2025, 2, 3), dt.date(2025, 2, 4)):
        early.add("USD", day, -100)
    assert early.totals["USD"].expenses == 100
