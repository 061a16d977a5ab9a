"""Accounts: every transaction belongs to one of its user's accounts (a default one when none is
named); duplicate detection of uploaded rows is per account; the summary breaks down by account.

Issue 14: a checking and a savings export that both hold `2025-01-31,Monthly account fee,-5.00`
stored one fee, since duplicates were detected per user.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.queue import ClaimedJob
from functions.financial_summary import FinancialSummaryJob
from tests.api.conftest import ALICE, BOB, bearer
from tests.api.test_upload import upload
from tests.conftest import clear_caches
from tests.support import World, make_world

PATH = "/api/transactions"
FEE_CSV = b"Date,Description,Amount\n2025-01-31,Monthly account fee,-5.00\n"
CORPUS = Path(__file__).parents[1] / "core" / "writes" / "statements" / "corpus" / "good"


@pytest.fixture(params=["postgres", "sqlite"])
def world(
    request: pytest.FixtureRequest, app_env: dict[str, str], env: pytest.MonkeyPatch
) -> World:
    """Every test here on Postgres (COPY path) and on SQLite (chunked inserts) alike."""
    if request.param == "sqlite":
        env.setenv("DATABASE_URL", request.getfixturevalue("sqlite_url"))
        clear_caches()
    return make_world()


def accounts_of(world: World, user: str = ALICE) -> list[tuple[str, int]]:
    """(account name, its transaction count) of `user`, by name."""
    rows = world.rows(
        "SELECT a.name, count(t.id) FROM accounts a LEFT JOIN transactions t"
        " ON t.account_id = a.id WHERE a.user_id = :u GROUP BY a.name ORDER BY a.name",
        u=user,
    )
    return [(str(name), int(count)) for name, count in rows]


def test_the_same_fee_in_two_accounts_is_two_rows(client: TestClient, world: World) -> None:
    checking = upload(client, FEE_CSV, "checking.csv", account="Checking")
    savings = upload(client, FEE_CSV, "savings.csv", account="Savings")

    assert checking.status_code == 201, checking.text
    assert savings.status_code == 201, savings.text
    assert (checking.json()["imported"], savings.json()["imported"]) == (1, 1)
    assert accounts_of(world) == [("Checking", 1), ("Savings", 1)]


def test_the_same_file_to_the_same_account_again_imports_nothing(
    client: TestClient, world: World
) -> None:
    assert upload(client, FEE_CSV, account="Checking").json()["imported"] == 1

    again = upload(client, FEE_CSV, account="Checking")

    assert again.status_code == 201, again.text
    assert (again.json()["imported"], again.json()["skipped"]) == (0, 1)
    assert accounts_of(world) == [("Checking", 1)]


def test_an_upload_naming_no_account_goes_to_the_default_one(
    client: TestClient, world: World
) -> None:
    first = upload(client, FEE_CSV)
    second = upload(client, FEE_CSV, account="")  # a form's empty field is no name

    assert first.status_code == 201, first.text
    assert first.json()["accounts"] == ["default"]
    assert second.json()["imported"] == 0
    assert accounts_of(world) == [("default", 1)]


def test_identical_rows_inside_one_file_are_all_kept(client: TestClient, world: World) -> None:
    data = FEE_CSV + b"2025-01-31,Monthly account fee,-5.00\n"

    response = upload(client, data, account="Checking")

    assert response.status_code == 201, response.text
    assert response.json()["imported"] == 2
    assert accounts_of(world) == [("Checking", 2)]


def test_an_ofx_statement_files_its_rows_under_its_acctid(client: TestClient, world: World) -> None:
    data = (CORPUS / "ofx1_sgml_checking.ofx").read_bytes()

    response = upload(client, data, "checking.ofx")

    assert response.status_code == 201, response.text
    assert response.json()["accounts"] == ["000123456789"]
    assert accounts_of(world) == [("000123456789", response.json()["imported"])]


def test_the_form_account_wins_over_the_ofx_acctid(client: TestClient, world: World) -> None:
    data = (CORPUS / "ofx1_sgml_checking.ofx").read_bytes()

    response = upload(client, data, "checking.ofx", account="Checking")

    assert response.status_code == 201, response.text
    assert response.json()["accounts"] == ["Checking"]
    assert [name for name, _ in accounts_of(world)] == ["Checking"]


def test_an_unusable_account_name_is_refused_and_writes_nothing(
    client: TestClient, world: World
) -> None:
    response = upload(client, FEE_CSV, account="x" * 101)

    assert response.status_code == 422, response.text
    assert "account" in response.text
    assert world.scalar("SELECT count(*) FROM transactions") == 0


def post(client: TestClient, body: object, user: str = ALICE) -> Any:
    return client.post(PATH, headers=bearer(user), json=body)


def txn(**fields: Any) -> dict[str, Any]:
    return {"date": "2025-01-31", "amount": "-5.00", "currency": "USD", **fields}


def test_post_takes_an_account_and_get_returns_and_filters_by_it(
    client: TestClient, world: World
) -> None:
    made = post(client, [txn(account="Savings"), txn(), txn(account=" Savings ")])

    assert made.status_code == 201, made.text
    assert [item["account"] for item in made.json()] == ["Savings", "default", "Savings"]
    single = post(client, txn(account="Checking"))
    assert single.status_code == 201, single.text
    assert single.json()["account"] == "Checking"

    listed = client.get(PATH, headers=bearer(ALICE)).json()["items"]
    assert sorted(item["account"] for item in listed) == [
        "Checking",
        "Savings",
        "Savings",
        "default",
    ]
    savings = client.get(PATH, headers=bearer(ALICE), params={"account": "Savings"}).json()
    assert [item["account"] for item in savings["items"]] == ["Savings", "Savings"]
    none = client.get(PATH, headers=bearer(ALICE), params={"account": "Nowhere"}).json()
    assert none["items"] == []


def test_accounts_are_per_user(client: TestClient, world: World) -> None:
    assert post(client, txn(account="Savings")).status_code == 201
    assert post(client, txn(account="Savings"), user=BOB).status_code == 201

    assert accounts_of(world, ALICE) == [("Savings", 1)]
    assert accounts_of(world, BOB) == [("Savings", 1)]
    bobs = client.get(PATH, headers=bearer(BOB), params={"account": "Savings"}).json()
    assert len(bobs["items"]) == 1


def test_a_bad_account_name_in_a_post_is_422(client: TestClient, world: World) -> None:
    for name in ("x" * 101, "a\x00b", "   "):
        response = post(client, txn(account=name))

        assert response.status_code == 422, (name, response.text)
        assert "account" in response.text
    assert world.scalar("SELECT count(*) FROM transactions") == 0


def _recompute(world: World, user: str) -> None:
    FinancialSummaryJob().run([ClaimedJob(user, 1)], world.context())


def test_the_summary_breaks_figures_down_per_account(client: TestClient, world: World) -> None:
    rows = [
        txn(account="Checking", amount="2000.00"),
        txn(account="Checking", amount="-30.00"),
        txn(account="Savings", amount="-5.00"),
        txn(amount="-1.00"),
    ]
    assert post(client, rows).status_code == 201
    _recompute(world, ALICE)

    usd = client.get("/api/summary", headers=bearer(ALICE)).json()["currencies"]["USD"]

    assert (usd["income_minor"], usd["expenses_minor"], usd["transaction_count"]) == (
        200000,
        3600,
        4,
    )
    assert usd["by_account"] == [
        {
            "account": "Checking",
            "income_minor": 200000,
            "expenses_minor": 3000,
            "net_minor": 197000,
            "count": 2,
        },
        {
            "account": "Savings",
            "income_minor": 0,
            "expenses_minor": 500,
            "net_minor": -500,
            "count": 1,
        },
        {
            "account": "default",
            "income_minor": 0,
            "expenses_minor": 100,
            "net_minor": -100,
            "count": 1,
        },
    ]
    assert sum(a["net_minor"] for a in usd["by_account"]) == usd["net_minor"]
