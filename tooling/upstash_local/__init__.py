"""A local server speaking the Upstash Redis REST protocol, for dev, tests and benchmarks.

The unchanged `upstash_redis` SDK talks to it. It forwards commands to a real Redis or to an
embedded in-process one, counts requests and commands, and injects faults on demand (errors,
latency, responses lost after the command ran). See `LocalUpstash` and `create_app`. May
import nothing of the product or the rest of tooling: it stands alone, so `scripts/upstash_local.py`
serves it anywhere.
"""

from tooling.upstash_local.app import INJECTED_FAULT_MESSAGE, create_app
from tooling.upstash_local.server import DEFAULT_TOKEN, LocalUpstash
from tooling.upstash_local.state import Faults, FaultsView, Stats

__all__ = [
    "DEFAULT_TOKEN",
    "INJECTED_FAULT_MESSAGE",
    "Faults",
    "FaultsView",
    "LocalUpstash",
    "Stats",
    "create_app",
]
