"""Optional notification channels: email through Amazon SES and a signed webhook.

The in-app `notifications` row always exists; these channels copy it elsewhere when the
configuration enables them (`NOTIFY_EMAIL_FROM` for email, `NOTIFY_WEBHOOK_URL` for the
webhook). A channel never fails the job that produced the notification: each outcome ("sent",
"skipped: …", "failed: …") is stored in `notifications.channels` instead. `delivery` runs the
enabled channels within a budget, `ses` and `webhook` are the channels, `message` is what they
send and `store` reads addresses and records outcomes. May import `core.base`.
"""

from core.notify.channels.delivery import DELIVERY_BUDGET_SECONDS, deliver, enabled_channels
from core.notify.channels.message import SENT, Channel, ChannelResults, OutgoingNotification
from core.notify.channels.ses import render_email
from core.notify.channels.store import load_emails, record_channel_results
from core.notify.channels.webhook import (
    DEFAULT_TOLERANCE_SECONDS,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign_webhook,
    verify_webhook,
    webhook_body,
)

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "DELIVERY_BUDGET_SECONDS",
    "SENT",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Channel",
    "ChannelResults",
    "OutgoingNotification",
    "deliver",
    "enabled_channels",
    "load_emails",
    "record_channel_results",
    "render_email",
    "sign_webhook",
    "verify_webhook",
    "webhook_body",
]
