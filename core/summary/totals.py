"""One pass over a user's transactions in one currency: totals per month, per category and per
(merchant, month). `core.summary.figures` derives every figure from those, which stay few.
Pure computation, no I/O.
"""

import datetime
from dataclasses import dataclass

from core.summary.shapes import Txn

UNCATEGORIZED = "Uncategorized"


@dataclass(slots=True)
class Totals:
    income: int = 0
    expenses: int = 0  # positive
    count: int = 0

    def merge(self, other: "Totals") -> None:
        self.income += other.income
        self.expenses += other.expenses
        self.count += other.count


@dataclass(slots=True)
class MerchantMonth(Totals):
    # date.min until the first charge; only months holding a charge are ever read.
    last_expense_date: datetime.date = datetime.date.min


def category_of(category: str | None) -> str:
    return (category or "").strip() or UNCATEGORIZED


def outranks(txn: Txn, best: Txn) -> bool:
    """Whether `txn` is a larger expense than `best`, ties broken on the data, not arrival order."""
    if txn.amount_minor != best.amount_minor:
        return txn.amount_minor < best.amount_minor
    return (txn.date, txn.description, category_of(txn.category)) < (
        best.date,
        best.description,
        category_of(best.category),
    )


# A rollup cell as the accumulator reads it (`core.summary.cells.Cell.row`, or a database row):
# currency, month index, account name, category, merchant, count, income, expenses, first date,
# last date, last expense's date, and the largest expense's amount, date and description.
CellRow = tuple[
    str,
    int,
    str,
    str,
    str,
    int,
    int,
    int,
    datetime.date,
    datetime.date,
    datetime.date | None,
    int | None,
    datetime.date | None,
    str,
]


class CurrencyAccumulator:
    """One pass over a currency's transactions: totals per month, per category and per
    (merchant, month), and last month's up to today's day number (`previous_to_date`, so this
    month so far is compared with the same span); every other figure is derived from those."""

    __slots__ = (
        "by_account",
        "by_category",
        "by_month",
        "first_date",
        "largest",
        "largest_merchant",
        "last_date",
        "previous_month",
        "previous_to_date",
        "previous_until",
        "spending",
    )

    def __init__(self, day: datetime.date, today: datetime.date) -> None:
        self.by_month: dict[int, Totals] = {}
        self.by_category: dict[str, Totals] = {}
        self.by_account: dict[str, Totals] = {}
        self.spending: dict[tuple[str, int], MerchantMonth] = {}
        self.first_date = day
        self.last_date = day
        self.largest: Txn | None = None
        self.largest_merchant = ""
        # The month before today's (an index like `by_month`'s) and the last day of it that
        # counts: today's day number (a shorter month simply ends first).
        self.previous_month = today.year * 12 + today.month - 2
        self.previous_until = today.day
        self.previous_to_date = Totals()

    def add_cell(self, row: CellRow) -> None:
        """Merge a rollup cell (`core.summary.cells`, as a `CellRow`): what `add` did for its
        transactions, except `previous_to_date`, which the caller sets from last month's rows.
        Inlined like `add`: this runs once per cell, and a drain reads hundreds per user."""
        (currency, month, account, category, merchant, count, income, expenses, first, last,
         last_expense, top_amount, top_date, top_description) = row  # fmt: skip
        in_month = self.by_month.get(month)
        if in_month is None:
            in_month = self.by_month[month] = Totals()
        in_month.income += income
        in_month.expenses += expenses
        in_month.count += count
        in_category = self.by_category.get(category)
        if in_category is None:
            in_category = self.by_category[category] = Totals()
        in_category.income += income
        in_category.expenses += expenses
        in_category.count += count
        in_account = self.by_account.get(account)
        if in_account is None:
            in_account = self.by_account[account] = Totals()
        in_account.income += income
        in_account.expenses += expenses
        in_account.count += count
        at_merchant = self.spending.get((merchant, month))
        if at_merchant is None:
            at_merchant = self.spending[merchant, month] = MerchantMonth()
        at_merchant.income += income
        at_merchant.expenses += expenses
        at_merchant.count += count
        if last_expense is not None and last_expense > at_merchant.last_expense_date:
            at_merchant.last_expense_date = last_expense
        best = self.largest
        if (
            top_amount is not None
            and top_date is not None
            and (best is None or top_amount <= best.amount_minor)
        ):
            top = Txn(top_date, top_amount, currency, top_description, category, account)
            if best is None or outranks(top, best):
                self.largest = top
                self.largest_merchant = merchant
        if first < self.first_date:
            self.first_date = first
        if last > self.last_date:
            self.last_date = last

    def add(self, txn: Txn, merchant: str) -> None:
        # Inlined updates, no helper calls: this runs once per transaction and dominates the cost.
        day = txn.date
        amount = txn.amount_minor
        month = day.year * 12 + day.month - 1
        in_month = self.by_month.get(month)
        if in_month is None:
            in_month = self.by_month[month] = Totals()
        category = (txn.category or "").strip() or UNCATEGORIZED  # = category_of, inlined
        in_category = self.by_category.get(category)
        if in_category is None:
            in_category = self.by_category[category] = Totals()
        at_merchant = self.spending.get((merchant, month))
        if at_merchant is None:
            at_merchant = self.spending[merchant, month] = MerchantMonth()
        in_account = self.by_account.get(txn.account)
        if in_account is None:
            in_account = self.by_account[txn.account] = Totals()
        in_month.count += 1
        in_category.count += 1
        at_merchant.count += 1
        in_account.count += 1
        if month == self.previous_month and day.day <= self.previous_until:
            to_date = self.previous_to_date
            to_date.count += 1
            if amount > 0:
                to_date.income += amount
            else:
                to_date.expenses -= amount
        if amount > 0:
            in_month.income += amount
            in_category.income += amount
            at_merchant.income += amount
            in_account.income += amount
        elif amount < 0:
            in_month.expenses -= amount
            in_category.expenses -= amount
            at_merchant.expenses -= amount
            in_account.expenses -= amount
            if day > at_merchant.last_expense_date:
                at_merchant.last_expense_date = day
            largest = self.largest
            if largest is None or (amount <= largest.amount_minor and outranks(txn, largest)):
                self.largest = txn
                self.largest_merchant = merchant
        if day < self.first_date:
            self.first_date = day
        elif day > self.last_date:
            self.last_date = day
