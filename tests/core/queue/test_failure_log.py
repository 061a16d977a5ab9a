"""Every failed job logs one structured line: user, attempt, next retry, error; nothing else.

Found by a newcomer (issue 17): the server log said `failed=1` with no user id and no error.
The line must carry neither amounts nor descriptions (a driver error quotes the failing
statement's parameters) nor secrets.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from core.queue import Failure, JobQueue
from tests.core.queue.conftest import Clock

SQL_ERROR = (
    "DataError: (psycopg.errors.NumericValueOutOfRange) bigint out of range\n"
    "[SQL: INSERT INTO financial_summaries (user_id, income_minor) VALUES (%(u)s, %(i)s)]\n"
    "[parameters: {'u': 'u1', 'i': 99999999999999999999, 'description': 'Rent to Mr Smith'}]\n"
    "(Background on this error at: https://sqlalche.me/e/20/9h9h)"
)


def failure_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("job failed")]


def test_a_retried_job_logs_user_attempt_next_retry_and_error(
    queue: JobQueue, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    queue.enqueue("u1", "u2")
    claim = queue.claim(10)

    with caplog.at_level(logging.INFO):
        queue.settle(claim, ok=["u2"], failed=[Failure(id="u1", error=SQL_ERROR)])

    (line,) = failure_lines(caplog)
    assert "kind=financial-summary" in line
    assert "user=u1" in line
    assert "attempt=1/3" in line
    assert "outcome=retry" in line
    due = line.split("next_retry=")[1].split()[0]
    retry_at = dt.datetime.fromisoformat(due)
    assert clock.now < retry_at.timestamp() <= clock.now + 100 + 1
    assert 'error_class=DataError error="(psycopg.errors.NumericValueOutOfRange) bigint' in line
    for private in ("99999999999999999999", "Rent to Mr Smith", "INSERT", "\n"):
        assert private not in line, line
    (record,) = [r for r in caplog.records if r.getMessage().startswith("job failed")]
    assert record.levelno == logging.WARNING


def test_a_dead_job_logs_its_last_attempt_and_no_retry(
    queue: JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    queue.enqueue("u1")
    claim = queue.claim(10)

    with caplog.at_level(logging.INFO):
        queue.settle(
            claim, failed=[Failure(id="u1", error="LookupError: no such user", permanent=True)]
        )

    (line,) = failure_lines(caplog)
    assert "user=u1 attempt=1/3 outcome=dead next_retry=none" in line
    assert 'error_class=LookupError error="no such user"' in line
    (record,) = [r for r in caplog.records if r.getMessage().startswith("job failed")]
    assert record.levelno == logging.ERROR
