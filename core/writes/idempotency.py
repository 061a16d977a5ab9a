"""Idempotency keys (the IETF httpapi draft's `Idempotency-Key` header) for creating requests.

A client sends a key of its choosing with a POST; a repeat of that request with the same key
(a retry after a timeout) must not write again. In the request's own database transaction:

1. `claim` makes sure no other request with this user's key is running (Postgres: a
   transaction-scoped advisory lock, taken without waiting, so a repeat while the first runs is
   refused at once with `KeyInFlight`; it is released by the commit or the rollback, so a
   crashed request never leaves a key stuck). It then looks the key up: kept with another
   request's hash is `KeyReused`; kept with this request's hash is the first answer, which the
   caller sends back as it was and writes nothing; not kept, the caller goes on.
2. The caller writes, renders its answer, and calls `remember` just before its commit: the key,
   the request's hash and the answer commit with the rows or not at all. Only answers of
   requests that wrote are remembered; a refused request changed nothing and may be retried.

Keys live 24 hours. Each `remember` also deletes up to `CLEANUP_BATCH` expired keys (an indexed
range, skipping rows another transaction holds), so the table stays small at a bounded cost.
SQLite (development) has no advisory locks: `claim` starts with a write instead, which takes the
database's write lock, so a repeat waits for the first to finish and then gets its answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col

from core.base.models import IdempotencyKey, utcnow

KEY_TTL = dt.timedelta(hours=24)
MAX_KEY_CHARS = 255
CLEANUP_BATCH = 100
_SEPARATOR = b"\x1f"
_TRY_LOCK = sa.text("SELECT pg_try_advisory_xact_lock(:lock)")


class KeyInFlight(Exception):
    """Another request with this key is still running (409)."""


class KeyReused(Exception):
    """The key was used for a different request (422)."""


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status_code: int
    body: str


def parse_key(header: str) -> str:
    """The key of an `Idempotency-Key` header: a structured-field string (`"..."`, with `\\"`
    and `\\\\` escapes), or for lenient clients the bare text; 1 to 255 printable ASCII
    characters. Raises ValueError saying what is wrong."""
    value = header.strip()
    if value.startswith('"'):
        value = _unquote(value)
    if not value:
        raise ValueError("the Idempotency-Key header is empty")
    if len(value) > MAX_KEY_CHARS:
        raise ValueError(f"the Idempotency-Key is longer than {MAX_KEY_CHARS} characters")
    if not all(" " <= ch <= "~" for ch in value):
        raise ValueError("the Idempotency-Key holds a character that is not printable ASCII")
    return value


def _unquote(value: str) -> str:
    if len(value) < 2 or not value.endswith('"'):
        raise ValueError('the Idempotency-Key is not a string: an opening " without its closing')
    out: list[str] = []
    inner = iter(value[1:-1])
    for ch in inner:
        if ch == "\\":
            escaped = next(inner, "")
            if escaped not in {'"', "\\"}:
                raise ValueError('the Idempotency-Key has a "\\" that escapes neither " nor \\')
            out.append(escaped)
        elif ch == '"':
            raise ValueError('the Idempotency-Key has an unescaped " inside its quotes')
        else:
            out.append(ch)
    return "".join(out)


def request_hash(method: str, path: str, parts: Iterable[bytes]) -> str:
    """SHA-256 over the method, the path and the request's content, each part delimited."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), *parts):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _lock_id(user_id: str, key: str) -> int:
    raw = hashlib.sha256(user_id.encode() + _SEPARATOR + key.encode()).digest()
    return int.from_bytes(raw[:8], "big", signed=True)


def claim(session: Session, user_id: str, key: str, fingerprint: str) -> StoredAnswer | None:
    """The first answer to replay, or None to go on (see the module docstring).

    Raises KeyInFlight or KeyReused. Must be the first thing the request's transaction does.
    """
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        if not session.scalar(_TRY_LOCK, {"lock": _lock_id(user_id, key)}):
            raise KeyInFlight(key)
    else:
        # Any write takes SQLite's database lock: a concurrent repeat waits here for this one.
        session.execute(_delete_expired_key(user_id, key, now))
    row = session.execute(
        sa.select(
            col(IdempotencyKey.request_hash),
            col(IdempotencyKey.status_code),
            col(IdempotencyKey.response_body),
        ).where(
            col(IdempotencyKey.user_id) == user_id,
            col(IdempotencyKey.key) == key,
            col(IdempotencyKey.expires_at) > now,
        )
    ).first()
    if row is None:
        return None
    stored_hash, status_code, body = row
    if stored_hash != fingerprint:
        raise KeyReused(key)
    return StoredAnswer(int(status_code), str(body))


def remember(
    session: Session, user_id: str, key: str, fingerprint: str, status_code: int, body: str
) -> None:
    """Keep the answer with the key, in the caller's transaction, just before its commit."""
    now = utcnow()
    session.execute(_delete_expired_key(user_id, key, now))
    expired = (
        sa.select(col(IdempotencyKey.id))
        .where(col(IdempotencyKey.expires_at) <= now)
        .order_by(col(IdempotencyKey.expires_at))
        .limit(CLEANUP_BATCH)
        .with_for_update(skip_locked=True)
    )
    session.execute(
        sa.delete(IdempotencyKey)
        .where(col(IdempotencyKey.id).in_(expired))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        sa.insert(IdempotencyKey).values(
            user_id=user_id,
            key=key,
            request_hash=fingerprint,
            status_code=status_code,
            response_body=body,
            created_at=now,
            expires_at=now + KEY_TTL,
        )
    )


def _delete_expired_key(user_id: str, key: str, now: dt.datetime) -> sa.Delete:
    return (
        sa.delete(IdempotencyKey)
        .where(
            col(IdempotencyKey.user_id) == user_id,
            col(IdempotencyKey.key) == key,
            col(IdempotencyKey.expires_at) <= now,
        )
        .execution_options(synchronize_session=False)
    )
