"""The transactions JSON API: validation, filters and pages, edits, and the write-path contract.

The contract (DESIGN, data flow 1): every change writes its rows, bumps `data_version` and marks
the summary dirty in ONE database transaction, commits, then enqueues the user with ONE Upstash
request; an unreachable queue never fails the request.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from api._http.limits import JSON_BODY_MAX_BYTES
from core.queue import JobQueue
from tests.api.conftest import (
    ALICE,
    SqlLog,
    bearer,
    clear_queue,
    data_version,
    db_state,
    dirty_since,
    pending_ids,
    upstash_requests,
    warm_queue,
)
from tests.conftest import UpstashHandle
from tests.support import World

PATH = "/api/transactions"


def txn(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"date": "2024-03-15", "amount": "-12.34", "currency": "USD"}
    body.update(fields)
    return body


def post(client: TestClient, body: object, user: str = ALICE) -> Response:
    response: Response = client.post(PATH, headers=bearer(user), json=body)
    return response


def create(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = post(client, txn(**fields))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def messages(response: Response) -> str:
    """Every validation message of a 422, as one string to search."""
    detail = response.json()["detail"]
    if isinstance(detail, str):
        return detail
    return " | ".join(str(error.get("msg", "")) for error in detail)


def count_rows(world: World) -> int:
    return int(world.scalar("SELECT count(*) FROM transactions"))


# --- Creating: amounts, currencies, dates, text --------------------------------------------------

GOOD_AMOUNTS: list[tuple[object, str, int, str]] = [
    ("-12.34", "USD", -1234, "-12.34"),
    ("12.3", "USD", 1230, "12.30"),
    ("+7", "EUR", 700, "7.00"),
    ("0.10", "GBP", 10, "0.10"),
    ("12.340", "USD", 1234, "12.34"),
    (" -5.00 ", "USD", -500, "-5.00"),
    (-1234, "USD", -1234, "-12.34"),
    (5, "USD", 5, "0.05"),
    (0, "USD", 0, "0.00"),
    ("1500", "JPY", 1500, "1500"),
    (1500, "JPY", 1500, "1500"),
    ("-1.234", "KWD", -1234, "-1.234"),
    ("9999999999.99", "USD", 999_999_999_999, "9999999999.99"),  # the largest (MAX_ABS_MINOR)
]


def test_amounts_as_decimal_strings_or_integer_minor_units(
    client: TestClient, world: World
) -> None:
    rows = [txn(amount=amount, currency=currency) for amount, currency, _, _ in GOOD_AMOUNTS]

    response = post(client, rows)

    assert response.status_code == 201, response.text
    got = [(i["amount_minor"], i["amount"], i["currency"]) for i in response.json()]
    assert got == [(minor, shown, currency) for _, currency, minor, shown in GOOD_AMOUNTS]
    stored = world.rows("SELECT amount_minor, currency FROM transactions ORDER BY id")
    assert stored == [(minor, currency) for _, currency, minor, _ in GOOD_AMOUNTS]


def test_float_amounts_are_refused_with_a_clear_message(client: TestClient, world: World) -> None:
    for amount in (12.5, -0.1, 12.0, 1e3):
        response = post(client, txn(amount=amount))

        assert response.status_code == 422, amount
        text = messages(response)
        assert "decimal string" in text, (amount, text)
        assert "binary floats lose cents" in text, (amount, text)
    assert count_rows(world) == 0


BAD_AMOUNTS: list[tuple[object, str, str]] = [
    ("12.345", "USD", "more decimals than USD"),
    ("12.5", "JPY", "more decimals than JPY"),
    ("1e3", "USD", "not a decimal number"),
    ("1,234.00", "USD", "not a decimal number"),
    ("$12", "USD", "not a decimal number"),
    ("", "USD", "not a decimal number"),
    ("NaN", "USD", "not a decimal number"),
    ("123456789012345", "USD", "not a decimal number"),
    (10**17, "USD", "too large"),
    (-(10**17), "USD", "too large"),
    (10**30, "USD", "too large"),
]


def test_bad_amounts_are_422_with_the_reason(client: TestClient, world: World) -> None:
    for amount, currency, reason in BAD_AMOUNTS:
        response = post(client, txn(amount=amount, currency=currency))

        assert response.status_code == 422, (amount, response.text)
        assert reason in messages(response), (amount, messages(response))
    assert count_rows(world) == 0


def test_amounts_of_the_wrong_json_type_are_422_on_the_amount(
    client: TestClient, world: World
) -> None:
    for amount in (True, None, [1], {"value": 1}):
        response = post(client, txn(amount=amount))

        assert response.status_code == 422, (amount, response.text)
        locations = [error["loc"] for error in response.json()["detail"]]
        assert any("amount" in loc for loc in locations), locations
    assert count_rows(world) == 0


def test_currency_is_validated_and_normalised(client: TestClient, world: World) -> None:
    for currency, reason in [
        ("XYZ", "ISO 4217"),
        ("US", "at least 3"),
        ("DOLLARS", "at most 3"),
        ("", "at least 3"),
        ("12$", "ISO 4217"),
    ]:
        response = post(client, txn(currency=currency))

        assert response.status_code == 422, currency
        assert reason in messages(response), (currency, messages(response))
    assert count_rows(world) == 0
    assert create(client, currency=" usd ")["currency"] == "USD"


def test_impossible_or_out_of_range_dates_are_422(client: TestClient, world: World) -> None:
    for date in ("2024-02-30", "2023-02-29", "2024-13-01", "15/03/2024", "", "1899-12-31",
                 "2101-01-01", 20240101):  # fmt: skip
        response = post(client, txn(date=date))

        assert response.status_code == 422, (date, response.text)
    assert count_rows(world) == 0
    assert create(client, date="2024-02-29")["date"] == "2024-02-29"


def test_text_lengths_and_unknown_fields(client: TestClient, world: World) -> None:
    refused: list[dict[str, Any]] = [
        {"description": "d" * 501},
        {"category": "c" * 101},
        {"category": ""},
        {"category": "   "},
        {"unknown": "field"},
        {"amount_minor": 5},
        {"user_id": "user-bob"},
    ]
    for fields in refused:
        response = post(client, txn(**fields))

        assert response.status_code == 422, (fields, response.text)
    assert count_rows(world) == 0

    accepted = post(
        client,
        [
            txn(description="d" * 500),
            txn(category="c" * 100),
            txn(category=None),
            txn(description="  Caf\u00e9 \u2615  "),
        ],
    )
    assert accepted.status_code == 201, accepted.text
    assert world.rows("SELECT length(description), category FROM transactions ORDER BY id") == [
        (500, None),
        (0, "c" * 100),
        (0, None),
        (6, None),
    ]


def test_missing_required_fields_are_named(client: TestClient) -> None:
    response = post(client, {"description": "no date, amount or currency"})

    assert response.status_code == 422
    missing = {
        error["loc"][-1] for error in response.json()["detail"] if error["type"] == "missing"
    }
    assert {"date", "amount", "currency"} <= missing


# --- Creating many -------------------------------------------------------------------------------


def batch(count: int) -> list[dict[str, Any]]:
    start = dt.date(2024, 1, 1)
    return [
        txn(
            date=(start + dt.timedelta(days=n % 300)).isoformat(),
            amount=f"-{n // 100}.{n % 100:02d}" if n % 3 else n,
            description=f"row {n:04d}",
            category=("Groceries", "Rent", None)[n % 3],
        )
        for n in range(count)
    ]


def test_list_of_1000_is_one_insert_and_one_version_bump(
    client: TestClient, world: World, sql_log: SqlLog
) -> None:
    rows = batch(1000)

    response = post(client, rows)

    assert response.status_code == 201, response.text
    created = response.json()
    assert [item["description"] for item in created] == [row["description"] for row in rows]
    assert len(sql_log.inserts_into("transactions")) == 1
    assert sql_log.commits == 1
    assert count_rows(world) == 1000
    assert data_version(world, ALICE) == 1


def test_list_of_1001_is_422_and_writes_nothing(client: TestClient, world: World) -> None:
    response = post(client, batch(1001))

    assert response.status_code == 422
    assert "1000" in messages(response)
    assert count_rows(world) == 0
    assert world.scalar("SELECT count(*) FROM users") == 0


def test_one_bad_item_rejects_the_whole_list(client: TestClient, world: World) -> None:
    rows = batch(5)
    rows[3]["amount"] = 1.5

    response = post(client, rows)

    assert response.status_code == 422
    locations = [error["loc"] for error in response.json()["detail"]]
    assert any(3 in loc and loc[-1] == "amount" for loc in locations), locations
    assert count_rows(world) == 0


def test_json_body_over_the_limit_is_413_declared_or_streamed(
    client: TestClient, world: World
) -> None:
    rows = json.dumps(batch(1000)).encode()
    body = rows[:-1] + b" " * (JSON_BODY_MAX_BYTES - len(rows) + 1) + b"]"  # valid JSON
    assert len(body) > JSON_BODY_MAX_BYTES
    headers = bearer(ALICE) | {"Content-Type": "application/json"}

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    declared = client.post(PATH, headers=headers, content=body)
    streamed = client.post(PATH, headers=headers, content=chunks())

    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert "larger than the limit" in response.json()["detail"]
    assert count_rows(world) == 0


def test_empty_list_is_422(client: TestClient) -> None:
    assert post(client, []).status_code == 422


def test_an_object_answers_an_object_and_a_list_a_list(client: TestClient) -> None:
    one = post(client, txn())
    many = post(client, [txn()])

    assert isinstance(one.json(), dict)
    assert isinstance(many.json(), list)
    assert len(many.json()) == 1


# --- Listing: filters and pages ------------------------------------------------------------------


@pytest.fixture
def ledger(client: TestClient) -> dict[str, int]:
    """Alice's rows, by description, for the filter tests."""
    rows = [
        txn(date="2024-01-05", description="Salary ACME", category="Salary", amount="2500.00"),
        txn(date="2024-01-10", description="100% Juice Bar", category="Dining"),
        txn(date="2024-01-10", description="100 Juice Bar", category="Dining"),
        txn(date="2024-02-01", description="rent_feb", category="Rent"),
        txn(date="2024-02-01", description="rent-feb", category="Rent"),
        txn(date="2024-02-14", description="Back\\slash shop", category=None),
        txn(date="2024-03-01", description="TESCO STORES 3017", category="Groceries"),
    ]
    response = post(client, rows)
    assert response.status_code == 201, response.text
    return {item["description"]: item["id"] for item in response.json()}


def listing(client: TestClient, **params: str) -> list[str]:
    response = client.get(PATH, headers=bearer(ALICE), params=params)
    assert response.status_code == 200, response.text
    return [item["description"] for item in response.json()["items"]]


def test_newest_first_with_ties_broken_by_id(client: TestClient, ledger: dict[str, int]) -> None:
    assert listing(client) == [
        "TESCO STORES 3017",
        "Back\\slash shop",
        "rent-feb",
        "rent_feb",
        "100 Juice Bar",
        "100% Juice Bar",
        "Salary ACME",
    ]


FILTERS: list[tuple[dict[str, str], list[str]]] = [
    ({"from": "2024-02-01"}, ["TESCO STORES 3017", "Back\\slash shop", "rent-feb", "rent_feb"]),
    ({"to": "2024-01-10"}, ["100 Juice Bar", "100% Juice Bar", "Salary ACME"]),
    (
        {"from": "2024-01-10", "to": "2024-02-01"},
        [
            "rent-feb",
            "rent_feb",
            "100 Juice Bar",
            "100% Juice Bar",
        ],
    ),
    ({"from": "2024-03-02"}, []),
    ({"from": "2024-03-01", "to": "2024-01-01"}, []),
    ({"category": "Rent"}, ["rent-feb", "rent_feb"]),
    ({"category": "rent"}, []),
    ({"q": "juice"}, ["100 Juice Bar", "100% Juice Bar"]),
    ({"q": "TESCO stores"}, ["TESCO STORES 3017"]),
    ({"q": "%"}, ["100% Juice Bar"]),
    ({"q": "100%"}, ["100% Juice Bar"]),
    ({"q": "_"}, ["rent_feb"]),
    ({"q": "rent_"}, ["rent_feb"]),
    ({"q": "\\"}, ["Back\\slash shop"]),
    ({"q": "%%"}, []),
    ({"q": "nothing like it"}, []),
    ({"q": "bar", "category": "Dining", "to": "2024-01-31"}, ["100 Juice Bar", "100% Juice Bar"]),
]


def test_filters(client: TestClient, ledger: dict[str, int]) -> None:
    for params, expected in FILTERS:
        assert listing(client, **params) == expected, params


def test_bad_filters_are_422(client: TestClient) -> None:
    for params in (
        {"from": "2024-02-30"},
        {"to": "yesterday"},
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "ten"},
        {"q": "x" * 201},
        {"category": "c" * 101},
    ):
        response = client.get(PATH, headers=bearer(ALICE), params=params)

        assert response.status_code == 422, (params, response.text)


def test_cursor_pages_cover_every_row_once_in_a_stable_order(
    client: TestClient, ledger: dict[str, int]
) -> None:
    everything = listing(client)
    pages: list[list[str]] = []
    cursor: str | None = None

    while True:
        params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        page = client.get(PATH, headers=bearer(ALICE), params=params).json()
        pages.append([item["description"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert [len(page) for page in pages] == [3, 3, 1]
    assert [row for page in pages for row in page] == everything


def test_pages_stay_stable_while_rows_are_added(client: TestClient, ledger: dict[str, int]) -> None:
    first = client.get(PATH, headers=bearer(ALICE), params={"limit": "3"}).json()
    create(client, date="2024-12-31", description="newest, after page one")
    create(client, date="2024-01-10", description="same day as page two, higher id")

    second = client.get(
        PATH, headers=bearer(ALICE), params={"limit": "3", "cursor": first["next_cursor"]}
    ).json()

    # Page two continues after page one's last row: the newer row does not shift it, and the
    # row added on an older day appears in its place.
    assert [item["description"] for item in second["items"]] == [
        "rent_feb",
        "same day as page two, higher id",
        "100 Juice Bar",
    ]


def test_filters_hold_across_pages(client: TestClient, ledger: dict[str, int]) -> None:
    first = client.get(PATH, headers=bearer(ALICE), params={"limit": "1", "q": "juice"}).json()
    second = client.get(
        PATH,
        headers=bearer(ALICE),
        params={"limit": "1", "q": "juice", "cursor": first["next_cursor"]},
    ).json()

    assert [i["description"] for i in first["items"] + second["items"]] == [
        "100 Juice Bar",
        "100% Juice Bar",
    ]
    assert second["next_cursor"] is None


def test_invalid_cursor_is_422(client: TestClient, ledger: dict[str, int]) -> None:
    for cursor in (
        "garbage",
        "!!!!",
        "MjAyNC0wMS0wMQ==",  # a date without an id
        "bm90LWEtZGF0ZXwx",  # "not-a-date|1"
        "MjAyNC0wMS0wMXx4",  # "2024-01-01|x"
        "__8=",  # bytes that are not UTF-8
        "x" * 201,
    ):
        response = client.get(PATH, headers=bearer(ALICE), params={"cursor": cursor})

        assert response.status_code == 422, (cursor, response.text)


def test_forged_cursor_with_a_huge_id_is_not_a_server_error(
    client: TestClient, ledger: dict[str, int]
) -> None:
    for text in ("2024-02-01|99999999999999999999999", "2024-02-01|-99999999999999999999"):
        cursor = base64.urlsafe_b64encode(text.encode()).decode()

        response = client.get(PATH, headers=bearer(ALICE), params={"cursor": cursor})

        assert response.status_code in (200, 422), (text, response.text)


# --- Editing and deleting ------------------------------------------------------------------------


PATCHES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"amount": "-99.50"}, {"amount_minor": -9950, "amount": "-99.50"}),
    ({"amount": 4200}, {"amount_minor": 4200, "amount": "42.00"}),
    (
        {"amount": "1500", "currency": "JPY"},
        {"amount_minor": 1500, "amount": "1500", "currency": "JPY"},
    ),
    ({"currency": "eur"}, {"currency": "EUR", "amount_minor": -1234}),
    ({"date": "2023-12-31"}, {"date": "2023-12-31"}),
    ({"description": "  Renamed shop  "}, {"description": "Renamed shop"}),
    ({"category": "Dining"}, {"category": "Dining"}),
    ({"category": None}, {"category": None}),
    (
        {
            "date": "2024-01-02",
            "amount": "1.00",
            "currency": "GBP",
            "description": "All",
            "category": "Everything",
        },
        {
            "date": "2024-01-02",
            "amount_minor": 100,
            "amount": "1.00",
            "currency": "GBP",
            "description": "All",
            "category": "Everything",
        },
    ),
]


def test_patch_changes_the_fields_and_bumps_the_version(client: TestClient, world: World) -> None:
    for patch, expected in PATCHES:
        row = create(client, description="Shop", category="Groceries")
        version = data_version(world, ALICE) or 0

        response = client.patch(f"{PATH}/{row['id']}", headers=bearer(ALICE), json=patch)

        assert response.status_code == 200, (patch, response.text)
        body = response.json()
        assert {name: body[name] for name in expected} == expected, patch
        untouched = set(row) - set(expected) - {"updated_at"}
        assert {n: body[n] for n in untouched} == {n: row[n] for n in untouched}, patch
        assert dt.datetime.fromisoformat(body["updated_at"]) > dt.datetime.fromisoformat(
            row["updated_at"]
        )
        assert data_version(world, ALICE) == version + 1, patch
        stored = world.rows(
            "SELECT date, amount_minor, currency, description, category FROM transactions"
            " WHERE id = :id",
            id=row["id"],
        )
        assert [(d.isoformat(), *rest) for d, *rest in stored] == [
            (
                body["date"],
                body["amount_minor"],
                body["currency"],
                body["description"],
                body["category"],
            )
        ]


BAD_PATCHES: list[tuple[dict[str, Any], str]] = [
    ({}, "nothing to change"),
    ({"amount": 1.5}, "decimal string"),
    ({"amount": "12.345"}, "more decimals"),
    ({"amount": "12.5", "currency": "JPY"}, "more decimals than JPY"),
    ({"amount": 10**17}, "too large"),
    ({"currency": "XYZ"}, "ISO 4217"),
    ({"date": "2024-02-30"}, ""),
    ({"date": "1800-01-01"}, "outside"),
    ({"description": "d" * 501}, ""),
    ({"category": "c" * 101}, ""),
    ({"category": ""}, ""),
    ({"user_id": "user-bob"}, ""),
    ({"id": 1}, ""),
    ({"statement_id": 1}, ""),
    ({"date": None}, "null"),
    ({"amount": None}, "null"),
    ({"currency": None}, "null"),
    ({"description": None}, "null"),
]


def test_bad_patch_is_422_and_changes_nothing(
    client: TestClient, world: World, upstash: UpstashHandle
) -> None:
    row = create(client)
    clear_queue(upstash)
    before = db_state(world)

    for patch, reason in BAD_PATCHES:
        response = client.patch(f"{PATH}/{row['id']}", headers=bearer(ALICE), json=patch)

        assert response.status_code == 422, (patch, response.text)
        assert reason in messages(response), (patch, messages(response))
    assert db_state(world) == before
    assert upstash.keys() == []


def test_delete_is_204_then_404(client: TestClient, world: World) -> None:
    keep = create(client, description="keep")
    gone = create(client, description="gone")
    version = data_version(world, ALICE)

    first = client.delete(f"{PATH}/{gone['id']}", headers=bearer(ALICE))
    again = client.delete(f"{PATH}/{gone['id']}", headers=bearer(ALICE))
    edit = client.patch(f"{PATH}/{gone['id']}", headers=bearer(ALICE), json={"category": "x"})

    assert (first.status_code, first.content) == (204, b"")
    assert again.status_code == edit.status_code == 404
    assert data_version(world, ALICE) == (version or 0) + 1
    assert [item["id"] for item in client.get(PATH, headers=bearer(ALICE)).json()["items"]] == [
        keep["id"]
    ]


def test_non_integer_or_out_of_range_id_is_4xx(client: TestClient) -> None:
    for txn_id in ("abc", "1.5", "9223372036854775808", "-9223372036854775809", "0"):
        for method in ("PATCH", "DELETE"):
            response = client.request(
                method, f"{PATH}/{txn_id}", headers=bearer(ALICE), json={"category": "x"}
            )

            assert response.status_code in (404, 422), (method, txn_id, response.text)


# --- The write-path contract: one transaction, then one enqueue ----------------------------------

CSV = b"Date,Description,Amount\n2024-04-01,Bakery,-3.10\n2024-04-02,Bakery,-3.10\n"


def _post(client: TestClient, txn_id: int) -> Response:
    return post(client, [txn(description="a"), txn(description="b")])


def _patch(client: TestClient, txn_id: int) -> Response:
    response: Response = client.patch(
        f"{PATH}/{txn_id}", headers=bearer(ALICE), json={"amount": "-1.00"}
    )
    return response


def _delete(client: TestClient, txn_id: int) -> Response:
    response: Response = client.delete(f"{PATH}/{txn_id}", headers=bearer(ALICE))
    return response


def _upload(client: TestClient, txn_id: int) -> Response:
    response: Response = client.post(
        f"{PATH}/upload", headers=bearer(ALICE), files={"file": ("s.csv", CSV, "text/csv")}
    )
    return response


CHANGES: dict[str, tuple[Callable[[TestClient, int], Response], int]] = {
    "post": (_post, 201),
    "patch": (_patch, 200),
    "delete": (_delete, 204),
    "upload": (_upload, 201),
}


@pytest.mark.parametrize("change", list(CHANGES.values()), ids=list(CHANGES))
def test_every_change_commits_once_then_enqueues_with_one_request(
    change: tuple[Callable[[TestClient, int], Response], int],
    client: TestClient,
    world: World,
    upstash: UpstashHandle,
    sql_log: SqlLog,
    env: pytest.MonkeyPatch,
) -> None:
    call, status = change
    enqueue = JobQueue.enqueue

    def recorded(queue: JobQueue, *ids: str, sweep: bool = False) -> int:
        sql_log.events.append("enqueue")
        return enqueue(queue, *ids, sweep=sweep)

    env.setattr(JobQueue, "enqueue", recorded)
    row = create(client)
    # A summary computed from the current data: clean, so the change must mark it dirty again.
    with world.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE users SET summary_dirty_since = NULL")
    version = data_version(world, ALICE)
    warm_queue(world, upstash)
    requests = upstash_requests(upstash)
    sql_log.clear()

    response = call(client, row["id"])

    assert response.status_code == status, response.text
    assert (sql_log.begins, sql_log.commits) == (1, 1)
    assert sql_log.events == ["commit", "enqueue"]
    assert data_version(world, ALICE) == (version or 0) + 1
    assert dirty_since(world, ALICE) is not None
    assert upstash_requests(upstash) - requests == 1
    assert pending_ids(upstash) == [ALICE]


@pytest.mark.parametrize(
    "change",
    [CHANGES["post"][0], CHANGES["patch"][0], CHANGES["delete"][0]],
    ids=["post", "patch", "delete"],
)
def test_a_failed_version_bump_writes_nothing_and_enqueues_nothing(
    change: Callable[[TestClient, int], Response],
    client: TestClient,
    world: World,
    upstash: UpstashHandle,
    env: pytest.MonkeyPatch,
) -> None:
    row = create(client)
    clear_queue(upstash)
    before = db_state(world)

    def broken(*args: object) -> None:
        raise RuntimeError("the version bump failed")

    env.setattr("core.writes.transactions.mark_changed", broken)

    response = change(client, row["id"])

    assert response.status_code == 500
    assert db_state(world) == before
    assert upstash.keys() == []


def test_queue_down_still_commits_and_leaves_the_user_dirty(
    client: TestClient, world: World, upstash: UpstashHandle
) -> None:
    upstash.server.set_faults(error_rate=1.0)

    response = post(client, txn())

    assert response.status_code == 201, response.text
    assert count_rows(world) == 1
    assert data_version(world, ALICE) == 1
    assert dirty_since(world, ALICE) is not None
    upstash.server.clear_faults()
    assert pending_ids(upstash) == []


def test_a_second_change_while_pending_keeps_the_user_queued_once(
    client: TestClient, world: World, upstash: UpstashHandle
) -> None:
    create(client)
    create(client)

    assert pending_ids(upstash) == [ALICE]
    assert data_version(world, ALICE) == 2
