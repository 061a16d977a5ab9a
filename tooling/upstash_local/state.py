"""Counters and fault settings of one local server, shared by its event loop and the test thread."""

from __future__ import annotations

import hmac
import random
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypedDict

from tooling.upstash_local.backend import RedisBackend


class Stats(TypedDict):
    """What the server has seen since start or the last reset.

    `requests` counts authorised protocol requests (`/`, `/pipeline`, `/multi-exec`), including
    ones answered with an injected fault; `commands` counts the Redis commands inside the requests
    that went on to run (a pipeline of 3 is 1 request and 3 commands; MULTI/EXEC are not counted).
    """

    requests: int
    commands: int
    by_command: dict[str, int]
    errors_injected: int
    dropped: int
    auth_failures: int


class FaultsView(TypedDict):
    error_rate: float
    latency_seconds: float
    drop_rate: float
    seed: int | None


@dataclass(frozen=True, slots=True)
class Faults:
    """Misbehaviour injected into protocol requests (never into `/_local/*`).

    error_rate: fraction of requests answered with HTTP 500 without running anything.
    latency_seconds: delay added before every request is handled.
    drop_rate: fraction of requests that run but whose response is cut off mid-body.
    seed: seeds the dice, so a given sequence of requests meets the same faults every run.
    """

    error_rate: float = 0.0
    latency_seconds: float = 0.0
    drop_rate: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("error_rate", "drop_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {rate}")
        if self.latency_seconds < 0:
            raise ValueError(f"latency_seconds must not be negative, got {self.latency_seconds}")

    @classmethod
    def from_json(cls, payload: object) -> Faults:
        """Build from a `PUT /_local/faults` body; absent fields mean no fault of that kind."""
        if not isinstance(payload, Mapping):
            raise ValueError("the body must be a JSON object")
        unknown = set(payload) - set(FaultsView.__annotations__)
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        seed = payload.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError("seed must be an integer or null")
        return cls(
            error_rate=_number(payload, "error_rate"),
            latency_seconds=_number(payload, "latency_seconds"),
            drop_rate=_number(payload, "drop_rate"),
            seed=seed,
        )

    def view(self) -> FaultsView:
        return FaultsView(
            error_rate=self.error_rate,
            latency_seconds=self.latency_seconds,
            drop_rate=self.drop_rate,
            seed=self.seed,
        )


def _number(payload: Mapping[str, object], name: str) -> float:
    value = payload.get(name, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    return float(value)


class ServerState:
    """Everything one app instance shares between requests; every method is thread-safe."""

    def __init__(self, token: str, backend: RedisBackend) -> None:
        self._token = token.encode()
        self.backend = backend
        self._lock = threading.Lock()
        self._faults = Faults()
        self._dice = random.Random()
        self.reset_stats()

    def authorized(self, header: str | None) -> bool:
        scheme, _, candidate = (header or "").partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(candidate.encode(), self._token)
        if not ok:
            with self._lock:
                self._auth_failures += 1
        return ok

    @property
    def faults(self) -> Faults:
        return self._faults

    def set_faults(self, faults: Faults) -> None:
        with self._lock:
            self._faults = faults
            self._dice = random.Random(faults.seed)

    def roll(self, rate: float) -> bool:
        """True with probability `rate`; no draw at 0, so fault-free runs leave the dice alone."""
        if rate <= 0.0:
            return False
        with self._lock:
            return self._dice.random() < rate

    def count_request(self) -> None:
        with self._lock:
            self._requests += 1

    def count_commands(self, names: Iterable[str]) -> None:
        upper = [name.upper() for name in names]
        with self._lock:
            self._commands += len(upper)
            self._by_command.update(upper)

    def count_injected_error(self) -> None:
        with self._lock:
            self._errors_injected += 1

    def count_dropped(self) -> None:
        with self._lock:
            self._dropped += 1

    def stats(self) -> Stats:
        with self._lock:
            return Stats(
                requests=self._requests,
                commands=self._commands,
                by_command=dict(self._by_command),
                errors_injected=self._errors_injected,
                dropped=self._dropped,
                auth_failures=self._auth_failures,
            )

    def reset_stats(self) -> None:
        with self._lock:
            self._requests = 0
            self._commands = 0
            self._by_command: Counter[str] = Counter()
            self._errors_injected = 0
            self._dropped = 0
            self._auth_failures = 0
