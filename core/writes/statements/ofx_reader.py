"""OFX 1.x (SGML) and OFX 2.x (XML) files to an element tree, in one forward pass.

Our own small reader: every scan is a `str.find` forward from the current position, and a scan
that finds nothing ends the parse with an error, so the work is linear in the file's length.
There is no regular expression over user text. Entities are never resolved: XML's five
predefined ones, OFX's `&nbsp;` and character references are decoded, any other `&name;` is kept
as written, and a document type declaration (where entities would be declared) is refused.

SGML's optional end tags: an element whose start tag is followed by text is a leaf (its end tag
may follow, or not); one followed by another tag is an aggregate, whose end tag must come and
must close the aggregate that is open. The tree is `xml.etree.ElementTree.Element`s, built
by hand (ElementTree's parser never sees the file).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from core.writes.statements.errors import InvalidStatement, LineError

_HEADER_FIELDS = (
    "OFXHEADER",
    "DATA",
    "VERSION",
    "SECURITY",
    "ENCODING",
    "CHARSET",
    "OLDFILEUID",
    "NEWFILEUID",
)
_CHARSETS = {"1252": "cp1252", "ISO-8859-1": "latin-1", "NONE": "utf-8"}
_XML_ENCODINGS = {
    "UTF-8": "utf-8",
    "US-ASCII": "utf-8",
    "ISO-8859-1": "latin-1",
    "LATIN1": "latin-1",
    "WINDOWS-1252": "cp1252",
    "CP1252": "cp1252",
}
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'", "nbsp": " "}
_LONGEST_REFERENCE = 10  # "&#x10FFFF;" minus the ampersand
_NAME_PUNCTUATION = frozenset("._-:")
_CDATA_OPEN, _CDATA_CLOSE = "<![CDATA[", "]]>"
_SHOWN_TAG_CHARS = 20


@dataclass(frozen=True, slots=True)
class OfxDocument:
    root: Element
    encoding: str  # the name reported to the user: "utf-8", "cp1252" or "latin-1"


def malformed(line: int, reason: str) -> InvalidStatement:
    return InvalidStatement([LineError(line, None, f"the OFX file is malformed: {reason}")])


def _header_error(reason: str) -> InvalidStatement:
    return InvalidStatement([LineError(1, None, f"the OFX header is invalid ({reason})")])


def read_ofx(data: bytes) -> OfxDocument:
    """The file's element tree, or InvalidStatement naming the line of the first problem."""
    data = data.removeprefix(codecs.BOM_UTF8)
    start = len(data) - len(data.lstrip())
    if data.startswith(b"<?xml", start):
        encoding = _xml_encoding(data, start)
        body_start = start
    elif b"OFXHEADER" in data[start : start + 4096].upper():
        body_start = data.find(b"<", start)
        body_start = len(data) if body_start < 0 else body_start
        encoding = _sgml_encoding(data[start:body_start])
    else:
        # Some banks send the SGML body with no header block: what precedes <OFX> is dropped.
        found = data[start : start + 4096].upper().find(b"<OFX>")
        body_start = start + max(found, 0)
        encoding = "utf-8" if _decodes(data[body_start:], "utf-8") else "cp1252"
    first_line = data.count(b"\n", 0, body_start) + 1
    body = data[body_start:]
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        line = first_line + body.count(b"\n", 0, exc.start)
        raise malformed(line, f"the bytes are not {_display(encoding)} text") from None
    root = _Builder(text, first_line).build()
    if root.tag != "OFX":
        raise malformed(1, f"the document's root element is <{root.tag}>, not <OFX>")
    return OfxDocument(root, encoding)


def _display(encoding: str) -> str:
    return {"utf-8": "UTF-8", "cp1252": "Windows-1252", "latin-1": "ISO-8859-1"}[encoding]


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _sgml_encoding(header: bytes) -> str:
    """The codec an OFX 1 header names: `KEY:VALUE` fields, one a line or all on one line."""
    fields: dict[str, str] = {}
    words = header.decode("ascii", "replace").split()
    index = 0
    while index < len(words):
        key, colon, value = words[index].partition(":")
        if not colon:
            raise _header_error(f"'{words[index][:_SHOWN_TAG_CHARS]}' is not a KEY:VALUE field")
        if not value and index + 1 < len(words) and ":" not in words[index + 1]:
            index += 1
            value = words[index]
        fields[key.upper()] = value.upper()
        index += 1
    missing = [name for name in _HEADER_FIELDS if not fields.get(name)]
    if missing:
        raise _header_error("missing " + ", ".join(missing))
    if fields["ENCODING"] in {"UTF-8", "UTF8"}:
        return "utf-8"
    charset = fields["CHARSET"]
    if charset not in _CHARSETS:
        raise _header_error(f"unknown CHARSET '{charset[:_SHOWN_TAG_CHARS]}'")
    return _CHARSETS[charset]


def _xml_encoding(data: bytes, start: int) -> str:
    """The codec an XML declaration names (UTF-8 when it names none)."""
    end = data.find(b"?>", start)
    if end < 0:
        raise _header_error("the XML declaration is not closed")
    declaration = data[start:end].decode("ascii", "replace")
    _, found, rest = declaration.partition("encoding=")
    if not found or not rest:
        return "utf-8"
    quote = rest[0]
    name = rest[1:].partition(quote)[0].strip().upper()
    if name not in _XML_ENCODINGS:
        raise _header_error(f"unsupported encoding '{name[:_SHOWN_TAG_CHARS]}'")
    return _XML_ENCODINGS[name]


def unescape(text: str) -> str:
    """Decode the predefined entities and character references; keep anything else as it is."""
    if "&" not in text:
        return text
    parts: list[str] = []
    position = 0
    while (amp := text.find("&", position)) >= 0:
        parts.append(text[position:amp])
        semicolon = text.find(";", amp + 1, amp + 2 + _LONGEST_REFERENCE)
        decoded = _reference(text[amp + 1 : semicolon]) if semicolon > 0 else None
        if decoded is None:
            parts.append("&")
            position = amp + 1
        else:
            parts.append(decoded)
            position = semicolon + 1
    parts.append(text[position:])
    return "".join(parts)


def _reference(name: str) -> str | None:
    if not name.startswith("#"):
        return _ENTITIES.get(name)
    digits, base = (name[2:], 16) if name[1:2] in {"x", "X"} else (name[1:], 10)
    allowed = "0123456789abcdefABCDEF" if base == 16 else "0123456789"
    if not digits or any(c not in allowed for c in digits):
        return None
    code = int(digits, base)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


class _Builder:
    """One pass over the body text: markup, text runs, and the stack of open aggregates."""

    def __init__(self, text: str, first_line: int) -> None:
        self.text = text
        self.first_line = first_line

    def line(self, offset: int) -> int:
        return self.first_line + self.text.count("\n", 0, offset)

    def build(self) -> Element:
        text = self.text
        stack: list[Element] = []
        root: Element | None = None
        position = 0
        while True:
            _, position = self.read_text(position)  # text between elements is ignored
            if position >= len(text):
                break
            end = self.markup_end(position)
            raw = text[position + 1 : end - 1]
            if raw.startswith("/"):
                name = self.tag_name(raw[1:], position)
                if not stack or stack[-1].tag != name:
                    expected = f"</{stack[-1].tag}>" if stack else "no end tag"
                    reason = f"found </{name}> where {expected} was expected"
                    raise malformed(self.line(position), reason)
                stack.pop()
                position = end
                continue
            closed = raw.endswith("/")
            element = Element(self.tag_name(raw.removesuffix("/"), position))
            if stack:
                stack[-1].append(element)
            elif root is None:
                root = element
            else:
                raise malformed(self.line(position), f"a second root element <{element.tag}>")
            if closed:
                position = end
                continue
            value, position = self.read_text(end)
            if value.strip():
                element.text = value.strip()
                position = self.skip_end_tag(position, element.tag)
            else:
                stack.append(element)
        if stack:
            reason = f"the file ends before <{stack[-1].tag}> is closed"
            raise malformed(self.line(len(text.rstrip())), reason)
        if root is None:
            raise malformed(self.first_line, "the file holds no OFX element")
        return root

    def read_text(self, position: int) -> tuple[str, int]:
        """The text from `position` to the next tag (CDATA kept, comments dropped)."""
        text = self.text
        parts: list[str] = []
        while True:
            lt = text.find("<", position)
            if lt < 0:
                parts.append(unescape(text[position:]))
                return "".join(parts), len(text)
            parts.append(unescape(text[position:lt]))
            if text.startswith(_CDATA_OPEN, lt):
                close = text.find(_CDATA_CLOSE, lt + len(_CDATA_OPEN))
                if close < 0:
                    raise malformed(self.line(lt), "a CDATA section is not closed")
                parts.append(text[lt + len(_CDATA_OPEN) : close])
                position = close + len(_CDATA_CLOSE)
            elif text.startswith("<!--", lt):
                close = text.find("-->", lt + 4)
                if close < 0:
                    raise malformed(self.line(lt), "a comment is not closed")
                position = close + 3
            elif text.startswith("<?", lt):
                close = text.find("?>", lt + 2)
                if close < 0:
                    raise malformed(self.line(lt), "a processing instruction is not closed")
                position = close + 2
            elif text.startswith("<!", lt):
                reason = "a document type declaration (<!DOCTYPE ...>) is not allowed in OFX"
                raise malformed(self.line(lt), reason)
            else:
                return "".join(parts), lt

    def markup_end(self, position: int) -> int:
        """Offset just past the `>` closing the tag at `position`."""
        close = self.text.find(">", position + 1)
        following = self.text.find("<", position + 1, close if close >= 0 else len(self.text))
        if close < 0 or following >= 0:
            raise malformed(self.line(position), "a tag is not closed with '>'")
        return close + 1

    def tag_name(self, raw: str, position: int) -> str:
        name = raw.split(maxsplit=1)[0] if raw.strip() else ""
        if not name or not all(c.isalnum() or c in _NAME_PUNCTUATION for c in name):
            shown = raw[:_SHOWN_TAG_CHARS]
            raise malformed(self.line(position), f"'<{shown}>' is not a tag")
        return name.upper()

    def skip_end_tag(self, position: int, name: str) -> int:
        """Past a leaf's own optional end tag, if that is what comes next."""
        if not self.text.startswith("</", position):
            return position
        end = self.markup_end(position)
        raw = self.text[position + 2 : end - 1]
        return end if raw.strip().upper() == name else position
