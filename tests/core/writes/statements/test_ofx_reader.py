"""The OFX reader on what banks and attackers send beyond the corpus.

Nothing here is timed: a scan that is not linear in the file's length never lets a test with
10,000 repetitions finish. Entities are never resolved beyond XML's five and character
references, and a document type declaration is refused rather than read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.writes.statements import InvalidStatement, ParsedStatement, parse_statement
from core.writes.statements.ofx_format import ofx_date

N = 10_000
GOOD = Path(__file__).resolve().parent / "corpus" / "good"
OFX_V1 = (GOOD / "ofx1_sgml_checking.ofx").read_bytes()
OFX_V2 = (GOOD / "ofx2_xml_savings.ofx").read_bytes()


def parse(data: bytes, name: str = "statement.ofx", **options: Any) -> ParsedStatement:
    return parse_statement(
        data, name, default_currency="USD", max_bytes=4_000_000, max_rows=10_000, **options
    )


def problems(exc: pytest.ExceptionInfo[InvalidStatement]) -> list[tuple[int, str]]:
    return [(error.line, error.reason) for error in exc.value.errors]


def with_name(name: bytes, data: bytes = OFX_V1) -> bytes:
    return data.replace(b"<NAME>GROCERY OUTLET", b"<NAME>" + name, 1)


def test_a_document_type_declaration_is_refused_and_its_entities_never_read() -> None:
    head, _, body = OFX_V2.partition(b"<OFX>")
    doctype = b'<!DOCTYPE OFX [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    data = head + doctype + b"<OFX>" + body.replace(b"Zinsgutschrift", b"&xxe;", 1)

    with pytest.raises(InvalidStatement) as exc:
        parse(data)

    ((line, reason),) = problems(exc)
    assert line == 3
    assert "document type declaration" in reason


def test_an_unknown_entity_stays_as_written() -> None:
    rows = parse(with_name(b"A &xxe; B &amp; C")).rows

    assert rows[0].description.startswith("A &xxe; B & C")


def test_character_references_and_nbsp_are_read() -> None:
    rows = parse(with_name(b"CAF&#201; &#x263A;&nbsp;&lt;1&gt; &quot;x&quot; &apos;")).rows

    assert rows[0].description.startswith('CAF\u00c9 \u263a <1> "x" \'')


def test_an_out_of_range_character_reference_stays_as_written() -> None:
    rows = parse(with_name(b"A &#1114112; &#0; B")).rows

    assert rows[0].description.startswith("A &#1114112; &#0; B")


def test_a_cdata_section_may_span_lines() -> None:
    rows = parse(with_name(b"<![CDATA[GROCERY\r\n<&> OUTLET]]>")).rows

    assert rows[0].description.startswith("GROCERY <&> OUTLET")


def test_a_header_on_one_line() -> None:
    head, found, rest = OFX_V1.partition(b"<OFX>")
    data = b" ".join(head.split()) + b"\r\n" + found + rest

    assert len(parse(data).rows) == 3


def test_a_utf8_ofx1_file() -> None:
    data = with_name("CAFÉ".encode()).replace(b"ENCODING:USASCII", b"ENCODING:UTF-8")
    data = data.replace(b"CHARSET:1252", b"CHARSET:NONE")

    statement = parse(data)

    assert statement.encoding == "utf-8"
    assert statement.rows[0].description.startswith("CAFÉ")


def test_an_unknown_charset_is_a_header_error() -> None:
    with pytest.raises(InvalidStatement) as exc:
        parse(OFX_V1.replace(b"CHARSET:1252", b"CHARSET:EBCDIC"))

    ((line, reason),) = problems(exc)
    assert line == 1
    assert "OFX header is invalid" in reason


def test_bytes_the_declared_charset_cannot_decode_name_their_line() -> None:
    data = with_name("CAFÉ".encode("cp1252"), OFX_V2)

    with pytest.raises(InvalidStatement) as exc:
        parse(data.replace(b"<NAME>Zinsgutschrift", b"<NAME>\xff", 1))

    ((line, reason),) = problems(exc)
    assert line == 30
    assert "UTF-8" in reason


def test_a_self_closing_and_an_empty_element_are_empty() -> None:
    data = OFX_V2.replace(b"<NAME>Zinsgutschrift</NAME>", b"<NAME/><MEMO></MEMO>", 1)

    assert parse(data).rows[0].description == ""


def test_xml_comments_are_skipped() -> None:
    data = OFX_V2.replace(b"<NAME>Zinsgutschrift", b"<!-- a <b> -->\n<NAME>Zins<!-- x -->gut", 1)

    assert parse(data).rows[0].description == "Zinsgut"


# --- linear in the file's length ---------------------------------------------------------------


def test_a_run_of_unclosed_angle_brackets() -> None:
    with pytest.raises(InvalidStatement) as exc:
        parse(with_name(b"<" * N))

    ((_, reason),) = problems(exc)
    assert "malformed" in reason


def test_a_run_of_ampersands_and_half_references() -> None:
    rows = parse(with_name(b"&" * N + b"&#" * N + b"&#x" * N)).rows

    assert rows[0].description.startswith("&&&")


def test_deeply_nested_unclosed_aggregates() -> None:
    head, found, _ = OFX_V1.partition(b"<OFX>")

    with pytest.raises(InvalidStatement) as exc:
        parse(head + found + b"\r\n<A>" * N)

    ((line, reason),) = problems(exc)
    assert line == 11 + N
    assert "ends before <A> is closed" in reason


def test_a_run_of_cdata_openers_inside_one_section() -> None:
    rows = parse(with_name(b"<![CDATA[" + b"<![CDATA[" * N + b"]]>")).rows

    assert rows[0].description.startswith("<![CDATA[<![CDATA[")


def test_an_unclosed_comment() -> None:
    with pytest.raises(InvalidStatement) as exc:
        parse(with_name(b"<!--" * N))

    ((_, reason),) = problems(exc)
    assert "comment" in reason


def test_many_leaf_elements_with_end_tags_of_other_names() -> None:
    data = with_name(b"x</MEMO>" * N)

    with pytest.raises(InvalidStatement) as exc:
        parse(data)

    ((line, reason),) = problems(exc)
    assert line == 44
    assert "found </MEMO> where </STMTTRN> was expected" in reason


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("20240305", "2024-03-05"),
        ("202403051200", "2024-03-05"),
        ("20240305120000", "2024-03-05"),
        ("20240305120000.000", "2024-03-05"),
        ("20240331230000[-8:PST]", "2024-03-31"),
        ("20240331230000.123[+5.30:IST]", "2024-03-31"),
        ("20240331230000[0]", "2024-03-31"),
    ],
)
def test_ofx_dates(text: str, day: str) -> None:
    assert ofx_date(text).isoformat() == day


@pytest.mark.parametrize(
    "text",
    [
        "2024030",
        "20240230",
        "2024-03-05",
        "20240305T12",
        "202403051",
        "20240305250000",
        "20240305120000[-5:EST",
        "20240305[-5]",
        "20240305.000",
        "\uff12\uff10\uff12\uff14\uff10\uff13\uff10\uff15",
    ],
)
def test_bad_ofx_dates(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        ofx_date(text)
