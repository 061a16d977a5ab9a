"""The shapes of a summary: `Txn`, the row the figures are computed from, and the frozen pydantic
models of the figures (`CurrencySummary` and its parts), stored as JSON in
`financial_summaries.figures` and shown by `GET /api/summary`.

What each field means is defined in `core.summary.figures`. Money fields are `StrictInt` minor
units, so a float is refused rather than rounded.
"""

import datetime
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, StrictInt


@dataclass(frozen=True, slots=True)
class Txn:
    date: datetime.date
    amount_minor: int  # signed minor units: positive = income or refund, negative = expense
    currency: str  # ISO 4217
    description: str
    category: str | None
    account: str = ""  # the account's name


class _Figures(BaseModel):
    # Frozen: a summary is a value. Unknown keys are ignored so that a reader one release behind
    # can still load a document written by a newer release during a rolling deploy.
    model_config = ConfigDict(frozen=True, extra="ignore")


class CategoryTotals(_Figures):
    category: str
    income_minor: StrictInt
    expenses_minor: StrictInt
    net_minor: StrictInt
    count: StrictInt


class AccountTotals(_Figures):
    account: str
    income_minor: StrictInt
    expenses_minor: StrictInt
    net_minor: StrictInt
    count: StrictInt


class MonthTotals(_Figures):
    month: str  # "YYYY-MM"
    income_minor: StrictInt
    expenses_minor: StrictInt
    net_minor: StrictInt
    count: StrictInt


class MerchantSpend(_Figures):
    merchant: str
    spend_minor: StrictInt
    count: StrictInt


class LargestExpense(_Figures):
    date: datetime.date
    amount_minor: StrictInt  # positive
    description: str
    merchant: str
    category: str


class RecurringCharge(_Figures):
    merchant: str
    typical_amount_minor: StrictInt
    months: StrictInt
    last_date: datetime.date


class CurrencySummary(_Figures):
    currency: str
    as_of: datetime.date
    income_minor: StrictInt
    expenses_minor: StrictInt
    net_minor: StrictInt
    transaction_count: StrictInt
    first_date: datetime.date
    last_date: datetime.date
    by_category: list[CategoryTotals]
    monthly: list[MonthTotals]
    top_merchants: list[MerchantSpend]
    avg_monthly_expense_minor: StrictInt | None
    complete_months: StrictInt
    savings_rate_bp: StrictInt | None
    largest_expense: LargestExpense | None
    recurring: list[RecurringCharge]
    this_month: MonthTotals
    last_month: MonthTotals
    # Absent from a document written before equal-span comparisons; the next drain adds it.
    last_month_to_date: MonthTotals | None = None
    expenses_change_bp: StrictInt | None
    # Empty in a document written before accounts existed.
    by_account: list[AccountTotals] = []
