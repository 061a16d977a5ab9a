"""A user's financial summary figures, one `CurrencySummary` per currency, from their transactions.

Pure computation: the caller loads the transactions (batched SQL) and stores the result; nothing
here touches the database, HTTP or Redis. Money is integer minor units and ratios are integer basis
points (2534 = 25.34%), never floats, so figures are exact and survive JSON unchanged. Currencies
are never mixed or converted. Output lists are fully sorted and every tie is broken on the data
itself, so equal transactions give byte-equal JSON whatever order they arrive in.

Definitions (the contract the API and the tests rely on):

- Rounding: every division rounds half away from zero (Decimal's ROUND_HALF_UP), in integer
  arithmetic: 4299.5 -> 4300 and -10000.5 bp -> -10001 bp.
- `by_account`: income, expenses, net and count per account (by name, code-point order); they
  add up to the currency's totals.
- Categories: a missing or blank category counts as "Uncategorized". `by_category` is sorted by
  expenses descending, then name (code-point order).
- `monthly`: every calendar month from `first_date`'s to `last_date`'s inclusive, empty months
  as zeros, oldest first.
- Merchants (`core.summary.merchants.normalise_merchant`): the description with card-terminal
  noise, masked card numbers, dates, phone numbers and trailing reference/store numbers removed,
  case-folded for grouping and shown in title case. Title case rather than "the most common
  original casing" keeps the name a function of one description, so it never flips when a new
  row arrives. A description with no
  letter left has no merchant ("") and is left out of `top_merchants` and `recurring`.
- `top_merchants`: spend = expenses minus refunds (positive amounts) at the merchant; only
  spend > 0; `count` counts every transaction at the merchant (charges and refunds); the 10
  largest by spend, then name.
- `avg_monthly_expense_minor`: a month is complete when it lies wholly inside [first_date, today):
  the first month counts only when `first_date` is its 1st, the month of `today` never counts,
  and months after `last_date` but before today's month count as zero-expense months (the user
  spent nothing we know of). The average of those months' expenses, or None when there is none;
  `complete_months` says how many were averaged.
- `savings_rate_bp`: (income - expenses) / income in basis points; negative when spending exceeds
  income; None when income is 0.
- `largest_expense`: the most negative amount; ties go to the earliest date, then description,
  then category.
- `recurring`: a merchant's expense charges per calendar month (several charges in one month are
  summed; refunds are ignored) over a run of at least 3 consecutive months whose totals are within
  10% of each other, meaning max <= 1.10 * min over the run. The longest such run is reported (the
  most recent one on a tie): `typical_amount_minor` is the median of its monthly totals (mean of
  the middle two, rounded, for an even count), `months` its length, `last_date` the last charge in
  its final month. Sorted by typical amount descending, then merchant.
- `this_month` / `last_month`: the calendar month of `today` and the one before, whether or not
  they hold transactions. `last_month_to_date`: the month before, from its 1st to today's day
  number (the whole month when it is shorter: on 31 March, all of February).
  `expenses_change_bp` = (this month's expenses - last_month_to_date's) / last_month_to_date's,
  equal spans (on 3 December, 1-3 December against 1-3 November); None when those days of last
  month had no expenses. `as_of` records `today`, so a reader can tell when these went stale.
"""

import datetime
from collections.abc import Iterable

from core.summary.merchants import normalise_merchant
from core.summary.shapes import (
    AccountTotals,
    CategoryTotals,
    CurrencySummary,
    LargestExpense,
    MerchantSpend,
    MonthTotals,
    RecurringCharge,
    Txn,
)
from core.summary.totals import CurrencyAccumulator, MerchantMonth, Totals, category_of

TOP_MERCHANTS_LIMIT = 10
RECURRING_MIN_MONTHS = 3
# "Within 10% of each other": max * 10 <= min * 11, kept as integers so no float decides a run.
RECURRING_TOLERANCE_NUMERATOR = 11
RECURRING_TOLERANCE_DENOMINATOR = 10
BASIS_POINTS = 10_000


def _month_index(day: datetime.date) -> int:
    return day.year * 12 + day.month - 1


def _month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


# --- accumulation -----------------------------------------------------------------------------


def compute_summaries(txns: Iterable[Txn], *, today: datetime.date) -> dict[str, CurrencySummary]:
    """Every figure of one user's summary, per currency present, keys in sorted order."""
    accumulators: dict[str, CurrencyAccumulator] = {}
    merchants: dict[str, str] = {}  # cheaper than the shared cache for a user's repeats
    for txn in txns:
        merchant = merchants.get(txn.description)
        if merchant is None:
            merchant = merchants[txn.description] = normalise_merchant(txn.description)
        accumulator = accumulators.get(txn.currency)
        if accumulator is None:
            accumulator = accumulators[txn.currency] = CurrencyAccumulator(txn.date, today)
        accumulator.add(txn, merchant)
    return {
        currency: summarise(currency, accumulators[currency], today)
        for currency in sorted(accumulators)
    }


# --- roll-ups ---------------------------------------------------------------------------------


def _by_merchant(
    spending: dict[tuple[str, int], MerchantMonth],
) -> tuple[dict[str, Totals], dict[str, dict[int, MerchantMonth]]]:
    """Totals per merchant, and per merchant the months holding at least one charge (a month
    with nothing but a refund is no payment, for `recurring`)."""
    totals: dict[str, Totals] = {}
    charges: dict[str, dict[int, MerchantMonth]] = {}
    for (merchant, month), at_merchant in spending.items():
        if not merchant:
            continue
        merchant_totals = totals.get(merchant)
        if merchant_totals is None:
            merchant_totals = totals[merchant] = Totals()
        merchant_totals.merge(at_merchant)
        if at_merchant.expenses:
            charges.setdefault(merchant, {})[month] = at_merchant
    return totals, charges


def _div_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator (denominator > 0), halves rounded away from zero."""
    quotient = (2 * abs(numerator) + denominator) // (2 * denominator)
    return quotient if numerator >= 0 else -quotient


def _basis_points(numerator: int, denominator: int) -> int | None:
    if denominator == 0:
        return None
    return _div_half_up(numerator * BASIS_POINTS, denominator)


def _month_totals(index: int, totals: Totals | None) -> MonthTotals:
    totals = totals or Totals()
    return MonthTotals(
        month=_month_label(index),
        income_minor=totals.income,
        expenses_minor=totals.expenses,
        net_minor=totals.income - totals.expenses,
        count=totals.count,
    )


def _categories(by_category: dict[str, Totals]) -> list[CategoryTotals]:
    ordered = sorted(by_category.items(), key=lambda item: (-item[1].expenses, item[0]))
    return [
        CategoryTotals(
            category=name,
            income_minor=totals.income,
            expenses_minor=totals.expenses,
            net_minor=totals.income - totals.expenses,
            count=totals.count,
        )
        for name, totals in ordered
    ]


def _accounts(by_account: dict[str, Totals]) -> list[AccountTotals]:
    return [
        AccountTotals(
            account=name,
            income_minor=totals.income,
            expenses_minor=totals.expenses,
            net_minor=totals.income - totals.expenses,
            count=totals.count,
        )
        for name, totals in sorted(by_account.items())
    ]


def _top_merchants(by_merchant: dict[str, Totals]) -> list[MerchantSpend]:
    spending = [
        (totals.expenses - totals.income, name, totals.count)
        for name, totals in by_merchant.items()
        if totals.expenses > totals.income
    ]
    spending.sort(key=lambda row: (-row[0], row[1]))
    return [
        MerchantSpend(merchant=name, spend_minor=spend, count=count)
        for spend, name, count in spending[:TOP_MERCHANTS_LIMIT]
    ]


def _average_monthly_expense(
    by_month: dict[int, Totals], first_date: datetime.date, today: datetime.date
) -> tuple[int | None, int]:
    """(average, number of complete months): see the module docstring for "complete"."""
    start = _month_index(first_date) + (0 if first_date.day == 1 else 1)
    end = _month_index(today)  # exclusive: today's month is still running
    months = end - start
    if months <= 0:
        return None, 0
    spent = sum(totals.expenses for month, totals in by_month.items() if start <= month < end)
    return _div_half_up(spent, months), months


# --- recurring charges ------------------------------------------------------------------------


def _within_tolerance(low: int, high: int) -> bool:
    return high * RECURRING_TOLERANCE_DENOMINATOR <= low * RECURRING_TOLERANCE_NUMERATOR


def _longest_steady_window(amounts: list[int]) -> tuple[int, int]:
    """(start, stop) of the longest slice whose values are within tolerance, the latest on a tie.

    Quadratic in the run length, which is a merchant's count of consecutive months: small.
    """
    best = (0, 0)
    for start in range(len(amounts)):
        low = high = amounts[start]
        stop = start + 1
        while stop < len(amounts):
            low, high = min(low, amounts[stop]), max(high, amounts[stop])
            if not _within_tolerance(low, high):
                break
            stop += 1
        if stop - start >= best[1] - best[0]:
            best = (start, stop)
    return best


def _median_half_up(values: list[int]) -> int:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return _div_half_up(ordered[middle - 1] + ordered[middle], 2)


def _consecutive_runs(months: list[int]) -> list[tuple[int, int]]:
    """(start, stop) slices of sorted month indexes where each follows the previous one."""
    runs: list[tuple[int, int]] = []
    start = 0
    for position in range(1, len(months) + 1):
        if position == len(months) or months[position] != months[position - 1] + 1:
            runs.append((start, position))
            start = position
    return runs


def _recurring_charge(merchant: str, charges: dict[int, MerchantMonth]) -> RecurringCharge | None:
    months = sorted(charges)
    best: list[int] = []  # month indexes of the best window so far
    for run_start, run_stop in _consecutive_runs(months):
        if run_stop - run_start < RECURRING_MIN_MONTHS:
            continue
        run = months[run_start:run_stop]
        start, stop = _longest_steady_window([charges[month].expenses for month in run])
        if stop - start >= len(best):  # runs come oldest first, so ">=" keeps the latest
            best = run[start:stop]
    if len(best) < RECURRING_MIN_MONTHS:
        return None
    return RecurringCharge(
        merchant=merchant,
        typical_amount_minor=_median_half_up([charges[month].expenses for month in best]),
        months=len(best),
        last_date=charges[best[-1]].last_expense_date,
    )


def _recurring(merchants: dict[str, dict[int, MerchantMonth]]) -> list[RecurringCharge]:
    found = [
        charge
        for merchant, charges in merchants.items()
        if len(charges) >= RECURRING_MIN_MONTHS
        and (charge := _recurring_charge(merchant, charges)) is not None
    ]
    found.sort(key=lambda charge: (-charge.typical_amount_minor, charge.merchant))
    return found


# --- assembly ---------------------------------------------------------------------------------


def _largest_expense(accumulator: CurrencyAccumulator) -> LargestExpense | None:
    txn = accumulator.largest
    if txn is None:
        return None
    return LargestExpense(
        date=txn.date,
        amount_minor=-txn.amount_minor,
        description=txn.description,
        merchant=accumulator.largest_merchant,
        category=category_of(txn.category),
    )


def summarise(
    currency: str, accumulator: CurrencyAccumulator, today: datetime.date
) -> CurrencySummary:
    total = Totals()
    for in_month in accumulator.by_month.values():
        total.merge(in_month)
    by_merchant, charges = _by_merchant(accumulator.spending)
    by_month = accumulator.by_month
    first_month = _month_index(accumulator.first_date)
    last_month = _month_index(accumulator.last_date)
    this_index = _month_index(today)
    this_month = _month_totals(this_index, by_month.get(this_index))
    previous_month = _month_totals(this_index - 1, by_month.get(this_index - 1))
    previous_to_date = _month_totals(this_index - 1, accumulator.previous_to_date)
    average, complete_months = _average_monthly_expense(by_month, accumulator.first_date, today)
    return CurrencySummary(
        currency=currency,
        as_of=today,
        income_minor=total.income,
        expenses_minor=total.expenses,
        net_minor=total.income - total.expenses,
        transaction_count=total.count,
        first_date=accumulator.first_date,
        last_date=accumulator.last_date,
        by_category=_categories(accumulator.by_category),
        monthly=[
            _month_totals(index, by_month.get(index))
            for index in range(first_month, last_month + 1)
        ],
        top_merchants=_top_merchants(by_merchant),
        avg_monthly_expense_minor=average,
        complete_months=complete_months,
        savings_rate_bp=_basis_points(total.income - total.expenses, total.income),
        largest_expense=_largest_expense(accumulator),
        recurring=_recurring(charges),
        this_month=this_month,
        last_month=previous_month,
        last_month_to_date=previous_to_date,
        expenses_change_bp=_basis_points(
            this_month.expenses_minor - previous_to_date.expenses_minor,
            previous_to_date.expenses_minor,
        ),
        by_account=_accounts(accumulator.by_account),
    )
