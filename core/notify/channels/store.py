"""The two queries delivery adds to a batch: read the addresses, store the outcomes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from sqlmodel import Session, col

from core.base.models import Notification, User
from core.notify.channels.message import ChannelResults


def load_emails(session: Session, user_ids: Iterable[str]) -> dict[str, str | None]:
    """Email address per user id, in one SELECT."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = session.execute(
        sa.select(col(User.id), col(User.email)).where(
            col(User.id).in_(sa.bindparam("ids", expanding=True))
        ),
        {"ids": ids},
    )
    return {str(uid): email for uid, email in rows}


def record_channel_results(session: Session, results: Mapping[int, ChannelResults]) -> int:
    """Store each notification's channel outcomes in one executemany UPDATE.

    Leaves the commit to the caller. Returns how many notifications were given.
    """
    if not results:
        return 0
    rows = [{"note_id": note_id, "outcome": dict(outcome)} for note_id, outcome in results.items()]
    update = (
        sa.update(Notification)
        .where(col(Notification.id) == sa.bindparam("note_id"))
        .values(channels=sa.bindparam("outcome"))
    )
    # On the connection, not the ORM session: a plain executemany, where the ORM's bulk update
    # would raise for a notification deleted meanwhile (its user deleted, rows cascaded).
    session.connection().execute(update, rows)
    return len(rows)
