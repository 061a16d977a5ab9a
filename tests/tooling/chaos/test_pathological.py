"""Scenario 8: pathological descriptions among normal users under a 30 s invocation limit."""

from __future__ import annotations

from api._http.app import create_app
from tests.tooling.chaos.conftest import assert_clean
from tooling.chaos.env import ChaosEnv
from tooling.chaos.scenarios.pathological import (
    STORED_CHARS,
    UPLOADED_CHARS,
    PathologicalSize,
    pathological_texts,
    run_pathological,
)

# 4 pathological users (each 11 JSON rows of 500 characters and an upload of 11 cells of
# 10,000) among 20 normal users of 20 transactions, drained in batches of 5 by invocations
# budgeted 25 s and killed at 30 s.
CI_SIZE = PathologicalSize(
    normal_users=20, per_user=20, pathological_users=4, batch_size=5, timeout_seconds=300
)


def test_the_texts_are_as_long_as_the_api_allows() -> None:
    assert {len(t) for t in pathological_texts(STORED_CHARS)} == {STORED_CHARS}
    assert {len(t) for t in pathological_texts(UPLOADED_CHARS)} == {UPLOADED_CHARS}


def test_pathological_descriptions_kill_no_invocation_and_no_normal_user(
    chaos_env: ChaosEnv,
) -> None:
    result = run_pathological(chaos_env, CI_SIZE, create_app)
    print(result.summary())

    assert_clean(result)
    assert result.details["kills"] == 0
    assert result.details["normal_dead"] == 0
    assert result.details["dead"] == 0
    assert result.details["longest_invocation_seconds"] < CI_SIZE.invocation_limit_seconds
    assert result.details["invocations"] >= 1
