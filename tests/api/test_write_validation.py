"""Write-time checks that keep every stored amount meaning what the user meant, and summable.

- A currency change without an amount must not re-read the stored minor units in another
  currency's exponent (-12.34 USD silently became -1234 JPY).
- |amount| <= 10^12 - 1 minor units, through the JSON API and uploads alike, so that a user's
  sums fit the 64-bit columns (ten large CLF amounts used to kill a summary for good).
- Only ASCII digits: full-width "\uff11\uff12\uff13" (123) read as 123.00.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from core.writes.statements import MAX_ABS_MINOR, parse_amount, parse_date
from tests.api.conftest import ALICE, bearer, data_version, db_state
from tests.support import World

PATH = "/api/transactions"
UPLOAD = "/api/transactions/upload"


def post(client: TestClient, body: object) -> Response:
    response: Response = client.post(PATH, headers=bearer(ALICE), json=body)
    return response


def txn(**fields: Any) -> dict[str, Any]:
    return {"date": "2024-03-15", "amount": "-12.34", "currency": "USD"} | fields


def messages(response: Response) -> str:
    detail = response.json()["detail"]
    if isinstance(detail, str):
        return detail + " " + " ".join(str(e) for e in response.json().get("errors", []))
    return " | ".join(str(problem["msg"]) for problem in detail)


def upload(client: TestClient, csv: str) -> Response:
    response: Response = client.post(
        UPLOAD,
        headers=bearer(ALICE),
        files={"file": ("statement.csv", csv.encode(), "text/csv")},
        data={"currency": "USD"},
    )
    return response


# --- currency without an amount --------------------------------------------------------------


def test_a_currency_change_that_would_change_the_amount_is_422_saying_why(
    client: TestClient, world: World
) -> None:
    created = post(client, txn())
    assert created.status_code == 201, created.text
    url = f"{PATH}/{created.json()['id']}"
    before, version = db_state(world), data_version(world, ALICE)

    response = client.patch(url, headers=bearer(ALICE), json={"currency": "JPY"})

    assert response.status_code == 422, response.text
    text = messages(response)
    assert "-12.34 USD" in text, text
    assert "-1,234 JPY" in text, text
    assert "send the amount" in text, text
    assert db_state(world) == before
    assert data_version(world, ALICE) == version


def test_a_currency_change_with_the_amount_or_the_same_exponent_is_accepted(
    client: TestClient,
) -> None:
    first = post(client, txn()).json()
    second = post(client, txn()).json()

    both = client.patch(
        f"{PATH}/{first['id']}", headers=bearer(ALICE), json={"currency": "JPY", "amount": "-1234"}
    )
    euro = client.patch(f"{PATH}/{second['id']}", headers=bearer(ALICE), json={"currency": "EUR"})

    assert both.status_code == 200, both.text
    assert (both.json()["amount"], both.json()["currency"]) == ("-1234", "JPY")
    assert euro.status_code == 200, euro.text
    assert (euro.json()["amount"], euro.json()["currency"]) == ("-12.34", "EUR")


# --- bounds ----------------------------------------------------------------------------------

LARGEST = [
    ("9999999999.99", "USD"),
    ("-9999999999.99", "USD"),
    ("999999999999", "JPY"),
    ("99999999.9999", "CLF"),
    (MAX_ABS_MINOR, "USD"),
    (-MAX_ABS_MINOR, "KWD"),
]
TOO_LARGE = [
    ("10000000000.00", "USD"),
    ("-10000000000", "USD"),
    ("1000000000000", "JPY"),
    ("99999999999999.9999", "CLF"),  # accepted before: ten of them overflowed the summary
    (MAX_ABS_MINOR + 1, "USD"),
    (-(MAX_ABS_MINOR + 1), "USD"),
]


def test_amounts_are_bounded_so_every_sum_fits(client: TestClient, world: World) -> None:
    assert MAX_ABS_MINOR == 10**12 - 1
    accepted = post(client, [txn(amount=a, currency=c) for a, c in LARGEST])
    assert accepted.status_code == 201, accepted.text

    for amount, currency in TOO_LARGE:
        response = post(client, txn(amount=amount, currency=currency))

        assert response.status_code == 422, (amount, response.text)
        assert "too large" in messages(response), (amount, messages(response))
        assert "999,999,999,999 minor units" in messages(response), messages(response)
    assert world.scalar("SELECT count(*) FROM transactions") == len(LARGEST)


def test_a_patch_is_bounded_too(client: TestClient) -> None:
    row = post(client, txn()).json()

    response = client.patch(
        f"{PATH}/{row['id']}", headers=bearer(ALICE), json={"amount": MAX_ABS_MINOR + 1}
    )

    assert response.status_code == 422, response.text
    assert "too large" in messages(response)


def test_an_upload_with_a_too_large_amount_names_its_line_and_writes_nothing(
    client: TestClient, world: World
) -> None:
    csv = (
        "Date,Description,Amount\n"
        "2025-01-30,Coffee,-3.50\n"
        '2025-01-31,Lottery,"10,000,000,000.00"\n'
        "2025-02-01,Rent,-900.00\n"
    )

    response = upload(client, csv)

    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["line"] for e in errors] == [3], errors
    assert "too large" in errors[0]["reason"], errors
    assert world.scalar("SELECT count(*) FROM transactions") == 0


# --- ASCII digits only -----------------------------------------------------------------------

NOT_ASCII = [
    "\uff11\uff12\uff13",  # full-width 123
    "\uff11\uff12.\uff13\uff14",
    "-\uff11\uff12\uff13.\uff10\uff10",
    "\u0661\u0662\u0663",  # Arabic-Indic
    "\u0967\u0968\u0969",  # Devanagari
    "12.3\uff14",
    "\u00b23",  # superscript two
]


def test_json_amounts_must_be_ascii_digits(client: TestClient, world: World) -> None:
    for amount in NOT_ASCII:
        response = post(client, txn(amount=amount))

        assert response.status_code == 422, (amount, response.text)
        assert "0-9" in messages(response), (amount, messages(response))
    assert world.scalar("SELECT count(*) FROM transactions") == 0


def test_uploaded_amounts_and_dates_must_be_ascii_digits(client: TestClient, world: World) -> None:
    csv = (
        "Date,Description,Amount\n"
        "2025-01-30,Coffee,\uff11\uff12\uff13.\uff10\uff10\n"
        "\uff12\uff10\uff12\uff15-01-31,Rent,-900.00\n"
        "2025-02-01,Books,-1\u0662.00\n"
    )

    response = upload(client, csv)

    assert response.status_code == 422, response.text
    lines = sorted(e["line"] for e in response.json()["errors"])
    assert lines == [2, 3, 4], response.json()
    assert world.scalar("SELECT count(*) FROM transactions") == 0


@pytest.mark.parametrize("text", NOT_ASCII)
def test_the_amount_parser_refuses_other_digits(text: str) -> None:
    with pytest.raises(ValueError, match="0-9"):
        parse_amount(text, "USD")


@pytest.mark.parametrize(
    "text", ["\uff12\uff10\uff12\uff15-01-31", "2025-01-\u0663\u0661", "0\uff11/05/2025"]
)
def test_the_date_parser_refuses_other_digits(text: str) -> None:
    with pytest.raises(ValueError, match="0-9"):
        parse_date(text)
