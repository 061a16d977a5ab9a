"""core.summary.figures: hand-worked figures, and a generated data set checked against an
independent, deliberately plain re-computation (loops over the raw rows, Decimal and Fraction
arithmetic; nothing from core.summary but `normalise_merchant` and the shapes)."""

import calendar
import itertools
import json
import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import pydantic
import pytest

from core.summary.figures import compute_summaries
from core.summary.merchants import normalise_merchant
from core.summary.shapes import CurrencySummary, Txn

JsonDict = dict[str, Any]


def txn(day: str, amount: int, description: str = "SHOP", category: str | None = None) -> Txn:
    return Txn(date.fromisoformat(day), amount, "USD", description, category)


def only(txns: list[Txn], today: str) -> JsonDict:
    """The JSON form of the single (USD) summary of `txns`."""
    summaries = compute_summaries(txns, today=date.fromisoformat(today))
    assert list(summaries) == ["USD"]
    return summaries["USD"].model_dump(mode="json")


def month(label: str, income: int = 0, expenses: int = 0, count: int = 0) -> JsonDict:
    return {
        "month": label,
        "income_minor": income,
        "expenses_minor": expenses,
        "net_minor": income - expenses,
        "count": count,
    }


# --- hand-worked cases ------------------------------------------------------------------------

BASIC = [
    txn("2024-01-15", 300_000, "ACME PAYROLL", "Salary"),
    txn("2024-01-20", -5_000, "TESCO STORES 3017", "Groceries"),
    txn("2024-02-03", -7_000, "POS TESCO STORES 2041", "Groceries"),
    txn("2024-02-10", -1_599, "NETFLIX.COM 866-579-7172", "Subscriptions"),
    txn("2024-02-11", 2_000, "TESCO STORES 3017", "Groceries"),  # a refund
    # March: nothing at all.
    txn("2024-04-05", -120_000, "LANDLORD RENT", None),
    txn("2024-04-15", 300_000, "ACME PAYROLL", "Salary"),
]


def test_basic_figures() -> None:
    summary = only(BASIC, "2024-04-20")
    assert summary["currency"] == "USD"
    assert summary["as_of"] == "2024-04-20"
    assert summary["income_minor"] == 602_000
    assert summary["expenses_minor"] == 133_599
    assert summary["net_minor"] == 468_401
    assert summary["transaction_count"] == 7
    assert (summary["first_date"], summary["last_date"]) == ("2024-01-15", "2024-04-15")
    assert summary["by_category"] == [
        {"category": "Uncategorized", "income_minor": 0, "expenses_minor": 120_000,
         "net_minor": -120_000, "count": 1},
        {"category": "Groceries", "income_minor": 2_000, "expenses_minor": 12_000,
         "net_minor": -10_000, "count": 3},
        {"category": "Subscriptions", "income_minor": 0, "expenses_minor": 1_599,
         "net_minor": -1_599, "count": 1},
        {"category": "Salary", "income_minor": 600_000, "expenses_minor": 0,
         "net_minor": 600_000, "count": 2},
    ]  # fmt: skip
    assert summary["monthly"] == [
        month("2024-01", 300_000, 5_000, 2),
        month("2024-02", 2_000, 8_599, 3),
        month("2024-03"),
        month("2024-04", 300_000, 120_000, 2),
    ]
    assert summary["top_merchants"] == [
        {"merchant": "Landlord Rent", "spend_minor": 120_000, "count": 1},
        {"merchant": "Tesco Stores", "spend_minor": 10_000, "count": 3},
        {"merchant": "Netflix.com", "spend_minor": 1_599, "count": 1},
    ]
    # Complete months: February and March (January started on the 15th, April is running):
    # (8599 + 0) / 2 = 4299.5, rounded half up.
    assert summary["avg_monthly_expense_minor"] == 4_300
    assert summary["complete_months"] == 2
    # 468401 / 602000 = 0.77807475...
    assert summary["savings_rate_bp"] == 7_781
    assert summary["largest_expense"] == {
        "date": "2024-04-05",
        "amount_minor": 120_000,
        "description": "LANDLORD RENT",
        "merchant": "Landlord Rent",
        "category": "Uncategorized",
    }
    assert summary["recurring"] == []
    assert summary["this_month"] == month("2024-04", 300_000, 120_000, 2)
    assert summary["last_month"] == month("2024-03")
    assert summary["expenses_change_bp"] is None


def test_no_transactions() -> None:
    assert compute_summaries([], today=date(2024, 1, 1)) == {}


def test_single_transaction() -> None:
    summary = only([txn("2024-03-10", -1_234, "POS CORNER SHOP 0042", " ")], "2024-03-15")
    assert summary == {
        "currency": "USD",
        "as_of": "2024-03-15",
        "income_minor": 0,
        "expenses_minor": 1_234,
        "net_minor": -1_234,
        "transaction_count": 1,
        "first_date": "2024-03-10",
        "last_date": "2024-03-10",
        "by_category": [
            {"category": "Uncategorized", "income_minor": 0, "expenses_minor": 1_234,
             "net_minor": -1_234, "count": 1},
        ],
        "monthly": [month("2024-03", 0, 1_234, 1)],
        "top_merchants": [{"merchant": "Corner Shop", "spend_minor": 1_234, "count": 1}],
        "avg_monthly_expense_minor": None,
        "complete_months": 0,
        "savings_rate_bp": None,
        "largest_expense": {"date": "2024-03-10", "amount_minor": 1_234,
                            "description": "POS CORNER SHOP 0042", "merchant": "Corner Shop",
                            "category": "Uncategorized"},
        "recurring": [],
        "this_month": month("2024-03", 0, 1_234, 1),
        "last_month": month("2024-02"),
        "last_month_to_date": month("2024-02"),
        "expenses_change_bp": None,
        "by_account": [
            {"account": "", "income_minor": 0, "expenses_minor": 1_234, "net_minor": -1_234,
             "count": 1},
        ],
    }  # fmt: skip


def test_only_income() -> None:
    summary = only(
        [txn("2024-01-01", 1_000, "ACME PAYROLL"), txn("2024-02-01", 1_000, "ACME PAYROLL")],
        "2024-03-02",
    )
    assert (summary["income_minor"], summary["expenses_minor"], summary["net_minor"]) == (
        2_000,
        0,
        2_000,
    )
    assert summary["savings_rate_bp"] == 10_000
    assert summary["avg_monthly_expense_minor"] == 0
    assert summary["complete_months"] == 2
    assert summary["largest_expense"] is None
    assert summary["top_merchants"] == []  # money in from a payer is no spend
    assert summary["recurring"] == []
    assert summary["expenses_change_bp"] is None


def test_only_expenses() -> None:
    summary = only([txn("2024-01-05", -300), txn("2024-02-05", -100)], "2024-02-20")
    assert (summary["income_minor"], summary["expenses_minor"], summary["net_minor"]) == (
        0,
        400,
        -400,
    )
    assert summary["savings_rate_bp"] is None
    assert summary["expenses_change_bp"] == -6_667  # (100 - 300) / 300 = -0.66666...
    assert summary["top_merchants"] == [{"merchant": "Shop", "spend_minor": 400, "count": 2}]


def test_zero_amount_counts_but_moves_nothing() -> None:
    summary = only([txn("2024-01-05", 0, "CARD CHECK"), txn("2024-01-06", -50)], "2024-01-31")
    assert summary["transaction_count"] == 2
    assert (summary["income_minor"], summary["expenses_minor"]) == (0, 50)
    assert summary["largest_expense"]["amount_minor"] == 50


@pytest.mark.parametrize(
    ("first_day", "today", "average", "complete"),
    [
        ("2024-01-01", "2024-03-20", 2_000, 2),  # from the 1st: January counts
        ("2024-01-02", "2024-03-20", 3_000, 1),  # mid-month start: January does not
        ("2024-01-01", "2024-03-01", 2_000, 2),  # March started today: still running
        ("2024-01-01", "2024-02-29", 1_000, 1),
        ("2024-01-01", "2024-01-31", None, 0),
        ("2024-01-02", "2024-02-15", None, 0),
        ("2024-01-01", "2023-12-01", None, 0),  # today before the data
        # Months after the last transaction, before today's, count as spending nothing.
        ("2024-01-01", "2024-06-15", 900, 5),
    ],
)
def test_average_over_complete_months(
    first_day: str, today: str, average: int | None, complete: int
) -> None:
    txns = [txn(first_day, -1_000), txn("2024-02-10", -3_000), txn("2024-03-05", -500)]
    summary = only(txns, today)
    assert summary["avg_monthly_expense_minor"] == average
    assert summary["complete_months"] == complete


def test_average_rounds_half_up() -> None:
    summary = only([txn("2024-01-01", -1), txn("2024-02-01", -2)], "2024-03-01")
    assert summary["avg_monthly_expense_minor"] == 2  # 3 / 2 = 1.5


@pytest.mark.parametrize(
    ("income", "expenses", "rate"),
    [
        (20_000, 1, 10_000),  # 9999.5 bp
        (20_000, 3, 9_999),  # 9998.5 bp
        (20_000, 40_001, -10_001),  # -10000.5 bp: halves go away from zero
        (3, 1, 6_667),
        (3, 2, 3_333),
        (100, 100, 0),
    ],
)
def test_savings_rate_rounds_half_up(income: int, expenses: int, rate: int) -> None:
    summary = only([txn("2024-01-05", income), txn("2024-01-06", -expenses)], "2024-01-31")
    assert summary["savings_rate_bp"] == rate


@pytest.mark.parametrize(
    ("last", "this", "change"),
    [(20_000, 20_001, 1), (20_000, 19_999, -1), (300, 600, 10_000), (7, 0, -10_000)],
)
def test_expenses_change_rounds_half_up(last: int, this: int, change: int) -> None:
    txns = [txn("2024-04-03", -last)] + ([txn("2024-05-03", -this)] if this else [])
    summary = only(txns, "2024-05-20")
    assert summary["last_month"]["expenses_minor"] == last
    assert summary["this_month"]["expenses_minor"] == this
    assert summary["expenses_change_bp"] == change


def test_expenses_change_compares_month_to_date_with_the_same_days_of_last_month() -> None:
    """On 3 December, December's 3 days are compared with 1-3 November, not all of November."""
    txns = [
        txn("2026-11-02", -1_000),  # inside November's first 3 days
        txn("2026-11-03", -1_000),
        txn("2026-11-04", -50_000),  # after them: in last_month, not in the comparison
        txn("2026-11-30", -50_000),
        txn("2026-12-01", -1_000),
    ]
    summary = only(txns, "2026-12-03")
    assert summary["last_month"] == month("2026-11", 0, 102_000, 4)  # the whole month
    assert summary["this_month"] == month("2026-12", 0, 1_000, 1)
    assert summary["last_month_to_date"] == month("2026-11", 0, 2_000, 2)
    assert summary["expenses_change_bp"] == -5_000  # (1000 - 2000) / 2000


@pytest.mark.parametrize(
    ("today", "days"),
    [
        ("2024-03-31", "2024-02-29"),  # February has fewer days: all of it
        ("2024-03-29", "2024-02-29"),
        ("2024-03-28", "2024-02-28"),
        ("2024-01-31", "2023-12-31"),  # across the year
        ("2024-05-01", "2024-04-01"),
    ],
)
def test_last_month_to_date_stops_at_the_same_day(today: str, days: str) -> None:
    cutoff = date.fromisoformat(days)
    first = cutoff.replace(day=1)
    txns = [txn((first + timedelta(days=i)).isoformat(), -1) for i in range(31)]
    txns = [t for t in txns if t.date.month == first.month]
    summary = only(txns, today)
    assert summary["last_month_to_date"]["expenses_minor"] == cutoff.day


def test_this_and_last_month_outside_the_data() -> None:
    summary = only([txn("2024-01-05", -100)], "2024-08-01")
    assert summary["this_month"] == month("2024-08")
    assert summary["last_month"] == month("2024-07")
    assert summary["monthly"] == [month("2024-01", 0, 100, 1)]


def test_january_follows_december() -> None:
    summary = only([txn("2023-11-30", -1), txn("2024-02-01", -2)], "2024-01-10")
    assert [row["month"] for row in summary["monthly"]] == [
        "2023-11",
        "2023-12",
        "2024-01",
        "2024-02",
    ]
    assert summary["last_month"] == month("2023-12")
    assert summary["this_month"] == month("2024-01")


RECURRING = [
    # 1699 / 1599 is within 10%, 1799 / 1599 is not: January to March qualify.
    txn("2024-01-05", -1_599, "NETFLIX.COM 866-579-7172"),
    txn("2024-02-05", -1_599, "NETFLIX.COM 866-579-7172"),
    txn("2024-03-05", -1_699, "NETFLIX.COM 866-579-7172"),
    txn("2024-04-05", -1_799, "NETFLIX.COM 866-579-7172"),
    # Two charges in February are one month's total (2001); the March refund is ignored.
    txn("2024-01-10", -2_000, "PUREGYM 4471"),
    txn("2024-02-10", -1_000, "PUREGYM 4471"),
    txn("2024-02-20", -1_001, "PUREGYM 4471"),
    txn("2024-03-10", -2_100, "PUREGYM 4471"),
    txn("2024-03-12", 500, "PUREGYM 4471"),
    txn("2024-04-10", -2_101, "PUREGYM 4471"),
    # Two steady runs of 3 months: the later one is reported.
    *(txn(f"2024-0{m}-15", -1_000, "DROPBOX*ABC123") for m in (1, 2, 3)),
    *(txn(f"2024-0{m}-15", -1_500, "DROPBOX*XYZ789") for m in (4, 5, 6)),
    # Near misses: only two months; a gap (March holds only a refund); a 30% jump each month.
    txn("2024-01-20", -999, "PAYPAL *SPOTIFY 4029357733"),
    txn("2024-02-20", -999, "PAYPAL *SPOTIFY 4029357733"),
    *(txn(f"2024-0{m}-02", -1_000, "HULU 877-8244858") for m in (1, 2, 4, 5)),
    txn("2024-03-02", 1_000, "HULU 877-8244858"),
    *(txn(f"2024-0{m}-25", -(999 if m % 2 else 1_299), "APPLE.COM/BILL") for m in range(1, 7)),
]


def test_recurring_charges() -> None:
    assert only(RECURRING, "2024-07-01")["recurring"] == [
        # Median of 2000, 2001, 2100, 2101 = 2050.5, rounded half up.
        {"merchant": "Puregym", "typical_amount_minor": 2_051, "months": 4,
         "last_date": "2024-04-10"},
        {"merchant": "Netflix.com", "typical_amount_minor": 1_599, "months": 3,
         "last_date": "2024-03-05"},
        {"merchant": "Dropbox", "typical_amount_minor": 1_500, "months": 3,
         "last_date": "2024-06-15"},
    ]  # fmt: skip


def test_categories_sort_and_merge_blank_with_missing() -> None:
    summary = only(
        [
            txn("2024-01-01", -100, category="b"),
            txn("2024-01-01", -100, category="a"),
            txn("2024-01-01", -50, category=None),
            txn("2024-01-01", -50, category=""),
            txn("2024-01-01", -300, category=" Rent "),
        ],
        "2024-02-01",
    )
    assert [(row["category"], row["expenses_minor"]) for row in summary["by_category"]] == [
        ("Rent", 300),
        ("Uncategorized", 100),
        ("a", 100),
        ("b", 100),
    ]


def test_top_merchants_limit_ties_and_refunds() -> None:
    txns = [txn("2024-01-02", -(100 + i // 2), f"MERCHANT {chr(97 + i)}") for i in range(12)]
    txns += [txn("2024-01-03", -50, "REFUNDED"), txn("2024-01-04", 60, "REFUNDED")]
    merchants = only(txns, "2024-02-01")["top_merchants"]
    assert [(row["merchant"], row["spend_minor"]) for row in merchants] == [
        ("Merchant K", 105),
        ("Merchant L", 105),
        ("Merchant I", 104),
        ("Merchant J", 104),
        ("Merchant G", 103),
        ("Merchant H", 103),
        ("Merchant E", 102),
        ("Merchant F", 102),
        ("Merchant C", 101),
        ("Merchant D", 101),
    ]


def test_largest_expense_ties_do_not_depend_on_order() -> None:
    txns = [
        txn("2024-01-09", -500, "B SHOP"),
        txn("2024-01-08", -500, "Z SHOP"),
        txn("2024-01-08", -500, "A SHOP"),
        txn("2024-01-10", -499, "C SHOP"),
    ]
    for ordering in (txns, txns[::-1]):
        largest = only(ordering, "2024-02-01")["largest_expense"]
        assert (largest["date"], largest["description"]) == ("2024-01-08", "A SHOP")


def test_currencies_are_kept_apart() -> None:
    txns = [
        Txn(date(2024, 1, 5), -1_000, "USD", "SHOP", None),
        Txn(date(2024, 3, 5), -700, "JPY", "SHOP", None),
        Txn(date(2024, 2, 5), 5_000, "EUR", "PAY", None),
    ]
    summaries = compute_summaries(txns, today=date(2024, 4, 1))
    assert list(summaries) == ["EUR", "JPY", "USD"]
    assert [(s.currency, s.income_minor, s.expenses_minor) for s in summaries.values()] == [
        ("EUR", 5_000, 0),
        ("JPY", 0, 700),
        ("USD", 0, 1_000),
    ]
    assert summaries["JPY"].first_date == date(2024, 3, 5)


def test_money_fields_refuse_floats() -> None:
    document = compute_summaries(BASIC, today=date(2024, 4, 20))["USD"].model_dump(mode="json")
    document["income_minor"] = 602_000.0
    with pytest.raises(pydantic.ValidationError):
        CurrencySummary.model_validate(document)


# --- generated data set vs. an independent re-computation -------------------------------------

CURRENCIES = ("USD", "EUR", "JPY")
SHOPS = [
    ("TESCO STORES 3017", "Groceries"),
    ("POS TESCO STORES 2041", "Groceries"),
    ("SQ *BLUE BOTTLE COFFEE", "Dining"),
    ("TST* JOE'S PIZZA 0042", "Dining"),
    ("VISA XXXX1234 SHELL OIL 57444300108 HOUSTON TX", "Transport"),
    ("UBER *EATS", None),
    ("CORNER SHOP", "  "),
    ("H&M 0457 LONDON", "Shopping"),
]
SUBSCRIPTION = "NETFLIX.COM 866-579-7172"
TWO_MONTHS_ONLY = "PUREGYM 4471"
JUMPING = "PAYPAL *SPOTIFY 4029357733"
REFUNDING = "AMAZON MKTPLACE 123456789"
PRICE_RISE = "DROPBOX*ABC123"


def shift_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def generate_currency(rng: random.Random, currency: str) -> list[Txn]:
    """12-20 months of activity: salary, shopping, refunds, a steady subscription over the first
    6+ months, one whose price rises 40% after 3 months, a 2-month gym and a charge that jumps
    30% every other month; a whole month or two after the sixth has no activity at all."""
    start = date(rng.choice((2022, 2023)), rng.randint(1, 12), 1)
    span = rng.randint(12, 20)
    quiet = set(rng.sample(range(7, span - 1), rng.randint(1, 2)))
    scale = 1 if currency == "JPY" else 3
    out: list[Txn] = []

    def add(first: date, amount: int, description: str, category: str | None) -> None:
        day = first + timedelta(days=rng.randint(0, 27))
        out.append(Txn(day, amount, currency, description, category, rng.choice(ACCOUNTS)))

    for position in range(span):
        if position in quiet:
            continue
        first = shift_months(start, position)
        add(first, rng.randint(100_000, 400_000) * scale, "ACME CORP PAYROLL 000123", "Salary")
        for _ in range(rng.randint(2, 9)):
            description, category = rng.choice(SHOPS)
            add(first, -rng.randint(1, 20_000) * scale, description, category)
        if rng.random() < 0.5:
            add(first, -rng.randint(500, 9_000), REFUNDING, "Shopping")
        if rng.random() < 0.3:
            add(first, rng.randint(100, 9_000), REFUNDING, "Shopping")  # a refund
        if position < 6 or rng.random() < 0.7:
            price = 1_599 + rng.randint(-60, 60)  # stays within 10% of any other month's
            if rng.random() < 0.2:  # split over two charges in the month
                add(first, -1_000, SUBSCRIPTION, "Subscriptions")
                price -= 1_000
            add(first, -price, SUBSCRIPTION, "Subscriptions")
        if position in (2, 3):
            add(first, -2_500, TWO_MONTHS_ONLY, "Health")
        add(first, -(999 if position % 2 else 1_299), JUMPING, "Subscriptions")
        if position < 6 or rng.random() < 0.5:  # two equally long steady runs, then maybe more
            add(first, -(499 if position < 3 else 699), PRICE_RISE, "Subscriptions")
    if rng.random() < 0.5:  # first activity on the 1st, so the first month is complete
        out.append(Txn(start, -rng.randint(1, 500), currency, "CORNER SHOP", None, "Savings"))
    return out


ACCOUNTS = ("default", "Checking", "Savings", "Joint card")


def generate_user(seed: int) -> list[Txn]:
    rng = random.Random(seed)
    currencies = rng.sample(CURRENCIES, rng.randint(1, 3))
    txns = [t for currency in currencies for t in generate_currency(rng, currency)]
    rng.shuffle(txns)
    return txns


# The reference: one plain loop per figure over the raw rows.


def ref_round(numerator: int, denominator: int) -> int:
    exact = Decimal(numerator) / Decimal(denominator)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def ref_category(t: Txn) -> str:
    if t.category is None or t.category.strip() == "":
        return "Uncategorized"
    return t.category.strip()


def ref_month(t: Txn) -> tuple[int, int]:
    return (t.date.year, t.date.month)


def ref_next(ym: tuple[int, int]) -> tuple[int, int]:
    return (ym[0] + 1, 1) if ym[1] == 12 else (ym[0], ym[1] + 1)


def ref_totals(rows: list[Txn]) -> tuple[int, int, int]:
    income = 0
    expenses = 0
    for t in rows:
        if t.amount_minor > 0:
            income += t.amount_minor
        if t.amount_minor < 0:
            expenses += -t.amount_minor
    return income, expenses, len(rows)


def ref_month_row(rows: list[Txn], ym: tuple[int, int]) -> JsonDict:
    income, expenses, count = ref_totals([t for t in rows if ref_month(t) == ym])
    return month(f"{ym[0]:04d}-{ym[1]:02d}", income, expenses, count)


def ref_average(rows: list[Txn], today: date) -> tuple[int | None, int]:
    first = min(t.date for t in rows)
    spent = 0
    complete = 0
    ym = ref_month(Txn(first, 0, "", "", None))
    while ym <= (today.year, today.month):
        month_start = date(ym[0], ym[1], 1)
        month_end = date(ym[0], ym[1], calendar.monthrange(*ym)[1])
        if month_start >= first and month_end < today:
            complete += 1
            spent += ref_totals([t for t in rows if ref_month(t) == ym])[1]
        ym = ref_next(ym)
    return (ref_round(spent, complete) if complete else None), complete


def ref_median(values: list[int]) -> int:
    ordered = sorted(values)
    if len(ordered) % 2 == 1:
        return ordered[len(ordered) // 2]
    return ref_round(ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2], 2)


def ref_recurring_one(name: str, rows: list[Txn]) -> JsonDict | None:
    per_month: dict[tuple[int, int], int] = {}
    last_charge: dict[tuple[int, int], date] = {}
    for t in rows:
        if t.amount_minor < 0:
            ym = ref_month(t)
            per_month[ym] = per_month.get(ym, 0) - t.amount_minor
            last_charge[ym] = max(last_charge.get(ym, t.date), t.date)
    months = sorted(per_month)
    best: list[tuple[int, int]] = []
    for i in range(len(months)):
        for j in range(i, len(months)):
            window = months[i : j + 1]
            if any(ref_next(a) != b for a, b in itertools.pairwise(window)):
                break
            amounts = [per_month[ym] for ym in window]
            steady = Fraction(max(amounts), min(amounts)) <= Fraction(11, 10)
            if steady and len(window) >= 3 and len(window) >= len(best):
                best = window
    if not best:
        return None
    return {
        "merchant": name,
        "typical_amount_minor": ref_median([per_month[ym] for ym in best]),
        "months": len(best),
        "last_date": last_charge[best[-1]].isoformat(),
    }


def ref_merchants(rows: list[Txn]) -> tuple[list[JsonDict], list[JsonDict]]:
    """(top_merchants, recurring)."""
    names = sorted({normalise_merchant(t.description) for t in rows} - {""})
    top: list[JsonDict] = []
    recurring: list[JsonDict] = []
    for name in names:
        at = [t for t in rows if normalise_merchant(t.description) == name]
        income, expenses, count = ref_totals(at)
        if expenses - income > 0:
            top.append({"merchant": name, "spend_minor": expenses - income, "count": count})
        charge = ref_recurring_one(name, at)
        if charge is not None:
            recurring.append(charge)
    top.sort(key=lambda row: (-row["spend_minor"], row["merchant"]))
    recurring.sort(key=lambda row: (-row["typical_amount_minor"], row["merchant"]))
    return top[:10], recurring


def ref_largest(rows: list[Txn]) -> JsonDict | None:
    spent = [t for t in rows if t.amount_minor < 0]
    if not spent:
        return None
    t = min(spent, key=lambda t: (t.amount_minor, t.date, t.description, ref_category(t)))
    return {
        "date": t.date.isoformat(),
        "amount_minor": -t.amount_minor,
        "description": t.description,
        "merchant": normalise_merchant(t.description),
        "category": ref_category(t),
    }


def ref_categories(rows: list[Txn]) -> list[JsonDict]:
    out: list[JsonDict] = []
    for name in sorted({ref_category(t) for t in rows}):
        income, expenses, count = ref_totals([t for t in rows if ref_category(t) == name])
        out.append({"category": name, "income_minor": income, "expenses_minor": expenses,
                    "net_minor": income - expenses, "count": count})  # fmt: skip
    out.sort(key=lambda row: -row["expenses_minor"])  # stable: names stay in order on ties
    return out


def reference_summary(txns: list[Txn], currency: str, today: date) -> JsonDict:
    rows = [t for t in txns if t.currency == currency]
    income, expenses, count = ref_totals(rows)
    first = min(t.date for t in rows)
    last = max(t.date for t in rows)
    monthly = []
    ym = (first.year, first.month)
    while ym <= (last.year, last.month):
        monthly.append(ref_month_row(rows, ym))
        ym = ref_next(ym)
    this_ym = (today.year, today.month)
    last_ym = (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)
    this_month, last_month = ref_month_row(rows, this_ym), ref_month_row(rows, last_ym)
    average, complete = ref_average(rows, today)
    top, recurring = ref_merchants(rows)
    # The same days of last month: 1st to today's day number, or to its end if shorter.
    same_days = [
        t for t in rows if (t.date.year, t.date.month) == last_ym and t.date.day <= today.day
    ]
    income_td, expenses_td, count_td = ref_totals(same_days)
    to_date = {"month": f"{last_ym[0]:04d}-{last_ym[1]:02d}", "income_minor": income_td,
               "expenses_minor": expenses_td, "net_minor": income_td - expenses_td,
               "count": count_td}  # fmt: skip
    change = None
    if expenses_td:
        delta = this_month["expenses_minor"] - expenses_td
        change = ref_round(delta * 10_000, expenses_td)
    return {
        "currency": currency,
        "as_of": today.isoformat(),
        "income_minor": income,
        "expenses_minor": expenses,
        "net_minor": income - expenses,
        "transaction_count": count,
        "first_date": first.isoformat(),
        "last_date": last.isoformat(),
        "by_category": ref_categories(rows),
        "monthly": monthly,
        "top_merchants": top,
        "avg_monthly_expense_minor": average,
        "complete_months": complete,
        "savings_rate_bp": ref_round((income - expenses) * 10_000, income) if income else None,
        "largest_expense": ref_largest(rows),
        "recurring": recurring,
        "this_month": this_month,
        "last_month": last_month,
        "last_month_to_date": to_date,
        "expenses_change_bp": change,
        "by_account": ref_accounts(rows),
    }


def ref_accounts(rows: list[Txn]) -> list[JsonDict]:
    out = []
    for name in sorted({t.account for t in rows}):
        income, expenses, count = ref_totals([t for t in rows if t.account == name])
        out.append(
            {
                "account": name,
                "income_minor": income,
                "expenses_minor": expenses,
                "net_minor": income - expenses,
                "count": count,
            }
        )
    return out


def todays_for(txns: list[Txn]) -> list[date]:
    first = min(t.date for t in txns)
    last = max(t.date for t in txns)
    return [
        last,  # inside the last month
        last + timedelta(days=1),
        shift_months(last, 1),  # the 1st of the month after the last
        shift_months(last, 4) + timedelta(days=9),  # quiet months after the data
        first + timedelta(days=95),  # in the middle of the data
        first - timedelta(days=3),  # before the data
    ]


USER_SEEDS = range(12)


@pytest.mark.parametrize("seed", USER_SEEDS)
def test_generated_users_match_the_reference(seed: int) -> None:
    txns = generate_user(seed)
    for today in todays_for(txns):
        summaries = compute_summaries(txns, today=today)
        assert list(summaries) == sorted({t.currency for t in txns})
        for currency, summary in summaries.items():
            actual = summary.model_dump(mode="json")
            expected = reference_summary(txns, currency, today)
            assert set(actual) == set(expected)
            for figure, value in expected.items():
                where = f"seed {seed}, {currency}, today {today}: {figure}"
                assert actual[figure] == value, where


def test_generated_data_exercises_recurring_and_near_misses() -> None:
    """Guards the data set itself: the subscription is found, the near misses never are, and
    gaps, refunds and all three currencies occur."""
    found: set[str] = set()
    currencies: set[str] = set()
    for seed in USER_SEEDS:
        txns = generate_user(seed)
        currencies |= {t.currency for t in txns}
        for summary in compute_summaries(txns, today=date(2030, 1, 1)).values():
            names = {charge.merchant for charge in summary.recurring}
            assert {"Netflix.com", "Dropbox"} <= names
            found |= names
            assert any(row.count == 0 for row in summary.monthly)  # a quiet month
    assert currencies == set(CURRENCIES)
    assert normalise_merchant(TWO_MONTHS_ONLY) not in found
    assert normalise_merchant(JUMPING) not in found


# --- JSON and determinism ---------------------------------------------------------------------


def contains_float(value: object) -> bool:
    if isinstance(value, dict):
        return any(contains_float(item) for item in value.values())
    if isinstance(value, list):
        return any(contains_float(item) for item in value)
    return isinstance(value, float)


@pytest.mark.parametrize("seed", range(4))
def test_json_round_trip(seed: int) -> None:
    txns = generate_user(seed) + RECURRING + BASIC
    for summary in compute_summaries(txns, today=date(2024, 5, 17)).values():
        document = summary.model_dump(mode="json")
        text = json.dumps(document)
        assert not contains_float(json.loads(text))
        assert CurrencySummary.model_validate(json.loads(text)) == summary
        assert CurrencySummary.model_validate_json(summary.model_dump_json()) == summary


def test_equal_inputs_give_byte_equal_json() -> None:
    txns = generate_user(99) + RECURRING
    today = date(2024, 5, 17)

    def render(rows: list[Txn]) -> str:
        summaries = compute_summaries(rows, today=today)
        return json.dumps({c: s.model_dump(mode="json") for c, s in summaries.items()})

    expected = render(txns)
    shuffled = list(txns)
    for attempt in range(3):
        random.Random(attempt).shuffle(shuffled)
        assert render(shuffled) == expected
    assert render(list(reversed(txns))) == expected


def test_the_readme_explains_every_figure() -> None:
    """Each field of a currency's summary (and of the nested shapes) is named in the README's
    section on the summary's units, so a new figure cannot ship undocumented."""
    from pathlib import Path

    from core.summary import shapes

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    start = readme.index("### The summary's figures and their units")
    section = readme[start : readme.index("\n### ", start + 1)]
    assert "basis points" in section
    assert "minor units" in section
    models: list[type[pydantic.BaseModel]] = [
        shapes.CurrencySummary,
        shapes.CategoryTotals,
        shapes.AccountTotals,
        shapes.MonthTotals,
        shapes.MerchantSpend,
        shapes.LargestExpense,
        shapes.RecurringCharge,
    ]
    named = {name for model in models for name in model.model_fields}
    named -= {"currency", "category", "account", "merchant", "description"}  # plain labels
    missing = sorted(name for name in named if f"`{name}`" not in section)
    assert missing == []
