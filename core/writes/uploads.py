"""Statement import: rows streamed from the parser into the database, in one transaction.

The parser checks the file as a whole first (format, limits, header, date order) and then
yields one validated row at a time; a bad row is only reported when the iteration ends. So
rows are stored as they come, in the caller's transaction, and any StatementError leaves that
transaction to be rolled back: the import is all or nothing without ever holding every row.
Nor the file: the upload route hands over the spooled file, which every pass reads in chunks.

On Postgres the rows are COPYed into a temporary table and moved into `transactions` by one
INSERT ... SELECT that skips import keys their account already has: a fixed number of
queries, whatever the size of the file. SQLite (development) inserts them in bounded chunks.

Accounts: the form's `account` names the account of every row of the file. Without it, an
OFX/QFX statement's ACCTID names its rows' account (a file of two statements fills two), and
a CSV file's rows go to the default account. The form wins because it is the user's own choice:
the OFX and the CSV export of one bank account can then be filed under the same name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import Session, col

from core.base.models import Account, Statement, Transaction, utcnow
from core.base.settings import Settings
from core.writes.accounts import DEFAULT_ACCOUNT, account_name
from core.writes.ledger import NewTransaction, insert_transactions, mark_changed
from core.writes.statements import (
    Correction,
    InvalidStatement,
    LineError,
    ParsedRow,
    StatementData,
    StatementStream,
    open_statement,
)
from core.writes.statements.source import ByteSource
from core.writes.users import ensure_user

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("tally.uploads")

CHUNK_ROWS = 2_000
"""Rows per INSERT where COPY is not available: bounded memory, few round trips."""

# ON COMMIT DROP: a transaction-mode pooler may hand the connection to someone else right after
# the commit, so the table must not outlive it (a rollback drops it too).
_CREATE_STAGE = sa.text(
    "CREATE TEMP TABLE statement_rows ("
    "line integer NOT NULL, date date NOT NULL, amount_minor bigint NOT NULL, "
    "currency varchar(3) NOT NULL, description varchar(500) NOT NULL, "
    "category varchar(100), import_key varchar(64) NOT NULL, account varchar(100) NOT NULL"
    ") ON COMMIT DROP"
)
_COPY_STAGE = (
    "COPY statement_rows (line, date, amount_minor, currency, description, category, import_key,"
    " account) FROM STDIN"
)
_ACCOUNTS_FROM_STAGE = sa.text(
    "INSERT INTO accounts (user_id, name, created_at) "
    "SELECT DISTINCT :user_id, account, CAST(:now AS timestamptz) FROM statement_rows "
    "ON CONFLICT (user_id, name) DO NOTHING"
)
_STAGED_ACCOUNTS = sa.text("SELECT DISTINCT account FROM statement_rows ORDER BY account")
# ORDER BY line: ids follow the file's order, as a row-by-row insert would give them.
_INSERT_FROM_STAGE = sa.text(
    "INSERT INTO transactions (user_id, account_id, statement_id, date, amount_minor, currency, "
    "description, category, import_key, created_at, updated_at) "
    "SELECT :user_id, a.id, :statement_id, s.date, s.amount_minor, s.currency, s.description, "
    "s.category, s.import_key, :now, :now FROM statement_rows AS s "
    "JOIN accounts AS a ON a.user_id = :user_id AND a.name = s.account ORDER BY s.line "
    "ON CONFLICT (account_id, import_key) DO NOTHING"
)
# Dropped at once rather than at commit, so a second import in the same transaction can stage.
_DROP_STAGE = sa.text("DROP TABLE statement_rows")


class ImportResult(BaseModel):
    statement_id: int
    filename: str
    format: str
    rows: int
    imported: int
    skipped: int
    encoding: str
    delimiter: str | None
    date_order: str | None = Field(
        description="how numeric dates were read (dmy, mdy, ymd), null when the file left no doubt"
    )
    currency: str | None = Field(
        description="the currency given to rows that name none: the form's currency, else"
        " DEFAULT_CURRENCY; null when neither was given (then every row named its own)"
    )
    accounts: list[str] = Field(description="the accounts the rows were filed under")
    corrected: int = Field(
        description="transactions of earlier uploads that this file's OFX corrections"
        " replaced or deleted"
    )
    skipped_balance_lines: list[int] = Field(
        description="lines of balance rows with no amount (e.g. 'Beginning balance as of ...'),"
        " which are not transactions and were skipped"
    )


def _clean_filename(name: str | None) -> str:
    base = PurePath((name or "statement").replace("\\", "/")).name
    if base in {"", ".", ".."}:  # "../" has the base name ".."
        base = "statement"
    printable = "".join(ch for ch in base if ch.isprintable())
    return printable[:255] or "statement"


def import_statement(
    session: Session,
    user_id: str,
    data: StatementData,
    filename: str | None,
    settings: Settings,
    *,
    currency: str | None = None,
    date_order: str | None = None,
    amount_sign: str | None = None,
    account: str | None = None,
) -> ImportResult:
    """Import a statement into the caller's transaction; the caller commits.

    `account` (the form's field; None or empty: not given) files every row under that account;
    otherwise an OFX statement's ACCTID does, or else the default account.

    `data` is the file's bytes or a seekable binary file (the upload's spooled file), which is
    read in chunks and never held whole; it must stay open until this returns.
    Raises core.writes.statements.StatementError (413/415/422). A problem with the file as a
    whole is raised before anything is written; a bad row after earlier rows were written, so
    the caller must roll back on any StatementError (the upload route never commits on one).
    """
    chosen = _form_account(account)
    stream = open_statement(
        data,
        filename or "",
        default_currency=settings.default_currency,
        currency=currency,
        date_order=date_order,
        max_bytes=settings.upload_max_bytes,
        max_rows=settings.upload_max_rows,
        amount_sign=amount_sign,
    )
    sha256, size = _digest(data, settings.upload_max_bytes)
    ensure_user(session, user_id)
    statement = Statement(
        user_id=user_id,
        filename=_clean_filename(filename),
        format=stream.format,
        sha256=sha256,
        size_bytes=size,
        row_count=stream.row_count,
    )
    session.add(statement)
    session.flush()
    assert statement.id is not None
    # Corrections first: a replacement may carry the import key of the row it replaces.
    corrected = _apply_corrections(session, user_id, stream.corrections, chosen)
    imported, accounts = store_rows(session, user_id, statement.id, stream, chosen)
    statement.imported_count = imported
    statement.skipped_count = stream.row_count - imported
    session.add(statement)
    if imported or corrected:
        # Corrections may have moved or removed rows of any month: then every month.
        mark_changed(
            session, user_id, None if corrected else _statement_dates(session, statement.id)
        )
    log.info(
        "statement imported format=%s rows=%d imported=%d",
        stream.format,
        stream.row_count,
        imported,
    )
    assumed = (currency or "").strip().upper() or settings.default_currency
    return _result(statement, stream, accounts, corrected, assumed)


def _statement_dates(session: Session, statement_id: int) -> list[dt.date]:
    """The days the statement's rows fall on (a statement spans months, not years, mostly)."""
    query = (
        sa.select(col(Transaction.date))
        .where(col(Transaction.statement_id) == statement_id)
        .distinct()
    )
    return list(session.execute(query).scalars())


def _apply_corrections(
    session: Session, user_id: str, corrections: Iterable[Correction], chosen: str | None
) -> int:
    """Delete the earlier uploads' transactions that OFX corrections replace or delete, in the
    account the correcting rows are filed under; how many were deleted. One DELETE per account."""
    keys: dict[str, set[str]] = {}
    for correction in corrections:
        name = chosen if chosen is not None else correction.account or DEFAULT_ACCOUNT
        keys.setdefault(name, set()).add(correction.import_key)
    deleted = 0
    for name, wanted in sorted(keys.items()):
        account = (
            sa.select(col(Account.id))
            .where(col(Account.user_id) == user_id, col(Account.name) == name)
            .scalar_subquery()
        )
        result = session.execute(
            sa.delete(Transaction)
            .where(
                col(Transaction.user_id) == user_id,
                col(Transaction.account_id) == account,
                col(Transaction.import_key).in_(sorted(wanted)),
            )
            .execution_options(synchronize_session=False)
        )
        deleted += cast("sa.CursorResult[Any]", result).rowcount
    return deleted


def _form_account(account: str | None) -> str | None:
    if account is None or not account.strip():
        return None
    try:
        return account_name(account)
    except ValueError as exc:
        raise InvalidStatement([LineError(0, "account", str(exc))]) from None


def _row_account(row: ParsedRow, chosen: str | None) -> str:
    """The account a row is filed under: the form's, else the file's, else the default."""
    if chosen is not None:
        return chosen
    return row.account or DEFAULT_ACCOUNT


def _digest(data: StatementData, max_bytes: int) -> tuple[str, int]:
    """The file's SHA-256 and size, read a chunk at a time (and under the limit) as parsed."""
    digest, size = hashlib.sha256(), 0
    for chunk in ByteSource(data, max_bytes).chunks():
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _result(
    statement: Statement,
    stream: StatementStream,
    accounts: list[str],
    corrected: int,
    currency: str | None,
) -> ImportResult:
    assert statement.id is not None
    return ImportResult(
        statement_id=statement.id,
        filename=statement.filename,
        format=stream.format,
        rows=stream.row_count,
        imported=statement.imported_count,
        skipped=statement.skipped_count,
        encoding=stream.encoding,
        delimiter=stream.delimiter,
        date_order=stream.date_order,
        currency=currency,
        accounts=accounts,
        corrected=corrected,
        skipped_balance_lines=list(stream.balance_lines),
    )


def store_rows(
    session: Session,
    user_id: str,
    statement_id: int,
    rows: Iterable[ParsedRow],
    account: str | None = None,
) -> tuple[int, list[str]]:
    """Store `rows` as the user's, skipping import keys their account already has.

    `account` (already cleaned) files every row there; None: each row's own or the default.
    Returns the rows imported and the names of the accounts the rows were filed under.

    Whatever iterating `rows` raises propagates with the transaction left for the caller to roll
    back (on Postgres it is aborted outright: the failed COPY makes a commit impossible).
    """
    driver = _psycopg_connection(session)
    if driver is not None:
        return _store_by_copy(session, driver, user_id, statement_id, rows, account)
    names: set[str] = set()
    for chunk in _chunks(rows, CHUNK_ROWS, account):
        names.update(row.account or DEFAULT_ACCOUNT for row in chunk)
        insert_transactions(session, user_id, chunk, statement_id, skip_duplicates=True)
    imported = session.scalar(
        sa.select(sa.func.count())
        .select_from(Transaction)
        .where(col(Transaction.statement_id) == statement_id)
    )
    return int(imported or 0), sorted(names)


def _psycopg_connection(session: Session) -> psycopg.Connection[Any] | None:
    """The DBAPI connection of the session's own transaction, when it is psycopg's (Postgres)."""
    connection = session.connection()  # begins the session's transaction if it had not yet
    if connection.dialect.name != "postgresql" or connection.dialect.driver != "psycopg":
        return None
    return cast("psycopg.Connection[Any]", connection.connection.driver_connection)


def _store_by_copy(
    session: Session,
    driver: psycopg.Connection[Any],
    user_id: str,
    statement_id: int,
    rows: Iterable[ParsedRow],
    account: str | None,
) -> tuple[int, list[str]]:
    session.execute(_CREATE_STAGE)
    # The same connection, hence the same transaction, as the session's queries around it.
    with driver.cursor() as cursor, cursor.copy(_COPY_STAGE) as copy:
        for row in rows:
            copy.write_row(
                (
                    row.line,
                    row.date,
                    row.amount_minor,
                    row.currency,
                    row.description,
                    row.category,
                    row.import_key,
                    _row_account(row, account),
                )
            )
    params = {"user_id": user_id, "statement_id": statement_id, "now": utcnow()}
    session.execute(_ACCOUNTS_FROM_STAGE, {"user_id": user_id, "now": params["now"]})
    names = [str(name) for name in session.scalars(_STAGED_ACCOUNTS)]
    inserted = cast("sa.CursorResult[Any]", session.execute(_INSERT_FROM_STAGE, params))
    session.execute(_DROP_STAGE)
    return inserted.rowcount, names


def _chunks(
    rows: Iterable[ParsedRow], size: int, account: str | None
) -> Iterator[list[NewTransaction]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield [
            NewTransaction(
                date=row.date,
                amount_minor=row.amount_minor,
                currency=row.currency,
                description=row.description,
                category=row.category,
                import_key=row.import_key,
                account=_row_account(row, account),
            )
            for row in chunk
        ]
