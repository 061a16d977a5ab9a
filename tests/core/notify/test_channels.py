"""Optional notification channels: SES email (under moto), the signed webhook (a local server)."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from core.base.money import display
from core.base.settings import Settings
from core.notify.channels import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    OutgoingNotification,
    deliver,
    enabled_channels,
    record_channel_results,
    sign_webhook,
    verify_webhook,
)

ROOT = Path(__file__).resolve().parents[3]
SECRET = "whsec-test-0123456789abcdef"
SENDER = "tally@example.com"
REGION = "eu-west-1"


# --- helpers -----------------------------------------------------------------------------------


@dataclass
class Received:
    body: bytes
    timestamp: str
    signature: str
    accepted: bool


@dataclass
class Receiver:
    """A webhook receiver doing what README tells integrators: verify, then 204 (or 401).

    `status` forces an answer whatever the signature; `tamper` alters the body before it is
    verified (a man in the middle); `clock_offset_seconds` moves the receiver's clock.
    """

    secret: str = SECRET
    status: int | None = None
    tamper: bool = False
    clock_offset_seconds: float = 0.0
    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/tally"

    def __enter__(self) -> Receiver:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    def check(self, body: bytes, timestamp: str, signature: str) -> bool:
        now = time.time() + self.clock_offset_seconds
        return verify_webhook(body, timestamp, signature, self.secret, now=now)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.tamper:
                    body = body.replace(b'"user_id":"user-1"', b'"user_id":"user-2"')
                timestamp = self.headers.get(TIMESTAMP_HEADER, "")
                signature = self.headers.get(SIGNATURE_HEADER, "")
                accepted = receiver.check(body, timestamp, signature)
                receiver.received.append(Received(body, timestamp, signature, accepted))
                self.send_response(receiver.status or (204 if accepted else 401))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output (and caplog) free of access-log noise

        return Handler


def settings(
    *,
    email_from: str | None = None,
    region: str | None = REGION,
    webhook_url: str | None = None,
    secret: str | None = SECRET,
) -> Settings:
    return Settings(
        notify_email_from=email_from,
        aws_region=region,
        notify_webhook_url=webhook_url,
        notify_webhook_secret=secret,
    )


def note(note_id: int = 1, user_id: str = "user-1", **currencies: dict[str, int]) -> Any:
    figures = currencies or {
        "USD": {
            "income_minor": 1_234_567,
            "expenses_minor": 250_050,
            "net_minor": 984_517,
            "transaction_count": 1_204,
        },
        "JPY": {
            "income_minor": 0,
            "expenses_minor": 1_500,
            "net_minor": -1_500,
            "transaction_count": 3,
        },
    }
    return OutgoingNotification(
        id=note_id,
        user_id=user_id,
        kind="summary-updated",
        title="Your financial summary was updated",
        body="net 9,845.17 USD over 1204 transactions",
        data={"currencies": figures},
        created_at=datetime(2025, 6, 1, 12, 0, tzinfo=UTC),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing listens there


@pytest.fixture
def aws(env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """moto's SES, with fake credentials and no AWS config from the machine."""
    from moto import mock_aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN"):
        env.setenv(name, "testing")
    env.setenv("AWS_SESSION_TOKEN", "testing")
    env.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    env.delenv("AWS_DEFAULT_REGION", raising=False)
    env.delenv("AWS_REGION", raising=False)
    with mock_aws():
        yield


def verify_sender(address: str = SENDER) -> None:
    import boto3

    boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=address)


def sent_messages() -> list[Any]:
    from moto.backends import get_backend
    from moto.core.models import DEFAULT_ACCOUNT_ID

    return list(get_backend("ses")[DEFAULT_ACCOUNT_ID][REGION].sent_messages)


# --- configuration -----------------------------------------------------------------------------


def test_channels_follow_the_configuration(env: pytest.MonkeyPatch) -> None:
    assert enabled_channels(settings()) == ()
    assert enabled_channels(settings(email_from=SENDER)) == ("email",)
    assert enabled_channels(settings(webhook_url="https://h.example/x")) == ("webhook",)
    both = settings(email_from=SENDER, webhook_url="https://h.example/x")
    assert enabled_channels(both) == ("email", "webhook")


def test_nothing_configured_delivers_nothing(env: pytest.MonkeyPatch) -> None:
    assert deliver([note()], {"user-1": "ana@example.com"}, settings()) == {}


def test_importing_channels_does_not_import_boto3() -> None:
    code = (
        "import sys, core.notify.channels, functions.financial_summary\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in {'boto3', 'botocore'})\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_email_without_boto3_fails_naming_the_extra(
    env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """boto3 is the optional `email` extra: a deployment without it keeps draining, and each
    email result and the log say what to install (once per batch, not one error per user)."""
    for name in [m for m in sys.modules if m.split(".")[0] in {"boto3", "botocore"}]:
        env.delitem(sys.modules, name)
    env.setitem(sys.modules, "boto3", None)  # `import boto3` now fails as if not installed
    env.setitem(sys.modules, "botocore", None)
    caplog.set_level(logging.ERROR, logger="tally.channels")
    emails = {"user-1": "ana@example.com", "user-2": "bo@example.com"}
    results = deliver([note(1), note(2, "user-2")], emails, settings(email_from=SENDER))
    assert set(results) == {1, 2}
    for outcome in results.values():
        assert outcome["email"].startswith("failed: ")
        assert "tally[email]" in outcome["email"], outcome
    errors = [r.getMessage() for r in caplog.records if "boto3" in r.getMessage()]
    assert len(errors) == 1, errors
    assert "tally[email]" in errors[0]


# --- email -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (123_456, "USD", "1,234.56 USD"),
        (-5, "USD", "-0.05 USD"),
        (0, "EUR", "0.00 EUR"),
        (1_500, "JPY", "1,500 JPY"),
        (-1_234, "KWD", "-1.234 KWD"),
        (10_000_001, "CLF", "1,000.0001 CLF"),
        (42, "XXX", "42 minor units of XXX"),
    ],
)
def test_display_uses_the_currency_exponent(minor: int, currency: str, text: str) -> None:
    assert display(minor, currency) == text


def test_email_is_sent_through_ses_with_recipient_subject_and_figures(aws: None) -> None:
    verify_sender()
    results = deliver([note()], {"user-1": "ana@example.com"}, settings(email_from=SENDER))
    assert results == {1: {"email": "sent"}}
    (message,) = sent_messages()
    assert message.source == SENDER
    assert message.destinations == {"ToAddresses": ["ana@example.com"]}
    assert message.subject == "Your financial summary was updated"
    for line in [
        "USD",
        "Income:        12,345.67 USD",
        "Expenses:      2,500.50 USD",
        "Net:           9,845.17 USD",
        "Transactions:  1,204",
        "JPY",
        "Expenses:      1,500 JPY",
        "Net:           -1,500 JPY",
        "Transactions:  3",
    ]:
        assert line in message.body, line


def test_user_without_address_is_skipped_and_others_still_sent(aws: None) -> None:
    verify_sender()
    notes = [note(1, "user-1"), note(2, "user-2"), note(3, "user-3")]
    emails = {"user-1": "ana@example.com", "user-2": None}
    results = deliver(notes, emails, settings(email_from=SENDER))
    assert results == {
        1: {"email": "sent"},
        2: {"email": "skipped: no address"},
        3: {"email": "skipped: no address"},
    }
    assert [m.destinations["ToAddresses"] for m in sent_messages()] == [["ana@example.com"]]


def test_unverified_sender_is_recorded_per_message(aws: None) -> None:
    notes = [note(1, "user-1"), note(2, "user-2")]
    emails = {"user-1": "ana@example.com", "user-2": "bo@example.com"}
    results = deliver(notes, emails, settings(email_from=SENDER))
    for note_id in (1, 2):  # a refusal of one message does not stop the next
        assert results[note_id]["email"].startswith("failed: MessageRejected"), results
    assert sent_messages() == []


def test_unusable_ses_fails_once_and_skips_the_rest_of_the_batch(aws: None) -> None:
    notes = [note(i, f"user-{i}") for i in range(1, 4)]
    emails = {f"user-{i}": f"u{i}@example.com" for i in range(1, 4)}
    results = deliver(notes, emails, settings(email_from=SENDER, region=None), max_workers=1)
    assert results[1]["email"].startswith("failed: NoRegionError")
    for note_id in (2, 3):
        assert results[note_id]["email"] == "failed: not attempted, SES unavailable (NoRegionError)"


# --- webhook -----------------------------------------------------------------------------------


def test_verify_webhook_accepts_only_a_fresh_genuine_signature() -> None:
    body, ts = b'{"id":1}', "1750000000"
    good = sign_webhook(body, ts, SECRET)
    assert good.startswith("v1=")
    assert len(good) == 3 + 64
    assert verify_webhook(body, ts, good, SECRET, now=1750000000)
    assert verify_webhook(body, ts, good, SECRET, now=1750000000 + 300)
    assert not verify_webhook(body, ts, good, SECRET, now=1750000000 + 301)  # replayed late
    assert not verify_webhook(body, ts, good, SECRET, now=1750000000 - 301)  # from the future
    assert not verify_webhook(body + b" ", ts, good, SECRET, now=1750000000)
    assert not verify_webhook(body, "1750000001", good, SECRET, now=1750000000)
    assert not verify_webhook(body, ts, good, SECRET + "x", now=1750000000)
    assert not verify_webhook(body, ts, good.removeprefix("v1="), SECRET, now=1750000000)
    full_width_digits = "\uff11\uff17\uff15"
    for bad_ts in ("", "-1", "1.5e9", " 1750000000", full_width_digits):
        assert not verify_webhook(body, bad_ts, good, SECRET, now=1750000000)
    # While the secret rotates, the sender may list two signatures.
    rotated = f"{sign_webhook(body, ts, 'old-secret-0123456789')}, {good}"
    assert verify_webhook(body, ts, rotated, SECRET, now=1750000000)
    assert verify_webhook(body, ts, good, SECRET, tolerance_seconds=10, now=1750000010)
    assert not verify_webhook(body, ts, good, SECRET, tolerance_seconds=10, now=1750000011)


def test_webhook_is_delivered_signed_and_verified_by_the_receiver(env: pytest.MonkeyPatch) -> None:
    with Receiver() as receiver:
        results = deliver([note(7)], {}, settings(webhook_url=receiver.url))
    assert results == {7: {"webhook": "sent"}}
    (got,) = receiver.received
    assert got.accepted
    assert abs(int(got.timestamp) - time.time()) < 60
    event = json.loads(got.body)
    assert event == {
        "id": 7,
        "type": "summary.updated",
        "user_id": "user-1",
        "created_at": "2025-06-01T12:00:00+00:00",
        "data": note(7).data,
    }


def test_tampered_body_is_rejected_by_the_receiver(env: pytest.MonkeyPatch) -> None:
    with Receiver(tamper=True) as receiver:
        results = deliver([note()], {}, settings(webhook_url=receiver.url))
    assert results == {1: {"webhook": "failed: HTTP 401"}}
    (got,) = receiver.received
    assert b'"user_id":"user-2"' in got.body
    assert not got.accepted
    # The untampered original would have passed: only the body change broke it.
    original = got.body.replace(b'"user_id":"user-2"', b'"user_id":"user-1"')
    assert receiver.check(original, got.timestamp, got.signature)


def test_replayed_request_is_rejected_once_the_window_has_passed(env: pytest.MonkeyPatch) -> None:
    with Receiver() as receiver:
        deliver([note()], {}, settings(webhook_url=receiver.url))
        (first,) = receiver.received
        assert first.accepted
        receiver.clock_offset_seconds = 301  # the attacker re-sends the captured request later
        headers = {TIMESTAMP_HEADER: first.timestamp, SIGNATURE_HEADER: first.signature}
        replay = httpx.post(receiver.url, content=first.body, headers=headers, timeout=5)
    assert replay.status_code == 401
    assert not receiver.received[-1].accepted


def test_signature_with_an_old_timestamp_is_refused(env: pytest.MonkeyPatch) -> None:
    ten_minutes_ago = time.time() - 600
    with Receiver() as receiver:
        results = deliver(
            [note()], {}, settings(webhook_url=receiver.url), clock=lambda: ten_minutes_ago
        )
    assert results == {1: {"webhook": "failed: HTTP 401"}}


def test_receiver_error_is_recorded_and_the_batch_goes_on(env: pytest.MonkeyPatch) -> None:
    with Receiver(status=500) as receiver:
        results = deliver([note(1), note(2)], {}, settings(webhook_url=receiver.url))
    assert results == {1: {"webhook": "failed: HTTP 500"}, 2: {"webhook": "failed: HTTP 500"}}
    assert len(receiver.received) == 2  # a 500 is about one request, not the endpoint


def test_connection_refused_fails_once_and_skips_the_rest(env: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    notes = [note(i) for i in range(1, 4)]
    results = deliver(notes, {}, settings(webhook_url=url), max_workers=1)
    assert results[1]["webhook"].startswith("failed: ConnectError")
    for note_id in (2, 3):
        expected = "failed: not attempted, receiver unreachable (ConnectError)"
        assert results[note_id]["webhook"] == expected


def test_webhook_without_a_secret_is_never_sent_unsigned(env: pytest.MonkeyPatch) -> None:
    with Receiver() as receiver:
        results = deliver([note()], {}, settings(webhook_url=receiver.url, secret=None))
    assert results == {1: {"webhook": "skipped: NOTIFY_WEBHOOK_SECRET is not set"}}
    assert receiver.received == []


def test_spent_time_budget_records_the_rest_as_not_attempted(env: pytest.MonkeyPatch) -> None:
    with Receiver() as receiver:
        results = deliver([note()], {}, settings(webhook_url=receiver.url), budget_seconds=-1)
    assert results == {1: {"webhook": "failed: not attempted, delivery time budget spent"}}
    assert receiver.received == []


def test_secrets_never_reach_results_or_logs(
    env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    aws_secret = "aws-secret-key-9d8e7f"
    env.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    env.setenv("AWS_SECRET_ACCESS_KEY", aws_secret)
    env.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    env.delenv("AWS_DEFAULT_REGION", raising=False)
    caplog.set_level(logging.DEBUG)
    # As api/_http/app.py does: httpx itself logs every request URL at INFO.
    caplog.set_level(logging.WARNING, logger="httpx")
    token = "query-token-5b1f0c"
    outcomes = []
    with Receiver(status=500) as receiver:
        outcomes.append(deliver([note()], {}, settings(webhook_url=f"{receiver.url}?t={token}")))
    dead = f"http://admin:pw-7c2e9a@127.0.0.1:{free_port()}/hook?t={token}"
    outcomes.append(deliver([note()], {}, settings(webhook_url=dead)))
    # No region, so boto3 stops before any network call, with the credentials loaded.
    no_region = settings(email_from=SENDER, region=None)
    outcomes.append(deliver([note()], {"user-1": "ana@example.com"}, no_region))

    def leaky_post(self: httpx.Client, url: str, **kwargs: Any) -> httpx.Response:
        # An error message quoting the whole URL, and the secret for good measure.
        raise httpx.ConnectError(f"cannot reach {url} (signed with {SECRET})")

    env.setattr(httpx.Client, "post", leaky_post)
    outcomes.append(deliver([note()], {}, settings(webhook_url=dead)))
    assert outcomes[0] == {1: {"webhook": "failed: HTTP 500"}}
    assert outcomes[1][1]["webhook"].startswith("failed: ConnectError")
    assert outcomes[2][1]["email"].startswith("failed: NoRegionError")
    leaked = outcomes[3][1]["webhook"]
    assert "http://127.0.0.1:" in leaked  # the host stays, to be useful to a reader
    assert "/hook" not in leaked
    text = json.dumps(outcomes) + "\n".join(r.getMessage() for r in caplog.records)
    assert "failed" in "\n".join(r.getMessage() for r in caplog.records)
    for secret in (SECRET, token, "pw-7c2e9a", aws_secret, "AKIAIOSFODNN7EXAMPLE"):
        assert secret not in text, secret


def test_both_channels_report_separately(aws: None) -> None:
    verify_sender()
    with Receiver(status=500) as receiver:
        both = settings(email_from=SENDER, webhook_url=receiver.url)
        results = deliver([note()], {"user-1": "ana@example.com"}, both)
    assert results == {1: {"email": "sent", "webhook": "failed: HTTP 500"}}


# --- storing the outcomes ----------------------------------------------------------------------


@pytest.mark.parametrize("database", ["postgres_url", "sqlite_url"])
def test_results_are_recorded_in_one_statement(
    request: pytest.FixtureRequest, database: str
) -> None:
    engine = sa.create_engine(request.getfixturevalue(database))
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO users (id, data_version, summary_version, created_at)"
                    " VALUES ('user-1', 0, 0, CURRENT_TIMESTAMP)"
                )
            )
            for note_id in (11, 12, 13):
                conn.execute(
                    sa.text(
                        "INSERT INTO notifications (id, user_id, kind, title, body, data, "
                        "channels, created_at) VALUES (:id, 'user-1', 'summary-updated', 't', "
                        "'', '{}', '{}', CURRENT_TIMESTAMP)"
                    ),
                    {"id": note_id},
                )
        queries: list[str] = []
        sa.event.listen(engine, "before_cursor_execute", lambda *a: queries.append(a[2]))
        results = {
            11: {"email": "sent", "webhook": "failed: HTTP 500"},
            12: {"email": "skipped: no address"},
            99: {"email": "sent"},  # deleted meanwhile (with its user): no error
        }
        with Session(engine) as session:
            assert record_channel_results(session, results) == 3
            session.commit()
        assert len(queries) == 1
        assert queries[0].lstrip().upper().startswith("UPDATE")
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, channels FROM notifications ORDER BY id"))
            stored = {i: json.loads(c) if isinstance(c, str) else c for i, c in rows}
        assert stored == {11: results[11], 12: results[12], 13: {}}
    finally:
        engine.dispose()
