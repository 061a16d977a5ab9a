"""Telling statement formats apart from everything else users upload, and decoding text.

Checks run on the first bytes only, so a 4 MB PDF is refused without being read.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass

from core.writes.statements.errors import UnsupportedFormat
from core.writes.statements.source import ByteSource

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "This is a PDF document; download the statement as CSV, OFX or QFX instead."),
    (b"\x89PNG", "This is a PNG image, not a statement file."),
    (b"\xff\xd8\xff", "This is a JPEG image, not a statement file."),
    (b"GIF8", "This is a GIF image, not a statement file."),
    (b"PK\x03\x04", "This is a spreadsheet (.xlsx/.ods) or ZIP archive; save it as CSV first."),
    (b"\xd0\xcf\x11\xe0", "This is an Excel (.xls) or other Office file; save it as CSV first."),
    (b"\x1f\x8b", "This is a compressed (gzip) file; unpack it first."),
    (b"{\\rtf", "This is a word-processor (RTF) document, not a statement file."),
)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_MARKUP_PREFIXES = ("<!doctype html", "<html", "<?xml", "<table", "<workbook")
_OFX_MARKERS = ("OFXHEADER", "<?OFX", "<OFX>")

_SAMPLE_CHARS = 65_536
SAMPLE_BYTES = 65_536  # what the binary and OFX checks look at: the start of the file
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_C1_BYTES = re.compile(rb"[\x80-\x9f]")
# Real statements are mostly ASCII even in German or French; a "Latin-1" decode that is mostly
# accented letters is really a binary or an unknown encoding.
_MAX_NON_ASCII_SHARE = 0.3
_MAX_CONTROL_SHARE = 0.005


@dataclass(frozen=True, slots=True)
class TextSource:
    """The upload read as text of a known encoding, one line at a time.

    The file is never decoded, nor even held, as a whole: lines are cut from one chunk of its
    bytes at a time. They are split on bytes, which is exact for every encoding read here:
    neither UTF-8 nor a single-byte code page uses the line feed or carriage return byte inside
    a character.
    """

    data: ByteSource
    start: int  # offset of the text: after a UTF-8 byte order mark
    encoding: str  # the name reported to the user ("utf-8-sig", "utf-8", "cp1252", "latin-1")
    codec: str  # what decodes the bytes after `start`
    newline: bytes  # line feed, or carriage return for classic Mac files that have no line feed

    def head(self, chars: int) -> str:
        """The first `chars` characters of the text (never a partial character)."""
        width = 1 if self.codec != "utf-8" else 4
        chunk = self.data.read(self.start, chars * width)
        return codecs.getincrementaldecoder(self.codec)().decode(chunk)[:chars]

    def lines(self, position: int | None = None) -> Iterator[str]:
        """Lines from byte `position` (default: the start of the text), as csv.reader wants."""
        for line, _ in self.lines_at(position):
            yield line

    def lines_at(self, position: int | None = None) -> Iterator[tuple[str, int]]:
        """Each line, with its ending, and the byte offset where the next line starts."""
        position = self.start if position is None else position
        carry = b""  # a line begun in the previous chunk
        for chunk in self.data.chunks(position):
            buffer = carry + chunk if carry else chunk
            view, cut = memoryview(buffer), 0
            while (stop := buffer.find(self.newline, cut) + 1) > 0:
                yield self._decode(view[cut:stop]), position + stop
                cut = stop
            position += cut
            carry = buffer[cut:]
        if carry:
            yield self._decode(memoryview(carry)), position + len(carry)

    def _decode(self, line: memoryview) -> str:
        text = str(line, self.codec)
        if self.newline == b"\r" and text.endswith("\r"):
            text = text[:-1] + "\n"  # classic Mac files read as if every CR were a line feed
        return text


def refuse_binary(data: bytes) -> None:
    """Raise UnsupportedFormat for files that are recognisably not text statements.

    `data` is the start of the file: its first `SAMPLE_BYTES` are all that is looked at.
    """
    head = data[:8]
    for signature, message in _SIGNATURES:
        if head.startswith(signature):
            raise UnsupportedFormat(message)
    if head.startswith(_UTF16_BOMS):
        raise UnsupportedFormat(
            "This file is UTF-16 text (a 'Unicode text' export); save it as CSV in UTF-8."
        )
    if b"\x00" in data[:SAMPLE_BYTES]:
        raise UnsupportedFormat("This is a binary file, not a text statement.")


def looks_like_ofx(data: bytes) -> bool:
    head = data[:4096].decode("latin-1").upper()
    return any(marker in head for marker in _OFX_MARKERS)


def refuse_markup(text: str) -> None:
    """HTML pages (some banks name them .xls) and non-OFX XML are not statements we read."""
    start = text[:200].lstrip().lower()
    if start.startswith(_MARKUP_PREFIXES):
        raise UnsupportedFormat("This is an HTML or XML document, not a CSV or OFX statement.")


def open_text(data: ByteSource) -> TextSource:
    """UTF-8 (with or without BOM) first; otherwise the Windows/Latin-1 code page banks use.

    Raises UnsupportedFormat when the result is not readable text.
    """
    survey = _survey(data)
    start = len(codecs.BOM_UTF8) if data.read(0, 3) == codecs.BOM_UTF8 else 0
    if survey.utf8:
        encoding, codec = ("utf-8-sig" if start else "utf-8"), "utf-8"
    else:
        # A file that is not UTF-8 is read from its first byte, a stray BOM included.
        start = 0
        # cp1252 only differs from Latin-1 in 0x80-0x9F (€, curly quotes); name the one that
        # applies.
        if survey.c1 and survey.cp1252:
            encoding = codec = "cp1252"
        else:
            encoding = codec = "latin-1"
    newline = b"\n" if survey.line_feed else b"\r"
    source = TextSource(data, start, encoding, codec, newline)
    _refuse_non_text(source)
    return source


@dataclass(slots=True)
class _Survey:
    utf8: bool = True  # every byte so far decodes as UTF-8
    c1: bool = False  # some byte is in 0x80-0x9F, where cp1252 and Latin-1 differ
    cp1252: bool = True  # every chunk with such bytes decodes as cp1252
    line_feed: bool = False


def _survey(data: ByteSource) -> _Survey:
    """What choosing the encoding needs to know of the whole file, in one pass over its chunks.

    A UTF-8 BOM decodes as UTF-8 too, so the check can start at the first byte either way.
    """
    survey = _Survey()
    utf8 = codecs.getincrementaldecoder("utf-8")()  # a character may straddle two chunks
    for chunk in data.chunks():
        survey.line_feed = survey.line_feed or b"\n" in chunk
        if survey.utf8:
            try:
                utf8.decode(chunk)
            except UnicodeDecodeError:
                survey.utf8 = False
        # Checked even while the file still reads as UTF-8: its multi-byte characters use these
        # bytes too, and a later chunk may yet rule UTF-8 out.
        if not chunk.isascii() and _C1_BYTES.search(chunk):
            survey.c1 = True
            survey.cp1252 = survey.cp1252 and _decodes(chunk, "cp1252")
    if survey.utf8:
        try:
            utf8.decode(b"", final=True)  # a file cut inside a character
        except UnicodeDecodeError:
            survey.utf8 = False
    return survey


def _decodes(chunk: bytes, codec: str) -> bool:
    """Whether `chunk` decodes; for single-byte code pages, where chunks decode independently."""
    try:
        chunk.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _refuse_non_text(source: TextSource) -> None:
    sample = source.head(_SAMPLE_CHARS)
    if not sample:
        return
    single_byte = source.encoding in ("cp1252", "latin-1")
    non_ascii = sum(ch > "\x7f" for ch in sample) if single_byte else 0
    controls = len(_CONTROL.findall(sample))
    # A stray Ctrl-Z or form feed is tolerated; a stream of control characters is not text.
    too_many_controls = controls > max(2, _MAX_CONTROL_SHARE * len(sample))
    if too_many_controls or non_ascii > _MAX_NON_ASCII_SHARE * len(sample):
        raise UnsupportedFormat(
            "This file is not readable text: it is binary or in an encoding other than "
            "UTF-8 or Latin-1."
        )
