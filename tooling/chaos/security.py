"""Scenario 7: nobody gets in, nobody sees another user's data, no secret ever leaks.

Route coverage comes from the app's own OpenAPI document, so a route added later is checked
(or reported as unchecked) without anyone remembering to list it: every operation must be
public (an explicit allowlist), user-authenticated (the HTTPBearer scheme) or protected by a
secret (cron, admin), and every user operation must have a cross-user probe below. The
secret-leak checks (logs, tracebacks, answers, drain output) are `tooling.chaos.leaks`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import sqlalchemy as sa
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from core.base.auth import mint_token
from core.base.db import get_engine
from core.base.settings import get_settings
from tooling.chaos.env import ChaosEnv, scoped_environ
from tooling.chaos.leaks import DATABASE_PASSWORD, Recorder, check_secrets, drain_cli_output
from tooling.chaos.result import ScenarioResult

# The operator page's markup is public by design (no figure, no secret: it asks for the admin
# secret and fetches everything with it); its data routes are under /api/admin/.
PUBLIC = {("GET", "/api/health"), ("GET", "/api/admin")}
SECRET_PREFIXES = ("/api/cron/", "/api/admin/")
JSON_LIMIT_BYTES = 2 * 1024 * 1024
CSV = "Date,Description,Amount\n2025-03-01,{marker} corner shop,-4.20\n2025-03-02,Refund,1.00\n"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    user: bool  # requires a user's bearer token
    body: bool  # takes a request body

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def operations(app: Any) -> list[Operation]:
    found = []
    for path, item in app.openapi()["paths"].items():
        for method, spec in item.items():
            user = any("HTTPBearer" in req for req in spec.get("security", []))
            found.append(Operation(method.upper(), path, user, "requestBody" in spec))
    return found


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(user, get_settings())}"}


def bad_credentials() -> dict[str, dict[str, str]]:
    """Unacceptable Authorization headers (tests/api/test_auth.py covers many more kinds)."""
    now = int(time.time())
    secret = get_settings().auth_jwt_secret.get_secret_value()
    claims = {"sub": "user-alice", "iat": now, "exp": now + 600}
    return {
        "none": {},
        "garbage": {"Authorization": "Bearer not-a-token"},
        "other-secret": {"Authorization": f"Bearer {jwt.encode(claims, 'x' * 40)}"},
        "expired": {"Authorization": f"Bearer {jwt.encode({**claims, 'exp': now - 60}, secret)}"},
        "secret-as-bearer": {"Authorization": f"Bearer {secret}"},
    }


def concrete(path: str, ids: dict[str, int]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", str(value))
    return path


def check_auth_matrix(
    result: ScenarioResult, client: TestClient, ops: list[Operation], rec: Recorder
) -> None:
    """Every route is public, user-authenticated (401 for each bad credential) or secret."""
    ids = {"txn_id": 1, "notification_id": 1}
    for op in ops:
        path = concrete(op.path, ids)
        if (op.method, op.path) in PUBLIC:
            continue
        if not op.user and not op.path.startswith(SECRET_PREFIXES):
            result.problem(f"{op.label} is neither public, user-authenticated nor secret")
            continue
        cases = (
            bad_credentials() if op.user else {"none": {}, "wrong": {"Authorization": "Bearer x"}}
        )
        for name, headers in cases.items():
            response = rec.keep(client.request(op.method, path, headers=headers, json={}))
            if response.status_code != 401:
                result.problem(f"{op.label} with {name} credentials: {response.status_code}")
    result.details["routes"] = len(ops)
    result.details["user_routes"] = sum(op.user for op in ops)


# --- cross-user access -----------------------------------------------------------------------


@dataclass
class Alice:
    """What the victim owns, and the cursors her own pages handed her."""

    user: str
    marker: str
    txn_ids: list[int]
    note_id: int
    cursors: dict[str, str]
    statement_id: int


@dataclass(frozen=True)
class Probe:
    path: str
    expect: int
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    upload: str | None = None

    def send(self, client: TestClient, method: str, headers: dict[str, str]) -> Response:
        files = (
            {"file": ("statement.csv", self.upload.encode(), "text/csv")} if self.upload else None
        )
        response: Response = client.request(
            method, self.path, params=self.params, json=self.json, files=files, headers=headers
        )
        return response


def _cursor(client: TestClient, path: str, headers: dict[str, str]) -> str:
    page = client.get(path, params={"limit": "1"}, headers=headers).json()
    return str(page["next_cursor"])


def make_alice(client: TestClient, drain: Callable[[], None]) -> Alice:
    """Alice's transactions, a statement, two notifications and two job rows."""
    user, marker = "user-alice", f"ALICE-PRIVATE-{uuid.uuid4().hex[:8]}"
    headers = bearer(user)
    rows = [
        {"date": f"2025-02-0{n}", "amount": f"-{n}.00", "currency": "USD", "description": marker}
        for n in range(1, 4)
    ]
    created = client.post("/api/transactions", json=rows, headers=headers).json()
    drain()
    # Named with the marker, so Alice's statement showing in Bob's list is caught too.
    upload = {"file": (f"{marker}.csv", CSV.format(marker="Shop").encode(), "text/csv")}
    statement = client.post("/api/transactions/upload", files=upload, headers=headers).json()
    drain()
    notes = client.get("/api/notifications", headers=headers).json()["items"]
    cursors = {
        "/api/transactions": _cursor(client, "/api/transactions", headers),
        "/api/notifications": _cursor(client, "/api/notifications", headers),
        "/api/jobs": _cursor(client, "/api/jobs", headers),
    }
    ids = [int(r["id"]) for r in created]
    return Alice(user, marker, ids, int(notes[0]["id"]), cursors, int(statement["statement_id"]))


def probes(alice: Alice) -> dict[tuple[str, str], list[Probe]]:
    """Bob's attempts on every user route, aimed at Alice's data wherever a route takes an id."""
    txn = f"/api/transactions/{alice.txn_ids[0]}"
    bob_row = {"date": "2025-02-01", "amount": "-2.00", "currency": "USD", "description": "Bob"}
    lists = {
        path: [Probe(path, 200), Probe(path, 200, {"cursor": cursor})]
        for path, cursor in alice.cursors.items()
    }
    return {
        ("GET", "/api/transactions"): [
            *lists["/api/transactions"],
            Probe("/api/transactions", 200, {"q": alice.marker}),
        ],
        ("POST", "/api/transactions"): [Probe("/api/transactions", 201, json=bob_row)],
        ("PATCH", "/api/transactions/{txn_id}"): [Probe(txn, 404, json={"amount": "-999.00"})],
        ("DELETE", "/api/transactions/{txn_id}"): [Probe(txn, 404)],
        # The very statement Alice uploaded: Bob's import must not be deduplicated against hers.
        ("POST", "/api/transactions/upload"): [
            Probe("/api/transactions/upload", 201, upload=CSV.format(marker="Shop"))
        ],
        ("GET", "/api/statements"): [Probe("/api/statements", 200)],
        ("DELETE", "/api/statements/{statement_id}"): [
            Probe(f"/api/statements/{alice.statement_id}", 404)
        ],
        ("GET", "/api/summary"): [Probe("/api/summary", 200)],
        ("GET", "/api/notifications"): lists["/api/notifications"],
        ("POST", "/api/notifications/{notification_id}/read"): [
            Probe(f"/api/notifications/{alice.note_id}/read", 404)
        ],
        ("GET", "/api/jobs"): lists["/api/jobs"],
    }


OWNED_TABLES = (
    ("users", "id"),
    ("accounts", "user_id"),
    ("transactions", "user_id"),
    ("statements", "user_id"),
    ("financial_summaries", "user_id"),
    ("background_jobs", "user_id"),
    ("notifications", "user_id"),
    ("idempotency_keys", "user_id"),
)


def snapshot(engine: Engine, user: str) -> dict[str, list[tuple[Any, ...]]]:
    state = {}
    with engine.connect() as conn:
        for table, column in OWNED_TABLES:
            query = sa.text(f"SELECT * FROM {table} WHERE {column} = :u ORDER BY 1")  # noqa: S608 - constant names
            state[table] = [tuple(row) for row in conn.execute(query, {"u": user})]
    return state


def check_cross_user(
    result: ScenarioResult,
    client: TestClient,
    engine: Engine,
    ops: list[Operation],
    drain: Callable[[], None],
    rec: Recorder,
) -> None:
    """Bob on every user route: Alice's rows unchanged, nothing of hers in any answer."""
    alice = make_alice(client, drain)
    before = snapshot(engine, alice.user)
    table = probes(alice)
    for op in (op for op in ops if op.user and (op.method, op.path) not in table):
        result.problem(f"{op.label} has no cross-user probe")
    headers = bearer("user-bob")
    for (method, _), items in table.items():
        for probe in items:
            response = rec.keep(probe.send(client, method, headers))
            if response.status_code != probe.expect:
                result.problem(f"Bob {method} {probe.path}: {response.status_code}")
            if alice.marker in response.text or alice.user in response.text:
                result.problem(f"Bob {method} {probe.path} {probe.params} saw Alice's data")
            if probe.upload and response.json().get("imported") != probe.upload.count("\n") - 1:
                result.problem(f"Bob's upload was deduplicated against Alice's: {response.text}")
    drain()
    if snapshot(engine, alice.user) != before:
        result.problem("Bob's requests changed Alice's data")
    result.details["cross_user_probes"] = sum(len(v) for v in table.values())


# --- body limits -----------------------------------------------------------------------------


def check_body_limits(
    result: ScenarioResult,
    client: TestClient,
    ops: list[Operation],
    rec: Recorder,
    cron_secret: str,
) -> None:
    """A body over its limit: declared, every route answers 413 before anything else (even
    without credentials); streamed, every route that reads a body answers 413 once it has read
    past the limit, and the others answer without reading it (never a server error)."""
    from api._http.limits import JSON_BODY_MAX_BYTES, MULTIPART_OVERHEAD_BYTES

    upload_limit = get_settings().upload_max_bytes + MULTIPART_OVERHEAD_BYTES
    for op in ops:
        limit = upload_limit if op.path.endswith("/upload") else JSON_BODY_MAX_BYTES
        path = concrete(op.path, {"txn_id": 1, "notification_id": 1})
        kind = (
            "multipart/form-data; boundary=x" if op.path.endswith("/upload") else "application/json"
        )
        plain = {"content-type": kind}
        declared = rec.keep(
            client.request(op.method, path, content=b" " * (limit + 1), headers=plain)
        )
        if declared.status_code != 413:
            result.problem(
                f"{op.label} declared body of {limit + 1:,} bytes: {declared.status_code}"
            )
        auth = bearer("user-dave") if op.user else {"Authorization": f"Bearer {cron_secret}"}
        streamed = rec.keep(
            client.request(op.method, path, content=_chunks(limit + 1), headers={**plain, **auth})
        )
        if (op.body and streamed.status_code != 413) or streamed.status_code >= 500:
            result.problem(
                f"{op.label} streamed body of {limit + 1:,} bytes: {streamed.status_code}"
            )


def _chunks(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    for start in range(0, total, size):
        yield b" " * min(size, total - start)


# --- the scenario ----------------------------------------------------------------------------

CRON_PATH = "/api/cron/process-financial-summary-queue"


@dataclass(frozen=True)
class SecuritySize:
    fuzz_examples: int = 25


def _fuzz(result: ScenarioResult, app: Any, size: SecuritySize, values: dict[str, str]) -> int:
    from tooling.chaos.fuzz import fuzz

    with_token = fuzz(
        app,
        headers=bearer("user-fuzz"),
        query={"token": values["CRON_SECRET"]},  # opens the cron and admin operations too
        examples=size.fuzz_examples,
    )
    anonymous = fuzz(app, headers={}, examples=size.fuzz_examples)
    for label, report in (("with a token", with_token), ("without a token", anonymous)):
        result.problems.extend(f"fuzz {label}: {failure}" for failure in report.failures)
    result.details["fuzz_cases"] = with_token.cases + anonymous.cases
    return with_token.cases + anonymous.cases


def run_security(
    env: ChaosEnv, size: SecuritySize, app_factory: Callable[[], Any]
) -> ScenarioResult:
    result = ScenarioResult("security")
    started = time.monotonic()
    # Trust authentication ignores a password, so the working URL can carry one to search for.
    url = make_url(env.database_url).set(password=DATABASE_PASSWORD).render_as_string(False)
    values = env.with_database(url).settings_env()
    secrets = {
        "CRON_SECRET": values["CRON_SECRET"],
        "AUTH_JWT_SECRET": values["AUTH_JWT_SECRET"],
        "UPSTASH_REDIS_REST_TOKEN": values["UPSTASH_REDIS_REST_TOKEN"],
        "the database password": DATABASE_PASSWORD,
    }
    rec = Recorder()
    with scoped_environ(values):
        app = app_factory()
        ops = operations(app)
        with TestClient(app, raise_server_exceptions=False) as client:
            cron = {"Authorization": f"Bearer {values['CRON_SECRET']}"}

            def drain() -> None:
                rec.keep(client.get(CRON_PATH, params={"wait": "true"}, headers=cron))

            check_auth_matrix(result, client, ops, rec)
            check_cross_user(result, client, get_engine(), ops, drain, rec)
            check_body_limits(result, client, ops, rec, values["CRON_SECRET"])
        fuzz_cases = _fuzz(result, app, size, values)
    check_secrets(result, values, secrets, app_factory, drain_cli_output, rec)
    result.operations = rec.requests + fuzz_cases
    result.faults_injected = rec.requests + fuzz_cases  # every request here is an attack
    result.seconds = time.monotonic() - started
    return result
