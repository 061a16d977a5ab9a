"""The reliability scenarios behind `tests/tooling/chaos/` and `make chaos` (scripts/chaos.py).

A scenario sets up a database and a queue (`env`), drives the real system (the HTTP API,
`scripts/drain.py` processes, the local Upstash with faults, a private PostgreSQL), verifies the
outcome against ground truth (`truth`, `observe`) and returns a `ScenarioResult`. `security`
holds the access and hostile-input checks, `leaks` the secret-leak ones. May import the product and
`tooling.upstash_local`; never `tests`. Nothing here is imported by the service itself.
"""

from tooling.chaos.env import ChaosEnv, Secrets
from tooling.chaos.result import ScenarioResult

__all__ = ["ChaosEnv", "ScenarioResult", "Secrets"]
