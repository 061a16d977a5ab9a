"""OFX 1.x (SGML), OFX 2.x (XML) and QFX files: each STMTTRN to a validated row.

`ofx_reader` turns the file into an element tree; this module reads the statements in it. The
OFX specification is not enforced beyond what a row needs: banks routinely get details wrong
(a 40-character NAME, a missing SIGNON block) and their files are still read. The module is
imported only for OFX uploads, so a CSV upload's cold start never loads it.

Corrections: an entry with CORRECTFITID names an earlier transaction of its statement's account
that it REPLACEs (the entry is stored instead) or DELETEs (the entry itself is no transaction).
The corrected transaction is left out when it is in the same file, and is listed in the
stream's `corrections` for the import to delete when an earlier upload stored it.
"""

from __future__ import annotations

import datetime
import functools
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

from core.base.currencies import normalise_currency
from core.writes.statements.amounts import parse_amount
from core.writes.statements.errors import (
    NO_CURRENCY,
    ErrorCollector,
    InvalidStatement,
    LineError,
    StatementTooLarge,
)
from core.writes.statements.import_keys import ImportKeys
from core.writes.statements.ofx_reader import read_ofx
from core.writes.statements.rows import (
    MAX_ACCOUNT_CHARS,
    MAX_DESCRIPTION_CHARS,
    Correction,
    ParsedRow,
    StatementStream,
    clean_text,
)

_STATEMENT_TAGS = ("STMTRS", "CCSTMTRS")
_ACCOUNT_PATHS = ("BANKACCTFROM/ACCTID", "CCACCTFROM/ACCTID")
_CORRECT_ACTIONS = ("REPLACE", "DELETE")


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the corrections decided before any row is read: the entries left out (by ordinal),
    and the corrections of transactions stored by an earlier upload or left out here."""

    left_out: frozenset[int]
    corrections: tuple[Correction, ...]
    count: int  # entries that are rows


def _acctid(statement: ET.Element) -> str:
    return next((text.strip() for path in _ACCOUNT_PATHS if (text := statement.findtext(path))), "")


def _plan(statements: list[ET.Element]) -> _Plan:
    errors = ErrorCollector()
    left_out: set[int] = set()
    corrections: list[Correction] = []
    total = ordinal = 0
    for statement in statements:
        account = _acctid(statement)
        entries = statement.findall("BANKTRANLIST/STMTTRN")
        total += len(entries)
        first = ordinal
        targets: set[str] = set()
        for entry in entries:
            ordinal += 1
            target = (entry.findtext("CORRECTFITID") or "").strip()
            if not target:
                continue
            action = (entry.findtext("CORRECTACTION") or "").strip().upper()
            if action not in _CORRECT_ACTIONS:
                shown = f"'{action}'" if action else "missing"
                errors.add(ordinal, "CORRECTACTION", f"{shown}: expected REPLACE or DELETE")
                continue
            targets.add(target)
            key = ImportKeys().for_fitid(account, target)
            corrections.append(Correction(ordinal, _account(account), key))
            if action == "DELETE":
                left_out.add(ordinal)
        for position, entry in enumerate(entries, start=first + 1):
            fitid = (entry.findtext("FITID") or "").strip()
            # A replacement may keep the FITID of the entry it replaces: it stays.
            if fitid in targets and (entry.findtext("CORRECTFITID") or "").strip() != fitid:
                left_out.add(position)
    errors.raise_if_any(unit="transaction")
    return _Plan(frozenset(left_out), tuple(corrections), total - len(left_out))


def open_ofx(data: bytes, filename: str, *, currency: str | None, max_rows: int) -> StatementStream:
    """Parse an OFX/QFX file's structure now, its transactions on iteration.

    `currency` applies only when the file has no CURDEF. The whole tree is kept: OFX files
    are small next to CSV exports.
    """
    document = read_ofx(data)
    root = document.root
    statements = [element for element in root.iter() if element.tag in _STATEMENT_TAGS]
    if not statements:
        reason = "the file holds no bank or credit card statement (STMTRS or CCSTMTRS)"
        if any(element.tag == "INVSTMTRS" for element in root.iter()):
            reason = "investment statements are not supported; upload a bank or card statement"
        raise InvalidStatement([LineError(1, None, reason)])
    count = sum(len(statement.findall("BANKTRANLIST/STMTTRN")) for statement in statements)
    if count > max_rows:
        raise StatementTooLarge(
            f"The statement has {count} transactions; the limit is {max_rows}.",
            [LineError(max_rows + 1, None, f"row limit of {max_rows} exceeded")],
        )
    if count == 0:
        raise InvalidStatement([LineError(1, None, "the statement has no transactions")])
    plan = _plan(statements)
    is_qfx = filename.lower().endswith(".qfx") or any(e.tag == "INTU.BID" for e in root.iter())
    return StatementStream(
        "qfx" if is_qfx else "ofx",
        document.encoding,
        None,
        None,
        plan.count,
        functools.partial(_read_transactions, statements, currency, plan),
        corrections=plan.corrections,
    )


def _read_transactions(
    statements: list[ET.Element], fallback_currency: str | None, plan: _Plan
) -> Iterator[ParsedRow]:
    errors = ErrorCollector()
    keys = ImportKeys(plan.count)
    ordinal = 0
    for statement in statements:
        account = _acctid(statement)
        entries = statement.findall("BANKTRANLIST/STMTTRN")
        curdef = _statement_currency(statement, fallback_currency, ordinal + 1, errors)
        if curdef is None:
            ordinal += len(entries)
            continue
        for entry in entries:
            ordinal += 1
            if ordinal in plan.left_out:
                continue
            row = _read_entry(entry, ordinal, curdef, account, keys, errors)
            if row is not None and not errors:
                yield row
    errors.raise_if_any(unit="transaction")


def _statement_currency(
    statement: ET.Element, fallback: str | None, first_ordinal: int, errors: ErrorCollector
) -> str | None:
    code = (statement.findtext("CURDEF") or "").strip()
    if not code:
        if fallback is None:
            errors.add(first_ordinal, "CURDEF", NO_CURRENCY)
        return fallback
    try:
        return normalise_currency(code)
    except ValueError as exc:
        # Reported once for the statement rather than once per transaction.
        errors.add(first_ordinal, "CURDEF", str(exc))
        return None


def _read_entry(
    entry: ET.Element,
    ordinal: int,
    curdef: str,
    account: str,
    keys: ImportKeys,
    errors: ErrorCollector,
) -> ParsedRow | None:
    # A CURRENCY aggregate means this entry's amount is in another currency than CURDEF
    # (ORIGCURRENCY, by contrast, means it was already converted to CURDEF).
    code = (entry.findtext("CURRENCY/CURSYM") or "").strip()
    try:
        currency = normalise_currency(code) if code else curdef
    except ValueError as exc:
        errors.add(ordinal, "CURSYM", str(exc))
        return None
    date = _entry_date(entry, ordinal, errors)
    amount = _entry_amount(entry, ordinal, currency, errors)
    if date is None or amount is None:
        return None
    description = _entry_description(entry)
    fitid = (entry.findtext("FITID") or "").strip()
    key = (
        keys.for_fitid(account, fitid)
        if fitid
        else keys.for_content(date, amount, currency, description)
    )
    return ParsedRow(ordinal, date, amount, currency, description, None, key, _account(account))


def _account(acctid: str) -> str | None:
    """The ACCTID as an account name (printable, at most 100 characters), None when absent."""
    name = clean_text("".join(ch for ch in acctid if ch.isprintable()), MAX_ACCOUNT_CHARS)
    return name or None


def _entry_date(entry: ET.Element, ordinal: int, errors: ErrorCollector) -> datetime.date | None:
    text = (entry.findtext("DTPOSTED") or "").strip()
    if not text:
        errors.add(ordinal, "DTPOSTED", "missing date")
        return None
    try:
        return ofx_date(text)
    except ValueError:
        errors.add(ordinal, "DTPOSTED", f"could not read '{text}' as a date")
        return None


def ofx_date(text: str) -> datetime.date:
    """The calendar date of an OFX datetime, YYYYMMDD[HHMM[SS[.XXX]]][[offset:TZ]].

    The date as the bank wrote it: converting to UTC first would move evening transactions in
    the Americas to the next day, so the time and zone are checked, not applied.
    """
    stamp, bracket, zone = text.partition("[")
    if bracket and (not zone.endswith("]") or not _is_zone(zone[:-1])):
        raise ValueError(text)
    clock, dot, fraction = stamp[8:].partition(".")
    if not (stamp[:8].isascii() and stamp[:8].isdigit() and len(stamp) >= 8):
        raise ValueError(text)
    if dot and (len(clock) != 6 or not (fraction.isascii() and fraction.isdigit())):
        raise ValueError(text)
    if len(clock) not in {0, 4, 6} or not (clock.isascii() and (clock.isdigit() or not clock)):
        raise ValueError(text)
    if bracket and not clock:
        raise ValueError(text)
    hour, minute, second = int(clock[0:2] or 0), int(clock[2:4] or 0), int(clock[4:6] or 0)
    if hour > 23 or minute > 59 or second > 60:
        raise ValueError(text)
    return datetime.date(int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]))


def _is_zone(zone: str) -> bool:
    """An offset in hours, optionally with minutes and a zone name: -5:EST, +5.30, 0."""
    offset = zone.partition(":")[0]
    hours, _, minutes = offset.lstrip("+-").partition(".")
    return hours.isascii() and hours.isdigit() and (not minutes or minutes.isdigit())


def _entry_amount(
    entry: ET.Element, ordinal: int, currency: str, errors: ErrorCollector
) -> int | None:
    text = (entry.findtext("TRNAMT") or "").strip()
    if not text:
        errors.add(ordinal, "TRNAMT", "missing amount")
        return None
    try:
        return parse_amount(text, currency)
    except ValueError as exc:
        errors.add(ordinal, "TRNAMT", str(exc))
        return None


def _entry_description(entry: ET.Element) -> str:
    parts: list[str] = []
    for path in ("NAME", "PAYEE/NAME", "MEMO"):
        part = clean_text(entry.findtext(path) or "", MAX_DESCRIPTION_CHARS)
        if part and part not in parts:
            parts.append(part)
    return " - ".join(parts)[:MAX_DESCRIPTION_CHARS]
