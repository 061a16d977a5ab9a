"""The error format: every 4xx/5xx is a JSON object, and a 422 names each problem once.

README, "Errors": `{"detail": "..."}` for every error, except request validation (422), whose
`detail` is a list with one entry per problem: `loc` (where, as FastAPI spells it), `field` (the
same path as text), `msg` (a sentence for a person) and `type` (a stable code).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.api.conftest import ALICE, bearer
from tests.support import World

PATH = "/api/transactions"
INTERNALS = ("function-after", "function-before", "list[", "TransactionCreate", "Value error,")


def raw_post(client: TestClient, body: bytes, path: str = PATH) -> Response:
    headers = bearer(ALICE) | {"Content-Type": "application/json"}
    response: Response = client.post(path, headers=headers, content=body)
    return response


def problems(response: Response) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/json", response.headers
    detail = response.json()["detail"]
    assert isinstance(detail, list), detail
    return detail


NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e309", "-1e309"]
PLACES = [
    '{{"date": "2024-01-01", "amount": {v}, "currency": "USD"}}',
    '{{"date": {v}, "amount": "1.00", "currency": "USD"}}',
    '{{"date": "2024-01-01", "amount": "1.00", "currency": "USD", "extra": {v}}}',
    '[{{"date": "2024-01-01", "amount": "1.00", "currency": "USD"}}, '
    '{{"date": "2024-01-01", "amount": {v}, "currency": "USD"}}]',
    '{{"date": "2024-01-01", "amount": "1.00", "currency": "USD", "nested": [{{"a": {v}}}]}}',
]


@pytest.mark.parametrize("value", NON_FINITE)
def test_non_finite_numbers_anywhere_in_a_body_are_422_json(
    client: TestClient, world: World, value: str
) -> None:
    for place in PLACES:
        body = place.format(v=value).encode()
        response = raw_post(client, body)

        assert problems(response), body
        for path in ("/api/transactions/1",):
            patch = client.patch(
                path, headers=bearer(ALICE) | {"Content-Type": "application/json"}, content=body
            )
            assert patch.status_code == 422, (body, patch.text)
            assert patch.headers["content-type"] == "application/json"
    assert world.scalar("SELECT count(*) FROM transactions") == 0


def test_a_422_lists_each_problem_once_with_its_path_and_a_plain_message(
    client: TestClient,
) -> None:
    one = problems(raw_post(client, b'{"date": "2024-01-01", "amount": 1.5, "currency": "USD"}'))
    many = problems(
        raw_post(
            client,
            b'[{"date": "2024-01-01", "amount": "1", "currency": "USD"},'
            b' {"date": "2024-02-30", "amount": 1.5, "currency": "USD"}]',
        )
    )

    assert [(p["loc"], p["field"]) for p in one] == [(["body", "amount"], "amount")]
    assert sorted((p["loc"], p["field"]) for p in many) == [
        (["body", 1, "amount"], "[1].amount"),
        (["body", 1, "date"], "[1].date"),
    ]
    for problem in one + many:
        assert set(problem) == {"loc", "field", "msg", "type"}, problem
        assert not any(word in str(problem) for word in INTERNALS), problem
    assert "binary floats lose cents" in one[0]["msg"]


def test_a_wrongly_typed_amount_is_one_problem(client: TestClient) -> None:
    for amount in (b"true", b"null", b"[1]", b'{"v": 1}'):
        body = b'{"date": "2024-01-01", "amount": ' + amount + b', "currency": "USD"}'

        found = problems(raw_post(client, body))

        assert [p["loc"] for p in found] == [["body", "amount"]], (amount, found)
        assert "decimal string" in found[0]["msg"], found


def test_missing_fields_are_one_problem_each(client: TestClient) -> None:
    found = problems(raw_post(client, b'{"description": "nothing else"}'))

    assert sorted(p["field"] for p in found) == ["amount", "currency", "date"]
    assert {p["type"] for p in found} == {"missing"}
    assert all(p["msg"] == "Field required" for p in found)


def test_a_malformed_body_is_422_json(client: TestClient) -> None:
    found = problems(raw_post(client, b'{"date": '))

    assert len(found) == 1
    assert found[0]["type"] == "json_invalid"


def test_unknown_path_and_wrong_method_are_json(client: TestClient) -> None:
    missing = client.get("/api/nothing-here")
    wrong = client.put("/api/health")

    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
    assert (wrong.status_code, wrong.json()) == (405, {"detail": "Method Not Allowed"})
    for response in (missing, wrong):
        assert response.headers["content-type"] == "application/json"


def test_an_unhandled_exception_is_a_500_json_with_no_internals(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api._http.routes import summary

    def broken(*args: object) -> None:
        raise RuntimeError("internal detail: password=hunter2 at /srv/tally/core/summary.py")

    monkeypatch.setattr(summary, "read_summary", broken)

    response = client.get("/api/summary", headers=bearer(ALICE))

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "internal server error"}
    for word in ("hunter2", "RuntimeError", "Traceback", "/srv/"):
        assert word not in response.text


def test_every_problem_of_one_item_is_its_own_entry_without_the_input(
    client: TestClient,
) -> None:
    found = problems(
        raw_post(client, b'{"date": "1700-01-01", "amount": "x9q", "currency": "ZZZ"}')
    )
    assert sorted((p["loc"], p["field"]) for p in found) == [
        (["body", "amount"], "amount"),
        (["body", "currency"], "currency"),
        (["body", "date"], "date"),
    ]
    for problem in found:
        assert not any(echo in problem["msg"] for echo in ("1700", "x9q", "ZZZ")), problem
    decimals = problems(
        raw_post(client, b'{"date": "2024-01-01", "amount": "1.234", "currency": "usd"}')
    )
    assert [(p["field"], p["msg"]) for p in decimals] == [
        ("amount", "amount has more decimals than USD allows (at most 2 decimal places)")
    ]
