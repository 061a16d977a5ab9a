"""Scenario 1: drains killed with SIGKILL at five points of a batch; nothing lost or stuck."""

from __future__ import annotations

from tests.tooling.chaos.conftest import assert_clean
from tooling.chaos.env import ChaosEnv
from tooling.chaos.scenarios.kill import KILL_POINTS, KillSize, run_kill

# 5 kills, one per kill point, of drains working on 40 users of 1,500 transactions each (batches
# of 4 users): a batch takes long enough for each point to be hit on purpose.
CI_SIZE = KillSize(users=40, per_user=1500, kills=5, batch_size=4, lease_seconds=2)


def test_killed_drains_lose_nothing_and_leave_nothing_stuck(chaos_env: ChaosEnv) -> None:
    result = run_kill(chaos_env, CI_SIZE)
    print(result.summary())

    assert_clean(result)
    assert result.details["kill_points"] == list(KILL_POINTS)
    assert result.faults_injected == CI_SIZE.kills
    # The kills after "startup" each left a claim behind that only the lease could free.
    assert result.details["ids_in_killed_claims"] >= CI_SIZE.kills - 1
    assert result.details["reclaimed"] >= 1
