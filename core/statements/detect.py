"""Telling statement formats apart from everything else users upload, and decoding text.

Checks run on the first bytes only, so a 4 MB PDF is refused without being read.
"""

from __future__ import annotations

import codecs
import re
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


@dataclass(frozen=True, slots=True)
class DecodedText:
    text: str
    encoding: str


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


def decode_text(data: bytes) -> DecodedText:
    """UTF-8 (with or without BOM) first; otherwise the Windows/Latin-1 code page banks use."""
    if data.startswith(codecs.BOM_UTF8):
        body, encoding = data[len(codecs.BOM_UTF8) :], "utf-8-sig"
    else:
        body, encoding = data, "utf-8"
    try:
        decoded = DecodedText(body.decode("utf-8"), encoding)
    except UnicodeDecodeError:
        decoded = _decode_single_byte(data)
    _refuse_non_text(decoded)
    return decoded


def _decode_single_byte(data: bytes) -> DecodedText:
    # cp1252 only differs from Latin-1 in 0x80-0x9F (€, curly quotes); name the one that applies.
    if _C1_BYTES.search(data):
        try:
            return DecodedText(data.decode("cp1252"), "cp1252")
        except UnicodeDecodeError:
            pass
    return DecodedText(data.decode("latin-1"), "latin-1")


def _refuse_non_text(decoded: DecodedText) -> None:
    sample = decoded.text[:_SAMPLE_CHARS]
    if not sample:
        return
    single_byte = decoded.encoding in ("cp1252", "latin-1")
    non_ascii = sum(ch > "\x7f" for ch in sample) if single_byte else 0
    controls = len(_CONTROL.findall(sample))
    # A stray Ctrl-Z or form feed is tolerated; a stream of control characters is not text.
    too_many_controls = controls > max(2, _MAX_CONTROL_SHARE * len(sample))
    if too_many_controls or non_ascii > _MAX_NON_ASCII_SHARE * len(sample):
        raise UnsupportedFormat(
            "This file is not readable text: it is binary or in an encoding other than "
            "UTF-8 or Latin-1."
        )
