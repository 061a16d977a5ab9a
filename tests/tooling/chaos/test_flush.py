"""Scenario 5: all queue state lost; the reconcile sweep alone brings every summary up to date."""

from __future__ import annotations

from api._http.app import create_app
from tests.tooling.chaos.conftest import assert_clean
from tooling.chaos.env import ChaosEnv
from tooling.chaos.scenarios.flush import FlushSize, run_flush

# 66 dirty users (60 seeded, 6 whose enqueue failed) in every queue state, then every key
# deleted; the sweep takes 15 per drain run, so at least 5 runs must find them all.
CI_SIZE = FlushSize(users=60, per_user=20, reconcile_batch=15)


def test_the_sweep_alone_recovers_from_a_flushed_queue(chaos_env: ChaosEnv) -> None:
    result = run_flush(chaos_env, CI_SIZE, create_app)
    print(result.summary())

    assert_clean(result)
    lost = result.details["state_lost"]
    assert all(lost[state] > 0 for state in ("pending", "retry", "dead", "leased")), lost
    assert result.details["reconciled"] >= result.details["dirty_at_flush"]
    assert result.details["sweeping_drains"] >= 5
