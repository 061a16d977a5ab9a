"""User rows: created by a user's first write (reads need no row: they find nothing)."""

from __future__ import annotations

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
    }
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = postgresql.insert(User).values(values).on_conflict_do_nothing(index_elements=["id"])
        session.execute(stmt)
    elif dialect == "sqlite":
        session.execute(sqlite.insert(User).values(values).on_conflict_do_nothing())
    else:  # pragma: no cover - only the two databases above are supported
        raise RuntimeError(f"unsupported database {dialect}")


def ensure_user_with_engine(engine: Engine, user_id: str) -> None:
    with Session(engine) as session:
        ensure_user(session, user_id)
        session.commit()
