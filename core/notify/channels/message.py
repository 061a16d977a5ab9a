"""What the channels exchange: the notification being sent and the per-channel outcome."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, StrictInt

SENT = "sent"
# A result is stored in a JSON column and read by people: keep it one short line.
MAX_RESULT_CHARS = 300
# AWS access key ids have a recognisable shape; an error message quoting one must not store it.
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA)[A-Z0-9]{12,}\b")


class Channel(enum.StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


# Channel name -> "sent", "skipped: <why>" or "failed: <why>".
ChannelResults = dict[str, str]


class CurrencyFigures(BaseModel):
    """One currency's headline figures, as `notifications.data["currencies"]` holds them."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    income_minor: StrictInt
    expenses_minor: StrictInt
    net_minor: StrictInt
    transaction_count: StrictInt


class OutgoingNotification(BaseModel):
    """A `notifications` row that was just inserted, as the channels see it."""

    model_config = ConfigDict(frozen=True)

    id: int
    user_id: str
    kind: str
    title: str
    body: str = ""
    data: dict[str, Any]
    created_at: datetime


def skipped(reason: str) -> str:
    return f"skipped: {reason}"[:MAX_RESULT_CHARS]


def failed(reason: str) -> str:
    return f"failed: {reason}"[:MAX_RESULT_CHARS]


def public_url(url: str) -> str:
    """Scheme, host and port only: user info, path, query and fragment may all carry a token
    (many webhook providers put theirs in the path)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, "", "", ""))


def url_secrets(url: str) -> list[str]:
    """The parts of a URL that must never reach a log line or a stored result."""
    parts = urlsplit(url)
    path = parts.path if len(parts.path) > 1 else ""
    return [s for s in (path, parts.query, parts.fragment, parts.password or "") if s]


def redact(text: str, secrets: Iterable[str]) -> str:
    # Longest first, so a secret containing another is replaced whole.
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return _AWS_KEY_ID.sub("[redacted]", text)
