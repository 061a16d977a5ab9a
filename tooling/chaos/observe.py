"""Watching a run from outside: claims held in Redis, and every summary write in Postgres.

Duplicates: two claims (or two job runs) holding the same id at the same instant, where no
write of that user's data happened in between and the first lease had not expired. A change
made while a job runs re-queues the user on purpose (so the change is not missed), and an
expired lease is handed on by design; anything else is a second concurrent delivery.

Stale overwrites: a trigger on the scenario's own database records every change of
`users.summary_version` and every summary row written, so a write that goes backwards, or a row
written from another version than the one the guard just recorded, is seen even when a later
job would have repaired it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine

from tooling.chaos.env import ChaosEnv
from tooling.chaos.result import ScenarioResult
from tooling.chaos.writers import WriteLog

POLL_SECONDS = 0.005


@dataclass
class SeenClaim:
    claim_id: str
    claimed: float  # seconds since the epoch, the claimer's clock as its request went out
    deadline: float
    ids: tuple[str, ...]
    first_seen: float
    last_seen: float


class ClaimWatcher:
    """Snapshots the claims hash every few milliseconds, straight from Redis."""

    def __init__(self, env: ChaosEnv) -> None:
        self._env = env
        self.claims: dict[str, SeenClaim] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="claim-watcher", daemon=True)

    def __enter__(self) -> ClaimWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        client = self._env.raw_redis()
        key = self._env.keys.claims
        try:
            while not self._stop.wait(POLL_SECONDS):
                snapshot = client.hgetall(key)
                now = time.time()
                for key_id, raw in snapshot.items():
                    claim_id = str(key_id)
                    seen = self.claims.get(claim_id)
                    if seen is None:
                        record = json.loads(raw)
                        ids = tuple(str(job[0]) for job in record["jobs"])
                        claimed, deadline = record["claimed"] / 1000, record["deadline"] / 1000
                        seen = SeenClaim(claim_id, claimed, deadline, ids, now, now)
                        self.claims[claim_id] = seen
                    seen.last_seen = now
        finally:
            client.close()


@dataclass(frozen=True)
class Held:
    """One delivery of one id: certainly held from `start` to `end`.

    `since` is the earliest it may have been taken (the claimer's clock before its request went
    out); a write after `since` may be what queued the id again.
    """

    user: str
    start: float
    end: float
    lease_end: float
    source: str
    since: float


def _explained(first: Held, second: Held, writes: dict[str, list[tuple[float, float]]]) -> bool:
    if second.start >= first.lease_end:
        return True  # the first lease had expired: handing the id on is the design
    return any(
        ended >= first.since and started <= second.start
        for started, ended in writes.get(first.user, [])
    )


def count_duplicates(
    result: ScenarioResult, held: Iterable[Held], log: WriteLog | None, label: str
) -> int:
    writes: dict[str, list[tuple[float, float]]] = {}
    if log is not None:
        for user, done in log.by_user().items():
            writes[user] = [(w.started, w.ended) for w in done]
    by_user: dict[str, list[Held]] = {}
    for item in held:
        by_user.setdefault(item.user, []).append(item)
    found = explained = 0
    for items in by_user.values():
        items.sort(key=lambda h: h.start)
        for i, first in enumerate(items):
            for second in items[i + 1 :]:
                if second.start >= first.end:
                    break  # sorted by start: no later one overlaps `first` either
                if _explained(first, second, writes):
                    explained += 1
                else:
                    found += 1
                    result.problem(
                        f"duplicate delivery ({label}): {first.user} in {first.source} and "
                        f"{second.source} at once"
                    )
    result.details[f"overlaps_explained_{label.replace(' ', '_')}"] = explained
    return found


def claims_held(watcher: ClaimWatcher) -> list[Held]:
    """Claims as the watcher saw them: held between two snapshots that showed them. The claim's
    own clock (its `claimed` time) only bounds when it may have started: a request can wait in
    the server, or be re-sent, after that clock was read. Leases differ (a kick's lasts its
    budget plus the grace), so the record's time is used, never deadline minus a lease."""
    held = []
    for claim in watcher.claims.values():
        end = min(claim.last_seen, claim.deadline)
        source = f"claim {claim.claim_id[:8]}"
        held += [
            Held(u, claim.first_seen, end, claim.deadline, source, claim.claimed) for u in claim.ids
        ]
    return held


def jobs_held(engine: Engine, lease_seconds: float) -> list[Held]:
    query = "SELECT user_id, run_id, started_at, finished_at FROM background_jobs"
    with engine.connect() as conn:
        return [
            Held(
                str(user),
                started.timestamp(),
                finished.timestamp(),
                started.timestamp() + lease_seconds,
                f"run {str(run)[:8]}",
                started.timestamp() - lease_seconds,  # the claim came before the job started
            )
            for user, run, started, finished in conn.execute(sa.text(query))
        ]


AUDIT_DDL = (
    "CREATE TABLE chaos_audit (id bigserial PRIMARY KEY, user_id text NOT NULL,"
    " what text NOT NULL, old_version bigint, new_version bigint)",
    """CREATE FUNCTION chaos_audit_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.summary_version IS DISTINCT FROM OLD.summary_version THEN
        INSERT INTO chaos_audit (user_id, what, old_version, new_version)
        VALUES (NEW.id, 'version', OLD.summary_version, NEW.summary_version);
      END IF;
      RETURN NEW;
    END $$""",
    "CREATE TRIGGER chaos_audit_version AFTER UPDATE ON users"
    " FOR EACH ROW EXECUTE FUNCTION chaos_audit_version()",
    """CREATE FUNCTION chaos_audit_summary() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO chaos_audit (user_id, what, old_version, new_version)
      VALUES (NEW.user_id, 'row',
              (SELECT summary_version FROM users WHERE id = NEW.user_id), NEW.source_version);
      RETURN NEW;
    END $$""",
    "CREATE TRIGGER chaos_audit_summary AFTER INSERT ON financial_summaries"
    " FOR EACH ROW EXECUTE FUNCTION chaos_audit_summary()",
)


def install_audit(engine: Engine) -> None:
    """Record summary writes in the scenario's own database (never a shared one)."""
    with engine.begin() as conn:
        for ddl in AUDIT_DDL:
            conn.exec_driver_sql(ddl)


def check_audit(result: ScenarioResult, engine: Engine) -> None:
    """Summary versions only move forward, and rows are written from the version recorded."""
    query = (
        "SELECT user_id, what, old_version, new_version FROM chaos_audit"
        " WHERE (what = 'version' AND new_version <= old_version)"
        " OR (what = 'row' AND new_version IS DISTINCT FROM old_version)"
    )
    with engine.connect() as conn:
        bad = list(conn.execute(sa.text(query)))
        writes = conn.execute(sa.text("SELECT count(*) FROM chaos_audit")).scalar_one()
    result.stale += len(bad)
    result.details["summary_writes_audited"] = int(writes)
    result.details["stale_overwrites"] = len(bad)
    result.problems.extend(
        f"stale overwrite: {user} {what} {old} -> {new}" for user, what, old, new in bad[:10]
    )
