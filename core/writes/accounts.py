"""Accounts: a user's transactions are filed under named accounts, made by the first write that
names one. A write naming none goes to the user's `default` account.

Names are trimmed and compared exactly (`Savings` and `savings` are two accounts), 1 to 100
printable characters. Duplicate detection of uploaded rows is per account: the unique key is
(account, import key).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from core.base.models import Account, utcnow

DEFAULT_ACCOUNT = "default"
MAX_ACCOUNT_CHARS = 100


def account_name(name: str | None) -> str:
    """The stored name for `name`: trimmed, DEFAULT_ACCOUNT when None or empty.

    Raises ValueError (with a message naming the account) for a name that cannot be stored.
    """
    if name is None or name == "":
        return DEFAULT_ACCOUNT
    cleaned = name.strip()
    if not cleaned:
        raise ValueError("account name is blank; leave it out for the default account")
    if len(cleaned) > MAX_ACCOUNT_CHARS:
        raise ValueError(f"account name is longer than {MAX_ACCOUNT_CHARS} characters")
    if not cleaned.isprintable():
        raise ValueError("account name holds a control character")
    return cleaned


def ensure_accounts(session: Session, user_id: str, names: Iterable[str]) -> dict[str, int]:
    """Ids of the user's accounts `names` (already cleaned by `account_name`), made if missing.

    Two queries whatever the number of names; safe when two first writes race.
    """
    wanted = sorted(set(names))
    if not wanted:
        return {}
    now = utcnow()
    values = [{"user_id": user_id, "name": name, "created_at": now} for name in wanted]
    dialect = session.get_bind().dialect.name
    target = ["user_id", "name"]
    if dialect == "postgresql":
        session.execute(
            postgresql.insert(Account).values(values).on_conflict_do_nothing(index_elements=target)
        )
    elif dialect == "sqlite":
        session.execute(
            sqlite.insert(Account).values(values).on_conflict_do_nothing(index_elements=target)
        )
    else:  # pragma: no cover - only the two databases above are supported
        raise RuntimeError(f"unsupported database {dialect}")
    rows = session.execute(
        sa.select(col(Account.name), col(Account.id)).where(
            col(Account.user_id) == user_id, col(Account.name).in_(wanted)
        )
    )
    return {str(name): int(ident) for name, ident in rows}


def account_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(
        sa.select(col(Account.id), col(Account.name)).where(col(Account.id).in_(wanted))
    )
    return {int(ident): str(name) for ident, name in rows}
