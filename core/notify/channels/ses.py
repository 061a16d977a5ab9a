"""Email through Amazon SES (API v2 `SendEmail`, IAM action `ses:SendEmail`).

boto3 is the optional `email` extra (`pip install 'tally[email]'`), imported only when an email
is actually sent: it is a quarter of the Vercel bundle and costs a cold start far more than
anything else Tally imports, and most deployments never send one. Without it, each email is
recorded as failed with a message naming the extra, and the drain goes on.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from pydantic import TypeAdapter, ValidationError

from core.base.money import display
from core.base.settings import Settings
from core.notify.channels.message import (
    SENT,
    Channel,
    CurrencyFigures,
    OutgoingNotification,
    failed,
    redact,
    skipped,
)

# A slow SES endpoint must not eat the drain's time budget: fail fast, retry once.
CONNECT_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 5
SES_MAX_ATTEMPTS = 2

_FIGURES = TypeAdapter(dict[str, CurrencyFigures])
MISSING_BOTO3 = (
    "boto3 is not installed: email needs the 'email' extra (pip install 'tally[email]'; "
    "on Vercel, add boto3 to [project] dependencies in pyproject.toml)"
)

log = logging.getLogger("tally.channels")


def render_email(note: OutgoingNotification) -> tuple[str, str]:
    """Subject and plain-text body: every currency's income, expenses, net and count."""
    try:
        currencies = _FIGURES.validate_python(note.data.get("currencies", {}))
    except ValidationError:
        currencies = {}
    lines = [f"{note.title}.", ""]
    for currency, figures in sorted(currencies.items()):
        lines += [
            currency,
            f"  Income:        {display(figures.income_minor, currency)}",
            f"  Expenses:      {display(figures.expenses_minor, currency)}",
            f"  Net:           {display(figures.net_minor, currency)}",
            f"  Transactions:  {figures.transaction_count:,}",
            "",
        ]
    if not currencies:
        lines += ["You have no transactions left.", ""]
    lines.append("You receive this email because Tally notifications are enabled for you.")
    return note.title, "\n".join(lines) + "\n"


class EmailSender:
    """One SES client per delivery batch, shared by the worker threads (boto3 clients are)."""

    channel = Channel.EMAIL.value

    def __init__(self, settings: Settings) -> None:
        self._sender = settings.notify_email_from or ""
        self._region = settings.aws_region
        self._client: Any = None
        self._lock = threading.Lock()
        # Set when SES itself is unusable (no credentials, endpoint unreachable): the rest of
        # the batch is not attempted, so one outage costs one timeout, not one per user.
        self.broken: str | None = None

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                config = Config(
                    connect_timeout=CONNECT_TIMEOUT_SECONDS,
                    read_timeout=READ_TIMEOUT_SECONDS,
                    retries={"total_max_attempts": SES_MAX_ATTEMPTS, "mode": "standard"},
                )
                # A session of our own: clients made from boto3's shared default session are
                # not safe to create while other threads use it.
                session = boto3.session.Session()
                self._client = session.client("sesv2", region_name=self._region, config=config)
            return self._client

    def _missing_boto3(self) -> str:
        with self._lock:
            # Several worker threads may get here; the batch logs it once.
            first = self.broken != MISSING_BOTO3
            self.broken = MISSING_BOTO3
        if first:
            log.error("email channel: %s", MISSING_BOTO3)
        return failed(MISSING_BOTO3)

    def send(self, note: OutgoingNotification, address: str | None) -> str:
        if not address:
            return skipped("no address")
        if self.broken == MISSING_BOTO3:
            return failed(MISSING_BOTO3)
        if self.broken is not None:
            return failed(f"not attempted, SES unavailable ({self.broken})")
        try:
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            return self._missing_boto3()
        subject, text = render_email(note)
        try:
            self._get_client().send_email(
                FromEmailAddress=self._sender,
                Destination={"ToAddresses": [address]},
                Content={
                    "Simple": {
                        "Subject": {"Data": subject, "Charset": "UTF-8"},
                        "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
                    }
                },
            )
        except ImportError:  # botocore without boto3
            return self._missing_boto3()
        except ClientError as exc:
            # A refusal of this one message (unverified recipient, bad address): keep going.
            error = exc.response.get("Error", {})
            reason = f"{error.get('Code', 'ClientError')}: {error.get('Message', '')}"
            return failed(redact(reason, []))
        except BotoCoreError as exc:
            self.broken = type(exc).__name__
            return failed(redact(f"{type(exc).__name__}: {exc}", []))
        return SENT
