"""Scenario 6: a poison user is dead-lettered after MAX_ATTEMPTS; nobody else is affected."""

from __future__ import annotations

from api._http.app import create_app
from tests.tooling.chaos.conftest import assert_clean
from tooling.chaos.env import ChaosEnv
from tooling.chaos.scenarios.poison import PoisonSize, run_poison

# One poison user among 20 healthy ones (60 API writes), drained in batches of 5 by drain
# processes; 3 attempts, then the fix, the requeue and a final drain.
CI_SIZE = PoisonSize(users=20, operations=60, batch_size=5, max_attempts=3)


def test_a_poison_user_is_dead_lettered_alone_and_requeued_after_the_fix(
    chaos_env: ChaosEnv,
) -> None:
    result = run_poison(chaos_env, CI_SIZE, create_app)
    print(result.summary())

    assert_clean(result)
    assert result.details["healthy_jobs_affected"] == 0
    assert "range" in result.details["dead_letter_error"]
