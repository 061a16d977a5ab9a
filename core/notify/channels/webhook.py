"""The signed webhook: one JSON `POST` per notification.

Every request carries `Tally-Timestamp` (unix seconds) and `Tally-Signature: v1=<hex>`, where
`<hex>` is HMAC-SHA256 keyed with `NOTIFY_WEBHOOK_SECRET` over `<timestamp>.<raw body>`. Signing
the timestamp with the body lets a receiver refuse a captured request replayed later;
`verify_webhook` is the receiver's side of that contract.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable

import httpx

from core.notify.channels.message import (
    SENT,
    Channel,
    OutgoingNotification,
    failed,
    public_url,
    redact,
    skipped,
    url_secrets,
)

TIMESTAMP_HEADER = "Tally-Timestamp"
SIGNATURE_HEADER = "Tally-Signature"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
# Short: a slow receiver delays the drain, and the drain has a deadline.
TIMEOUT = httpx.Timeout(5.0, connect=2.0)
# Event names are dotted, as webhook consumers expect; notification kinds are dashed.
EVENT_TYPES = {"summary-updated": "summary.updated"}

_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def webhook_body(note: OutgoingNotification) -> bytes:
    event = {
        "id": note.id,
        "type": EVENT_TYPES.get(note.kind, note.kind),
        "user_id": note.user_id,
        "created_at": note.created_at.isoformat(),
        "data": note.data,
    }
    return json.dumps(event, separators=(",", ":"), sort_keys=True).encode()


def sign_webhook(body: bytes, timestamp: str, secret: str) -> str:
    """The `Tally-Signature` value for this body sent at this timestamp."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify_webhook(
    body: bytes,
    timestamp: str,
    signature: str,
    secret: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when a received webhook is genuine and fresh. The receiver's recipe:

    1. Read the RAW request body (bytes, before any JSON parsing: re-serialising changes them)
       and the `Tally-Timestamp` and `Tally-Signature` headers.
    2. Refuse the request (e.g. 401) unless `verify_webhook(body, timestamp, signature, secret)`
       is true: the timestamp must be within `tolerance_seconds` of now (either way), and one
       of the comma-separated `v1=<hex>` signatures must equal HMAC-SHA256(secret,
       `<timestamp>.<body>`), compared in constant time.
    3. Answer 2xx quickly. The timestamp window stops a replay after it closes; within it,
       de-duplicate on the event's `id`.

    Several signatures may be listed so that a receiver keeps working while the secret rotates.
    """
    if not _TIMESTAMP.fullmatch(timestamp):
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_seconds:
        return False
    expected = sign_webhook(body, timestamp, secret).encode()
    candidates = [part.strip().encode() for part in signature.split(",")]
    # Compare against every candidate, so the time taken says nothing about which one matched.
    matches = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    return any(matches)


class WebhookSender:
    """POSTs each notification to `NOTIFY_WEBHOOK_URL` over one pooled HTTP client."""

    channel = Channel.WEBHOOK.value

    def __init__(self, url: str, secret: str | None, clock: Callable[[], float]) -> None:
        self._url = url
        self._secret = secret
        self._clock = clock
        self._client = httpx.Client(timeout=TIMEOUT, follow_redirects=False)
        # Set when the receiver cannot be reached at all: the rest of the batch is not
        # attempted, so one dead endpoint costs one timeout, not one per user.
        self.broken: str | None = None

    def close(self) -> None:
        self._client.close()

    def _scrub(self, text: str) -> str:
        text = text.replace(self._url, public_url(self._url))
        return redact(text, [*url_secrets(self._url), self._secret or ""])

    def send(self, note: OutgoingNotification, address: str | None) -> str:
        if not self._secret:
            # An unsigned webhook could be forged by anyone who learns the URL: never send one.
            return skipped("NOTIFY_WEBHOOK_SECRET is not set")
        if self.broken is not None:
            return failed(f"not attempted, receiver unreachable ({self.broken})")
        body = webhook_body(note)
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign_webhook(body, timestamp, self._secret),
        }
        try:
            response = self._client.post(self._url, content=body, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # Unreachable, timed out or misconfigured: the next request would fare no better.
            self.broken = type(exc).__name__
            return failed(self._scrub(f"{type(exc).__name__}: {exc}"))
        if not response.is_success:
            return failed(f"HTTP {response.status_code}")
        return SENT
