"""Statement import: parse the whole file, then write it in one transaction or not at all."""

from __future__ import annotations

import hashlib
import logging
from pathlib import PurePath

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Session, col

from core.ledger import NewTransaction, insert_transactions, mark_changed
from core.models import Statement, Transaction
from core.settings import Settings
from core.statements import parse_statement
from core.users import ensure_user

log = logging.getLogger("tally.uploads")


class ImportResult(BaseModel):
    statement_id: int
    filename: str
    format: str
    rows: int
    imported: int
    skipped: int
    encoding: str
    delimiter: str | None
    date_order: str | None


def _clean_filename(name: str | None) -> str:
    base = PurePath((name or "statement").replace("\\", "/")).name
    if base in {"", ".", ".."}:  # "../" has the base name ".."
        base = "statement"
    printable = "".join(ch for ch in base if ch.isprintable())
    return printable[:255] or "statement"


def import_statement(
    session: Session,
    user_id: str,
    data: bytes,
    filename: str | None,
    settings: Settings,
    *,
    currency: str | None = None,
    date_order: str | None = None,
    amount_sign: str | None = None,
) -> ImportResult:
    """Raises core.statements.StatementError (413/415/422) before anything is written."""
    parsed = parse_statement(
        data,
        filename or "",
        default_currency=settings.default_currency,
        currency=currency,
        date_order=date_order,
        max_bytes=settings.upload_max_bytes,
        max_rows=settings.upload_max_rows,
        amount_sign=amount_sign,
    )
    ensure_user(session, user_id)
    statement = Statement(
        user_id=user_id,
        filename=_clean_filename(filename),
        format=parsed.format,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        row_count=len(parsed.rows),
    )
    session.add(statement)
    session.flush()
    assert statement.id is not None
    rows = [
        NewTransaction(
            date=row.date,
            amount_minor=row.amount_minor,
            currency=row.currency,
            description=row.description,
            category=row.category,
            import_key=row.import_key,
        )
        for row in parsed.rows
    ]
    insert_transactions(session, user_id, rows, statement.id, skip_duplicates=True)
    imported = int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(Transaction)
            .where(col(Transaction.statement_id) == statement.id)
        )
        or 0
    )
    statement.imported_count = imported
    statement.skipped_count = len(parsed.rows) - imported
    session.add(statement)
    if imported:
        mark_changed(session, user_id)
    log.info(
        "statement imported format=%s rows=%d imported=%d",
        parsed.format,
        len(parsed.rows),
        imported,
    )
    return ImportResult(
        statement_id=statement.id,
        filename=statement.filename,
        format=parsed.format,
        rows=len(parsed.rows),
        imported=imported,
        skipped=statement.skipped_count,
        encoding=parsed.encoding,
        delimiter=parsed.delimiter,
        date_order=parsed.date_order,
    )
