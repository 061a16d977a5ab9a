"""Uploads honour OFX corrections of earlier uploads and skip CSV balance lines, reporting both.

Issue 14: an OFX CORRECTACTION=REPLACE/DELETE was ignored (the wrong and the corrected charge
were both stored), and a Bank of America export's "Beginning balance" row failed the file.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ALICE, data_version
from tests.api.test_upload import upload
from tests.conftest import clear_caches
from tests.core.writes.statements.test_corrections import BOA, delete, entry, ofx, replace
from tests.support import World, make_world


@pytest.fixture(params=["postgres", "sqlite"])
def world(
    request: pytest.FixtureRequest, app_env: dict[str, str], env: pytest.MonkeyPatch
) -> World:
    """Postgres (COPY) and SQLite (chunked inserts) alike."""
    if request.param == "sqlite":
        env.setenv("DATABASE_URL", request.getfixturevalue("sqlite_url"))
        clear_caches()
    return make_world()


def stored(world: World) -> list[tuple[str, int, str]]:
    rows = world.rows(
        "SELECT t.description, t.amount_minor, a.name FROM transactions t"
        " JOIN accounts a ON a.id = t.account_id WHERE t.user_id = :u ORDER BY t.id",
        u=ALICE,
    )
    return [(str(d), int(m), str(n)) for d, m, n in rows]


ORIGINAL = ofx(
    entry("A", "-50.00", "WRONG"), entry("C", "-1.00", "DOUBLE"), entry("E", "-2.00", "OK")
)
CORRECTION = ofx(replace("B", "A", "-5.00", "RIGHT"), delete("D", "C"))


def test_a_later_file_replaces_and_deletes_what_an_earlier_upload_stored(
    client: TestClient, world: World
) -> None:
    assert upload(client, ORIGINAL, "jan.ofx").json()["imported"] == 3
    before = data_version(world, ALICE)

    response = upload(client, CORRECTION, "jan-fix.ofx")

    assert response.status_code == 201, response.text
    assert (response.json()["imported"], response.json()["corrected"]) == (1, 2)
    assert stored(world) == [("OK", -200, "1234"), ("RIGHT", -500, "1234")]
    assert data_version(world, ALICE) == (before or 0) + 1

    again = upload(client, CORRECTION, "jan-fix.ofx")  # the same correction twice: no change
    assert (again.json()["imported"], again.json()["corrected"]) == (0, 0)
    assert stored(world) == [("OK", -200, "1234"), ("RIGHT", -500, "1234")]


def test_corrections_apply_to_the_account_the_rows_are_filed_under(
    client: TestClient, world: World
) -> None:
    assert upload(client, ORIGINAL, "jan.ofx", account="Checking").status_code == 201

    other = upload(client, CORRECTION, "jan-fix.ofx", account="Savings")
    assert other.json()["corrected"] == 0
    same = upload(client, CORRECTION, "jan-fix.ofx", account="Checking")

    assert same.json()["corrected"] == 2
    assert [row for row in stored(world) if row[2] == "Checking"] == [
        ("OK", -200, "Checking"),
        ("RIGHT", -500, "Checking"),
    ]


def test_a_balance_line_is_skipped_and_reported(client: TestClient, world: World) -> None:
    response = upload(client, BOA, "boa.csv")

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["rows"], body["imported"], body["skipped"]) == (2, 2, 0)
    assert body["skipped_balance_lines"] == [8]
    assert [row[:2] for row in stored(world)] == [
        ("PAYROLL ACME", 200000),
        ("Monthly account fee", -500),
    ]
