"""Delivery of one batch of notifications over every configured optional channel."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from core.base.settings import Settings
from core.notify.channels.message import Channel, ChannelResults, OutgoingNotification, failed
from core.notify.channels.ses import EmailSender
from core.notify.channels.webhook import WebhookSender

log = logging.getLogger("tally.channels")

# Delivery runs inside a drain that has a deadline (and a cron caller that gives up after
# 30 s): past this budget the rest of the batch is recorded as not attempted.
DELIVERY_BUDGET_SECONDS = 10.0
# Enough to hide network latency; SES's default sending rate is 14 messages a second.
MAX_WORKERS = 4


class Sender(Protocol):
    channel: str

    def send(self, note: OutgoingNotification, address: str | None) -> str: ...


def enabled_channels(settings: Settings) -> tuple[Channel, ...]:
    """The optional channels the configuration turns on (in-app is always on)."""
    found = []
    if settings.notify_email_from:
        found.append(Channel.EMAIL)
    if settings.notify_webhook_url:
        found.append(Channel.WEBHOOK)
    return tuple(found)


def deliver(
    notifications: Sequence[OutgoingNotification],
    emails: Mapping[str, str | None],
    settings: Settings,
    *,
    clock: Callable[[], float] = time.time,
    budget_seconds: float = DELIVERY_BUDGET_SECONDS,
    max_workers: int = MAX_WORKERS,
) -> dict[int, ChannelResults]:
    """Send every notification over every enabled channel; results per notification id.

    Never raises for a channel failure: each outcome ("sent", "skipped: …", "failed: …") is
    returned for `record_channel_results`. `emails` maps user id to address (None: no email).
    Results and log lines never hold the webhook secret, AWS credentials or the webhook URL's
    query string.
    """
    channels = enabled_channels(settings)
    if not notifications or not channels:
        return {}
    webhook = None
    senders: list[Sender] = []
    if Channel.EMAIL in channels:
        senders.append(EmailSender(settings))
    if Channel.WEBHOOK in channels and settings.notify_webhook_url:
        secret = settings.notify_webhook_secret
        webhook = WebhookSender(
            settings.notify_webhook_url, secret.get_secret_value() if secret else None, clock
        )
        senders.append(webhook)
    deadline = time.monotonic() + budget_seconds

    def one(note: OutgoingNotification) -> tuple[int, ChannelResults]:
        return note.id, _deliver_one(note, emails.get(note.user_id), senders, deadline)

    try:
        workers = max(1, min(max_workers, len(notifications)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tally-notify") as pool:
            results = dict(pool.map(one, notifications))
    finally:
        if webhook is not None:
            webhook.close()
    _log_outcome(results)
    return results


def _deliver_one(
    note: OutgoingNotification, address: str | None, senders: Sequence[Sender], deadline: float
) -> ChannelResults:
    results: ChannelResults = {}
    for sender in senders:
        if time.monotonic() > deadline:
            results[sender.channel] = failed("not attempted, delivery time budget spent")
            continue
        try:
            results[sender.channel] = sender.send(note, address)
        except Exception as exc:  # noqa: BLE001 - a bug in one channel must not lose the others
            # The type only: an unexpected exception's message may quote anything.
            results[sender.channel] = failed(f"unexpected {type(exc).__name__}")
    return results


def _log_outcome(results: Mapping[int, ChannelResults]) -> None:
    tally: Counter[str] = Counter()
    for note_id, outcome in sorted(results.items()):
        for channel, result in sorted(outcome.items()):
            status = result.split(":", 1)[0]
            tally[f"{channel}_{status}"] += 1
            if status == "failed":
                log.warning("notification=%d channel=%s %s", note_id, channel, result)
    log.info(
        "channels notifications=%d %s",
        len(results),
        " ".join(f"{key}={count}" for key, count in sorted(tally.items())),
    )
