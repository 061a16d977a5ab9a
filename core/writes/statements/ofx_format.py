"""OFX 1.x (SGML), OFX 2.x (XML) and QFX files, read with the `ofxtools` library.

ofxtools handles the header, the character set and SGML's optional end tags. Its model layer
(`OFXTree.convert`) is not used: it rejects whole files over spec details banks routinely get
wrong (a 40-character NAME, a missing SIGNON block), while all we need is each STMTTRN.
The library is imported inside `open_ofx`, so the upload endpoint's cold start stays small.
"""

from __future__ import annotations

import codecs
import datetime
import functools
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.base.currencies import normalise_currency
from core.writes.statements.amounts import parse_amount
from core.writes.statements.errors import (
    ErrorCollector,
    InvalidStatement,
    LineError,
    StatementTooLarge,
)
from core.writes.statements.keys import ImportKeys
from core.writes.statements.model import (
    MAX_ACCOUNT_CHARS,
    MAX_DESCRIPTION_CHARS,
    ParsedRow,
    StatementStream,
    clean_text,
)

if TYPE_CHECKING:
    from ofxtools.Parser import TreeBuilder

_STATEMENT_TAGS = ("STMTRS", "CCSTMTRS")
_ACCOUNT_PATHS = ("BANKACCTFROM/ACCTID", "CCACCTFROM/ACCTID")
_CODEC_NAMES = {"utf_8": "utf-8", "cp1252": "cp1252", "latin_1": "latin-1"}
_POSITION = re.compile(r"position=\[(\d+):\d+\]")
_BLANKS = re.compile(rb"\s+")
_CDATA_OPEN, _CDATA_CLOSE = "<![CDATA[", "]]>"
# Some banks send the SGML body without the OFX header block that ofxtools requires.
_SYNTHETIC_HEADER = (
    "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\n"
    "CHARSET:{charset}\nCOMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n"
)


@dataclass(frozen=True, slots=True)
class _Source:
    data: bytes
    added_lines: int  # lines of synthetic header in front of the user's file


def open_ofx(data: bytes, filename: str, *, currency: str, max_rows: int) -> StatementStream:
    """Parse an OFX/QFX file's structure now, its transactions on iteration.

    `currency` applies only when the file has no CURDEF. The whole tree is kept: OFX files
    are small next to CSV exports, and ofxtools cannot read one incrementally anyway.
    """
    source = _with_header(data)
    root, encoding = _parse_tree(source)
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
    is_qfx = filename.lower().endswith(".qfx") or any(e.tag == "INTU.BID" for e in root.iter())
    return StatementStream(
        "qfx" if is_qfx else "ofx",
        encoding,
        None,
        None,
        count,
        functools.partial(_read_transactions, statements, currency, count),
    )


def _with_header(data: bytes) -> _Source:
    body = data.removeprefix(codecs.BOM_UTF8).lstrip()
    head = body[:4096].upper()
    if b"OFXHEADER" in head:
        return _Source(body, 0)
    start = max(head.find(b"<OFX>"), 0)
    try:
        body[start:].decode("utf-8")
        charset = "NONE"  # ofxtools reads CHARSET:NONE as UTF-8
    except UnicodeDecodeError:
        charset = "1252"
    header = _SYNTHETIC_HEADER.format(charset=charset)
    return _Source(header.encode("ascii") + body[start:], header.count("\n"))


def _parse_tree(source: _Source) -> tuple[ET.Element, str]:
    from ofxtools.header import OFXHeaderError, parse_header
    from ofxtools.Parser import ParseError

    head, rest = _split_header(source.data)
    try:
        header, body = parse_header(io.BytesIO(head))
        if rest is not None:
            body = rest.decode(header.codec).strip()
    except (OFXHeaderError, UnicodeDecodeError, ValueError) as exc:
        # ofxtools quotes the whole raw header in its message; its first line is the gist.
        detail = str(exc).strip().splitlines()[0].rstrip(":") if str(exc).strip() else "unreadable"
        raise _malformed(1, f"the OFX header is invalid ({detail})") from None
    unclosed = _unclosed_cdata(body)
    if unclosed is not None:
        line = _line_at(source, body, unclosed)
        raise _malformed(line, "a CDATA section is not closed on its line")
    builder = _strict_tree_builder()()
    try:
        builder.feed(body)
        root = builder.close()
    except (ParseError, IndexError) as exc:
        raise _malformed(_error_line(source, body, str(exc)), _reason(str(exc))) from None
    if root.tag != "OFX":
        raise _malformed(1, f"the document's root element is <{root.tag}>, not <OFX>")
    encoding = _CODEC_NAMES.get(str(header.codec), str(header.codec))
    return root, encoding


def _split_header(data: bytes) -> tuple[bytes, bytes | None]:
    """What ofxtools' header parser is given, and the OFX 1 body it must not see.

    For OFX 1 it searches the header lines with a pattern that, when they do not match, starts
    again at every position and scans a whole run of blanks from each: quadratic in a broken
    header's run of spaces, or in a body line read along with it. So it is given only the
    header (everything before the first "<"), each run of blanks cut to one; the body is
    decoded here. OFX 2 (an XML declaration) is searched for a literal, linear: left whole.
    """
    if data.lstrip().startswith(b"<?xml"):
        return data, None
    cut = data.find(b"<")
    cut = len(data) if cut < 0 else cut
    head = _BLANKS.sub(lambda m: b"\n" if b"\n" in m[0] else b" ", data[:cut])
    return head + b"\n", data[cut:]


def _unclosed_cdata(body: str) -> int | None:
    """Offset of the first line holding a CDATA section that does not close on that line.

    ofxtools reads CDATA as `<![CDATA[.+]]>` within one line: from each unclosed opener its
    pattern scans to the end of the line and back, quadratic in a line of openers, and the
    section's text would be dropped without a word.
    """
    if _CDATA_OPEN not in body:
        return None
    offset = 0
    for line in body.split("\n"):
        opener = line.rfind(_CDATA_OPEN)
        if opener >= 0 and line.find(_CDATA_CLOSE, opener) < 0:
            return offset
        offset += len(line) + 1
    return None


def _malformed(line: int, reason: str) -> InvalidStatement:
    return InvalidStatement([LineError(line, None, f"the OFX file is malformed: {reason}")])


def _reason(message: str) -> str:
    return _POSITION.sub("", message).rstrip(" -") or "broken structure"


def _error_line(source: _Source, body: str, message: str) -> int:
    """Physical line of a parse error: ofxtools reports an offset into the body text."""
    match = _POSITION.search(message)
    return _line_at(source, body, int(match.group(1)) if match else len(body))


def _line_at(source: _Source, body: str, offset: int) -> int:
    """Physical line of an offset into the body text."""
    body_start = source.data.upper().find(b"<OFX")
    first_line = source.data[: max(body_start, 0)].count(b"\n") + 1 - source.added_lines
    return max(first_line + body[:offset].count("\n"), 1)


@functools.cache
def _strict_tree_builder() -> type[TreeBuilder]:
    """ofxtools' builder, checking that every end tag closes the element that is open.

    The C ElementTree builder pops whatever is open, so without this a file with crossed or
    missing end tags parses "successfully" into a wrong tree and transactions go missing.
    """
    from ofxtools.Parser import ParseError, TreeBuilder

    class StrictTreeBuilder(TreeBuilder):
        def __init__(self) -> None:
            super().__init__()
            self._open: list[str] = []

        def start(self, tag: str, attrs: dict[str, str], /) -> ET.Element:
            self._open.append(tag)
            return super().start(tag, attrs)

        def end(self, tag: str, /) -> ET.Element:
            if not self._open or self._open[-1] != tag:
                expected = f"</{self._open[-1]}>" if self._open else "no end tag"
                raise ParseError(f"found </{tag}> where {expected} was expected")
            self._open.pop()
            return super().end(tag)

        def close(self) -> ET.Element:
            if self._open:
                raise ParseError(f"the file ends before <{self._open[-1]}> is closed")
            return super().close()

    return StrictTreeBuilder


def _read_transactions(
    statements: list[ET.Element], fallback_currency: str, count: int
) -> Iterator[ParsedRow]:
    errors = ErrorCollector()
    keys = ImportKeys(count)
    ordinal = 0
    for statement in statements:
        account = next(
            (text.strip() for path in _ACCOUNT_PATHS if (text := statement.findtext(path))), ""
        )
        entries = statement.findall("BANKTRANLIST/STMTTRN")
        curdef = _statement_currency(statement, fallback_currency, ordinal + 1, errors)
        if curdef is None:
            ordinal += len(entries)
            continue
        for entry in entries:
            ordinal += 1
            row = _read_entry(entry, ordinal, curdef, account, keys, errors)
            if row is not None and not errors:
                yield row
    errors.raise_if_any(unit="transaction")


def _statement_currency(
    statement: ET.Element, fallback: str, first_ordinal: int, errors: ErrorCollector
) -> str | None:
    code = (statement.findtext("CURDEF") or "").strip()
    if not code:
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
    from ofxtools.Types import DT_REGEX

    text = (entry.findtext("DTPOSTED") or "").strip()
    if not text:
        errors.add(ordinal, "DTPOSTED", "missing date")
        return None
    match = DT_REGEX.match(text)
    try:
        if match is None:
            raise ValueError(text)
        # The calendar date as the bank wrote it; converting to UTC first (as ofxtools'
        # DateTime type does) would move evening transactions in the Americas to the next day.
        return datetime.date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError:
        errors.add(ordinal, "DTPOSTED", f"could not read '{text}' as a date")
        return None


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
    from ofxtools.Types import String

    # ofxtools' String type undoes the SGML/XML escapes (&amp; &lt; &nbsp; ...) banks write.
    unescape = String()
    parts: list[str] = []
    for path in ("NAME", "PAYEE/NAME", "MEMO"):
        text = entry.findtext(path) or ""
        part = clean_text(unescape.convert(text) or "", MAX_DESCRIPTION_CHARS)
        if part and part not in parts:
            parts.append(part)
    return " - ".join(parts)[:MAX_DESCRIPTION_CHARS]
