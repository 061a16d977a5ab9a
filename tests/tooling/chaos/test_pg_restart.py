"""Scenario 4: PostgreSQL restarted (a private cluster) while a drain is mid-batch."""

from __future__ import annotations

import pytest

from tests.conftest import IN_CI
from tests.tooling.chaos.conftest import assert_clean
from tooling.chaos.env import ChaosEnv
from tooling.chaos.pgcluster import ClusterUnavailable, PrivateCluster
from tooling.chaos.scenarios.pg_restart import RestartSize, run_pg_restart

# Two restarts, each while a drain's batch (3 of 30 users, 500 transactions each) waits inside
# its write transaction.
CI_SIZE = RestartSize(users=30, per_user=500, batch_size=3, restarts=2)


@pytest.fixture
def cluster_available() -> None:
    try:
        PrivateCluster().stop()
    except ClusterUnavailable as exc:
        if IN_CI:
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))


@pytest.mark.usefixtures("cluster_available")
def test_a_restart_mid_batch_releases_the_batch_cleanly_and_it_completes(
    chaos_env: ChaosEnv,
) -> None:
    result = run_pg_restart(chaos_env, CI_SIZE)
    print(result.summary())

    assert_clean(result)
    # Only the batch in flight was released (each time), none failed, nobody queued behind it.
    assert result.details["released_by_restart"] == CI_SIZE.batch_size * CI_SIZE.restarts
    assert result.details["failed_by_restart"] == 0
    assert result.details["interrupted_ids"] >= CI_SIZE.batch_size
