"""User rows: created by a user's first write (reads need no row: they find nothing)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from core.base.models import User, utcnow


def ensure_user(session: Session, user_id: str) -> None:
    """Insert the user unless it exists; safe when two first requests race."""
    values = {
        "id": user_id,
        "created_at": utcnow(),
        "data_version": 0,
        "summary_version": 0,
        # No rows yet, so no cells: built (every write from now on keeps them current).
        "rollups_built": True,
    }
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        ins = postgresql.insert(User).values(values).on_conflict_do_nothing(index_elements=["id"])
        session.execute(ins)
    elif dialect == "sqlite":
        session.execute(sqlite.insert(User).values(values).on_conflict_do_nothing())
    else:  # pragma: no cover - only the two databases above are supported
        raise RuntimeError(f"unsupported database {dialect}")


def ensure_user_with_engine(engine: Engine, user_id: str) -> None:
    with Session(engine) as session:
        ensure_user(session, user_id)
        session.commit()


# (database, user id) -> the email last stored from this process: a token's email costs one
# write on first sight and on change, not one per request. Bounded; cleared when full.
_remembered: dict[tuple[str, str], str] = {}
_REMEMBERED_MAX = 10_000


def remember_email(engine: Engine, user_id: str, email: str) -> None:
    """Store the user's email from their token: creates the user row if needed, updates the
    address when it changed, and does nothing (no query) when this process stored it already."""
    cache_key = (str(engine.url), user_id)
    if _remembered.get(cache_key) == email:
        return
    values = {
        "id": user_id,
        "email": email,
        "created_at": utcnow(),
        "data_version": 0,
        "summary_version": 0,
        # No rows yet, so no cells: built (every write from now on keeps them current).
        "rollups_built": True,
    }
    with Session(engine) as session:
        dialect = session.get_bind().dialect.name
        table = User.__table__  # type: ignore[attr-defined]
        changed = table.c.email.is_distinct_from(email)
        if dialect == "postgresql":
            pg = postgresql.insert(User).values(values)
            upsert: Any = pg.on_conflict_do_update(
                index_elements=["id"], set_={"email": pg.excluded.email}, where=changed
            )
        elif dialect == "sqlite":
            lite = sqlite.insert(User).values(values)
            upsert = lite.on_conflict_do_update(
                index_elements=["id"], set_={"email": lite.excluded.email}, where=changed
            )
        else:  # pragma: no cover - only the two databases above are supported
            raise RuntimeError(f"unsupported database {dialect}")
        session.execute(upsert)
        session.commit()
    if len(_remembered) >= _REMEMBERED_MAX:
        _remembered.clear()
    _remembered[cache_key] = email


def forget_remembered_emails() -> None:
    """Tests: the next token's email is written again."""
    _remembered.clear()
