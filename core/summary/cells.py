"""A user's summary from rollup cells, so that a change costs the same whatever the history.

A cell sums a user's transactions in one currency, calendar month, account, category (as the
summary names it: `category_of`) and merchant (`normalise_merchant`): count, income, expenses,
first and last date, the last expense's date and the largest expense. Every figure of
`core.summary.figures` is derived from those cells, except one that depends on the day it is
computed: `last_month_to_date` (last month up to today's day number), which the caller sums
from last month's rows alone (`PreviousToDate`), at most a month of them.

Pure computation. `summaries_from_cells(cells_of(txns), ...)` equals `compute_summaries(txns)`
for any transactions; a property test holds the two to that.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from core.summary.figures import summarise
from core.summary.merchants import normalise_merchant
from core.summary.shapes import CurrencySummary, Txn
from core.summary.totals import CellRow, CurrencyAccumulator, Totals, category_of, outranks

# (currency, month index, account id, category, merchant): a cell's place.
CellKey = tuple[str, int, int, str, str]


@dataclass(slots=True)
class Cell:
    currency: str
    month: int  # year * 12 + month - 1
    account_id: int
    account: str  # the account's name (what the summary shows)
    category: str
    merchant: str
    first_date: datetime.date
    last_date: datetime.date
    count: int = 0
    income: int = 0
    expenses: int = 0  # positive
    last_expense_date: datetime.date | None = None
    largest: Txn | None = None  # the cell's largest expense (a negative amount)

    @property
    def row(self) -> CellRow:
        top = self.largest
        return (
            self.currency, self.month, self.account, self.category, self.merchant, self.count,
            self.income, self.expenses, self.first_date, self.last_date, self.last_expense_date,
            top.amount_minor if top else None, top.date if top else None,
            top.description if top else "",
        )  # fmt: skip

    @property
    def key(self) -> CellKey:
        return (self.currency, self.month, self.account_id, self.category, self.merchant)

    def add(self, txn: Txn) -> None:
        amount = txn.amount_minor
        self.count += 1
        if txn.date < self.first_date:
            self.first_date = txn.date
        if txn.date > self.last_date:
            self.last_date = txn.date
        if amount > 0:
            self.income += amount
        elif amount < 0:
            self.expenses -= amount
            if self.last_expense_date is None or txn.date > self.last_expense_date:
                self.last_expense_date = txn.date
            if self.largest is None or outranks(txn, self.largest):
                self.largest = txn


def month_of(day: datetime.date) -> int:
    return day.year * 12 + day.month - 1


# Descriptions remembered by one `cells_of` pass (cleared when full: memory stays bounded).
MERCHANTS_REMEMBERED = 4096


def cells_of(
    rows: Iterable[tuple[Txn, int]], normalise: Callable[[str], str] = normalise_merchant
) -> dict[CellKey, Cell]:
    """The cells of `(transaction, account id)` rows (`Txn.account` is the account's name)."""
    cells: dict[CellKey, Cell] = {}
    merchants: dict[str, str] = {}
    for txn, account_id in rows:
        merchant = merchants.get(txn.description)
        if merchant is None:
            if len(merchants) >= MERCHANTS_REMEMBERED:
                merchants.clear()
            merchant = merchants[txn.description] = normalise(txn.description)
        category = category_of(txn.category)
        key = (txn.currency, month_of(txn.date), account_id, category, merchant)
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = Cell(
                txn.currency,
                key[1],
                account_id,
                txn.account,
                category,
                merchant,
                txn.date,
                txn.date,
            )
        cell.add(txn)
    return cells


@dataclass(slots=True)
class PreviousToDate:
    """Last month's totals per currency up to today's day number, from last month's rows."""

    today: datetime.date
    totals: dict[str, Totals]

    @classmethod
    def empty(cls, today: datetime.date) -> PreviousToDate:
        return cls(today, {})

    @property
    def window(self) -> tuple[datetime.date, datetime.date]:
        """[first, end) of last month: the rows to read (`add` keeps those up to the day)."""
        first_of_this = self.today.replace(day=1)
        start = (first_of_this - datetime.timedelta(days=1)).replace(day=1)
        return start, first_of_this

    def add(self, currency: str, day: datetime.date, amount_minor: int) -> None:
        """Count one of last month's rows, if it lies up to today's day number."""
        if month_of(day) != month_of(self.today) - 1 or day.day > self.today.day:
            return
        totals = self.totals.get(currency)
        if totals is None:
            totals = self.totals[currency] = Totals()
        totals.count += 1
        if amount_minor > 0:
            totals.income += amount_minor
        else:
            totals.expenses -= amount_minor


def summaries_from_cells(
    cells: Iterable[Cell], previous: PreviousToDate
) -> dict[str, CurrencySummary]:
    """Every figure of one user's summary from their cells; keys in sorted order."""
    return summaries_from_rows((cell.row for cell in cells), previous)


def summaries_from_rows(
    rows: Iterable[CellRow], previous: PreviousToDate
) -> dict[str, CurrencySummary]:
    """`summaries_from_cells` from cells as rows (`Cell.row`), as the drain reads them."""
    today = previous.today
    accumulators: dict[str, CurrencyAccumulator] = {}
    for row in rows:
        accumulator = accumulators.get(row[0])
        if accumulator is None:
            accumulator = accumulators[row[0]] = CurrencyAccumulator(row[8], today)
        accumulator.add_cell(row)
    to_date: Mapping[str, Totals] = previous.totals
    for currency, accumulator in accumulators.items():
        accumulator.previous_to_date = to_date.get(currency) or Totals()
    return {
        currency: summarise(currency, accumulators[currency], today)
        for currency in sorted(accumulators)
    }
