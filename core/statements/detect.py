"""Telling statement formats apart from everything else users upload, and decoding text.

Checks run on the first bytes only, so a 4 MB PDF is refused without being read.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass

from core.statements.errors import UnsupportedFormat

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
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_C1_BYTES = re.compile(rb"[\x80-\x9f]")
# Real statements are mostly ASCII even in German or French; a "Latin-1" decode that is mostly
# accented letters is really a binary or an unknown encoding.
_MAX_NON_ASCII_SHARE = 0.3
_MAX_CONTROL_SHARE = 0.005
_DECODE_CHUNK_BYTES = 262_144


@dataclass(frozen=True, slots=True)
class TextSource:
    """The upload's bytes read as text of a known encoding, one line at a time.

    The file is never decoded as a whole: a str copy of it would double what an upload holds
    in memory. Lines are split on bytes, which is exact for every encoding read here: neither
    UTF-8 nor a single-byte code page uses the line feed or carriage return byte inside a
    character.
    """

    data: bytes
    start: int  # offset of the text: after a UTF-8 byte order mark
    encoding: str  # the name reported to the user ("utf-8-sig", "utf-8", "cp1252", "latin-1")
    codec: str  # what decodes the bytes after `start`
    newline: bytes  # line feed, or carriage return for classic Mac files that have no line feed

    def head(self, chars: int) -> str:
        """The first `chars` characters of the text (never a partial character)."""
        width = 1 if self.codec != "utf-8" else 4
        chunk = memoryview(self.data)[self.start : self.start + chars * width]
        return codecs.getincrementaldecoder(self.codec)().decode(chunk)[:chars]

    def line_at(self, position: int) -> tuple[str, int]:
        """The line starting at byte `position`, with its ending, and where the next starts."""
        stop = self.data.find(self.newline, position)
        stop = len(self.data) if stop < 0 else stop + 1
        line = str(memoryview(self.data)[position:stop], self.codec)
        if self.newline == b"\r" and line.endswith("\r"):
            line = line[:-1] + "\n"  # classic Mac files read as if every CR were a line feed
        return line, stop

    def lines(self, position: int | None = None) -> Iterator[str]:
        """Lines from byte `position` (default: the start of the text), as csv.reader wants."""
        position = self.start if position is None else position
        end = len(self.data)
        while position < end:
            line, position = self.line_at(position)
            yield line


def refuse_binary(data: bytes) -> None:
    """Raise UnsupportedFormat for files that are recognisably not text statements."""
    head = data[:8]
    for signature, message in _SIGNATURES:
        if head.startswith(signature):
            raise UnsupportedFormat(message)
    if head.startswith(_UTF16_BOMS):
        raise UnsupportedFormat(
            "This file is UTF-16 text (a 'Unicode text' export); save it as CSV in UTF-8."
        )
    if b"\x00" in data[:_SAMPLE_CHARS]:
        raise UnsupportedFormat("This is a binary file, not a text statement.")


def looks_like_ofx(data: bytes) -> bool:
    head = data[:4096].decode("latin-1").upper()
    return any(marker in head for marker in _OFX_MARKERS)


def refuse_markup(text: str) -> None:
    """HTML pages (some banks name them .xls) and non-OFX XML are not statements we read."""
    start = text[:200].lstrip().lower()
    if start.startswith(_MARKUP_PREFIXES):
        raise UnsupportedFormat("This is an HTML or XML document, not a CSV or OFX statement.")


def open_text(data: bytes) -> TextSource:
    """UTF-8 (with or without BOM) first; otherwise the Windows/Latin-1 code page banks use.

    Raises UnsupportedFormat when the result is not readable text.
    """
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    if _decodes(data, start, "utf-8"):
        encoding, codec = ("utf-8-sig" if start else "utf-8"), "utf-8"
    else:
        # A file that is not UTF-8 is read from its first byte, a stray BOM included.
        start = 0
        # cp1252 only differs from Latin-1 in 0x80-0x9F (€, curly quotes); name the one that
        # applies.
        if _C1_BYTES.search(data) and _decodes(data, 0, "cp1252"):
            encoding = codec = "cp1252"
        else:
            encoding = codec = "latin-1"
    newline = b"\n" if b"\n" in data else b"\r"
    source = TextSource(data, start, encoding, codec, newline)
    _refuse_non_text(source)
    return source


def _decodes(data: bytes, start: int, codec: str) -> bool:
    """Whether the bytes from `start` decode, checked in chunks so no copy of the file is made."""
    if data.isascii():
        return True
    decoder = codecs.getincrementaldecoder(codec)()
    view = memoryview(data)
    try:
        for offset in range(start, len(data), _DECODE_CHUNK_BYTES):
            decoder.decode(view[offset : offset + _DECODE_CHUNK_BYTES])
        decoder.decode(b"", final=True)
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
