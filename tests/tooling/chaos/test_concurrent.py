"""Scenario 2: four drain processes at once while writers keep changing data."""

from __future__ import annotations

from api._http.app import create_app
from tests.tooling.chaos.conftest import assert_clean
from tooling.chaos.env import ChaosEnv
from tooling.chaos.scenarios.concurrent import ConcurrentSize, run_concurrent

# 600 API writes by 4 threads over 30 users, against 4 drain processes (batches of 3) that are
# replaced as soon as they finish.
CI_SIZE = ConcurrentSize(users=30, writer_threads=4, operations=600, drains=4, batch_size=3)


def test_concurrent_drains_leave_every_summary_current(chaos_env: ChaosEnv) -> None:
    result = run_concurrent(chaos_env, CI_SIZE, create_app)
    print(result.summary())

    assert_clean(result)
    assert result.details["writes"] == CI_SIZE.operations
    assert result.details["drain_runs_during_writes"] >= CI_SIZE.drains
    assert result.details["summary_writes_audited"] > CI_SIZE.users
