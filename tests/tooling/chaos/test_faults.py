"""Scenario 3: 20% Upstash errors, latency and dropped responses during writes and drains."""

from __future__ import annotations

from api._http.app import create_app
from tests.tooling.chaos.conftest import assert_clean
from tooling.chaos.env import ChaosEnv
from tooling.chaos.scenarios.faults import FaultSize, run_faults

# 400 API writes over 30 users, two drain processes and two cron threads; every Upstash request
# delayed 5 ms, 20% answered with an error, 10% of responses cut off after the command ran.
CI_SIZE = FaultSize(users=30, writer_threads=3, operations=400, drains=2, batch_size=4)


def test_upstash_faults_lose_nothing_and_every_summary_catches_up(chaos_env: ChaosEnv) -> None:
    result = run_faults(chaos_env, CI_SIZE, create_app)
    print(result.summary())

    assert_clean(result)
    assert result.details["writes"] == CI_SIZE.operations
    assert result.details["writes_failed"] == 0  # a queue failure never fails a write
    assert result.details["errors_injected"] > 0
    assert result.details["responses_dropped"] > 0
