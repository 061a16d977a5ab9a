"""The rollup cells every write keeps current give, after every step, the summary a full
recomputation from the rows gives: random creates, edits (amount, date across months, currency,
category, description), deletes and uploads, on Postgres and on SQLite.

`make test` runs a bounded number of examples; `make property` runs the long profile
(HYPOTHESIS_PROFILE=long: thousands of steps).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session

from core.base.db import make_engine
from core.base.settings import Settings
from core.summary.cells import summaries_from_rows
from core.summary.figures import compute_summaries
from core.summary.rollups import drift
from core.summary.shapes import Txn
from core.writes import transactions
from core.writes.transactions import TransactionCreate, TransactionUpdate
from core.writes.uploads import import_statement
from functions.financial_summary.read import last_month, stream_cells

settings.register_profile("long", max_examples=400, stateful_step_count=50)
settings.register_profile("bounded", max_examples=25)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "bounded"))
STEPS = 40 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 8

TODAY = dt.date(2025, 3, 14)
DATES = st.dates(dt.date(2024, 12, 1), dt.date(2025, 3, 31))
AMOUNTS = st.integers(-20_000, 20_000)
CURRENCIES = st.sampled_from(["USD", "EUR"])  # same exponent: a currency edit keeps the amount
DESCRIPTIONS = st.sampled_from(["COFFEE HOUSE 12", "Coffee House #99", "RENT", "", "1234"])
CATEGORIES = st.sampled_from([None, "Dining", "dining", "Rent", " Rent "])
ACCOUNTS = st.sampled_from([None, "Savings", "Card"])


@dataclass(frozen=True)
class Create:
    date: dt.date
    amount: int
    currency: str
    description: str
    category: str | None
    account: str | None


@dataclass(frozen=True)
class Edit:
    pick: int
    date: dt.date | None
    amount: int | None
    currency: str | None
    category: str | None


@dataclass(frozen=True)
class Delete:
    pick: int


@dataclass(frozen=True)
class Upload:
    rows: tuple[tuple[dt.date, int, str], ...]
    account: str | None


creates = st.builds(Create, DATES, AMOUNTS, CURRENCIES, DESCRIPTIONS, CATEGORIES, ACCOUNTS)
edits = st.builds(
    Edit,
    st.integers(0, 1000),
    st.none() | DATES,
    st.none() | AMOUNTS,
    st.none() | CURRENCIES,
    st.none() | CATEGORIES,
)
uploads = st.builds(
    Upload,
    st.lists(st.tuples(DATES, AMOUNTS, DESCRIPTIONS), min_size=1, max_size=6).map(tuple),
    ACCOUNTS,
)
steps = st.lists(
    st.one_of(creates, creates, edits, st.builds(Delete, st.integers(0, 1000)), uploads),
    min_size=1,
    max_size=STEPS,
)


def _decimal(minor: int) -> str:
    return str(Decimal(minor).scaleb(-2))


def _apply(session: Session, user: str, step: object, settings_: Settings) -> None:
    ids = [
        int(i)
        for (i,) in session.execute(
            sa.text("SELECT id FROM transactions WHERE user_id = :u ORDER BY id"), {"u": user}
        )
    ]
    if isinstance(step, Create):
        item = TransactionCreate(
            date=step.date,
            amount=_decimal(step.amount),
            currency=step.currency,
            description=step.description,
            category=step.category,
            account=step.account,
        )
        transactions.create(session, user, [item])
    elif isinstance(step, Edit) and ids:
        changes: dict[str, object] = {}
        if step.date is not None:
            changes["date"] = step.date
        if step.amount is not None:
            changes["amount"] = _decimal(step.amount)
        if step.currency is not None:
            changes["currency"] = step.currency
        if step.category is not None:
            changes["category"] = step.category
        if changes:
            transactions.update(
                session, user, ids[step.pick % len(ids)], TransactionUpdate(**changes)
            )
    elif isinstance(step, Delete) and ids:
        transactions.delete(session, user, ids[step.pick % len(ids)])
    elif isinstance(step, Upload):
        lines = ["Date,Description,Amount"]
        lines += [f"{d.isoformat()},{text or 'x'},{_decimal(a)}" for d, a, text in step.rows]
        data = ("\n".join(lines) + "\n").encode()
        import_statement(
            session, user, data, "s.csv", settings_, currency="USD", account=step.account
        )
    session.commit()


def _from_rows(session: Session, user: str) -> dict[str, object]:
    rows = session.execute(
        sa.text(
            "SELECT t.date, t.amount_minor, t.currency, t.description, t.category, a.name "
            "FROM transactions t JOIN accounts a ON a.id = t.account_id WHERE t.user_id = :u"
        ),
        {"u": user},
    )
    txns = [
        Txn(
            d if isinstance(d, dt.date) else dt.date.fromisoformat(d),
            int(amount),
            currency,
            text or "",
            category,
            name,
        )
        for d, amount, currency, text, category, name in rows
    ]
    return {c: s.model_dump() for c, s in compute_summaries(txns, today=TODAY).items()}


def _from_cells(session: Session, user: str) -> dict[str, object]:
    previous = last_month(session, [user], TODAY)[user]
    cells = [cell for _, found in stream_cells(session, [user], 1000) for cell in found]
    return {c: s.model_dump() for c, s in summaries_from_rows(cells, previous).items()}


@pytest.fixture(params=["postgres", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    url = request.getfixturevalue(f"{request.param}_url")
    engine = make_engine(url)
    yield engine
    engine.dispose()


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps)
def test_the_cells_give_the_rows_summary_after_every_step(
    engine: Engine, plan: list[object]
) -> None:
    user = f"prop-{uuid.uuid4().hex[:10]}"
    settings_ = Settings(_env_file=None, database_url="sqlite://")
    with Session(engine) as session:
        for step in plan:
            _apply(session, user, step, settings_)
            assert _from_cells(session, user) == _from_rows(session, user), step
            assert drift(session, user) == []
