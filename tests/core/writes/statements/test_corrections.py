"""OFX corrections (CORRECTFITID with CORRECTACTION REPLACE or DELETE) and CSV balance lines.

Issue 14: a correcting OFX entry was stored next to the charge it corrects (both kept), and a
Bank of America export's "Beginning balance" row, which has no amount, failed the whole file.
"""

from __future__ import annotations

import pytest

from core.writes.statements import InvalidStatement, StatementStream, open_statement
from core.writes.statements.import_keys import ImportKeys


def stream(data: bytes, name: str = "s.ofx") -> StatementStream:
    return open_statement(data, name, default_currency="USD", max_bytes=1_000_000, max_rows=1_000)


def entry(fitid: str, amount: str, name: str, extra: str = "") -> str:
    return (
        f"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20250131<TRNAMT>{amount}<FITID>{fitid}"
        f"<NAME>{name}{extra}</STMTTRN>\n"
    )


def ofx(*entries: str, acctid: str = "1234") -> bytes:
    body = "".join(entries)
    return (
        "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\n"
        "CHARSET:1252\nCOMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n"
        "<OFX><BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STMTRS><CURDEF>USD"
        f"<BANKACCTFROM><BANKID>1<ACCTID>{acctid}<ACCTTYPE>CHECKING</BANKACCTFROM>"
        f"<BANKTRANLIST><DTSTART>20250101<DTEND>20250131\n{body}</BANKTRANLIST>"
        "</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
    ).encode()


def replace(fitid: str, target: str, amount: str, name: str) -> str:
    return entry(fitid, amount, name, f"<CORRECTFITID>{target}<CORRECTACTION>REPLACE")


def delete(fitid: str, target: str) -> str:
    return entry(fitid, "0.00", "void", f"<CORRECTFITID>{target}<CORRECTACTION>DELETE")


def key_of(fitid: str, acctid: str = "1234") -> str:
    return ImportKeys().for_fitid(acctid, fitid)


def test_a_replacement_in_the_same_file_stands_for_the_charge_it_corrects() -> None:
    parsed = stream(ofx(entry("A", "-50.00", "WRONG"), replace("B", "A", "-5.00", "RIGHT")))

    rows = list(parsed)

    assert [(r.description, r.amount_minor) for r in rows] == [("RIGHT", -500)]
    assert parsed.row_count == 1
    assert [(c.account, c.import_key) for c in parsed.corrections] == [("1234", key_of("A"))]


def test_a_delete_removes_the_charge_and_is_no_transaction_itself() -> None:
    parsed = stream(
        ofx(entry("A", "-50.00", "GONE"), entry("C", "-1.00", "KEPT"), delete("D", "A"))
    )

    assert [r.description for r in parsed] == ["KEPT"]
    assert parsed.row_count == 1
    assert [c.import_key for c in parsed.corrections] == [key_of("A")]


def test_a_correction_of_an_earlier_upload_is_listed_for_the_import_to_apply() -> None:
    parsed = stream(ofx(replace("B", "A", "-5.00", "RIGHT"), delete("D", "Z")))

    assert [r.description for r in parsed] == ["RIGHT"]
    assert sorted(c.import_key for c in parsed.corrections) == sorted([key_of("A"), key_of("Z")])


def test_a_replacement_may_keep_the_fitid_it_replaces() -> None:
    parsed = stream(ofx(entry("A", "-50.00", "WRONG"), replace("A", "A", "-5.00", "RIGHT")))

    assert [r.description for r in parsed] == ["RIGHT"]
    assert [c.import_key for c in parsed.corrections] == [key_of("A")]


def test_an_unknown_correct_action_is_a_line_error() -> None:
    data = ofx(entry("B", "-5.00", "X", "<CORRECTFITID>A<CORRECTACTION>UNDO"))

    with pytest.raises(InvalidStatement) as caught:
        list(stream(data))

    assert "CORRECTACTION" in str(caught.value.errors)


BOA = (
    b"Description,,Summary Amt.\n"
    b'Beginning balance as of 01/01/2025,,"1,000.00"\n'
    b'Total credits,,"2,000.00"\n'
    b'Total debits,,"-5.00"\n'
    b'Ending balance as of 01/31/2025,,"2,995.00"\n'
    b"\n"
    b"Date,Description,Amount,Running Bal.\n"
    b'01/01/2025,Beginning balance as of 01/01/2025,,"1,000.00"\n'
    b'01/15/2025,"PAYROLL ACME","2,000.00","3,000.00"\n'
    b'01/31/2025,"Monthly account fee","-5.00","2,995.00"\n'
)


def test_a_balance_line_without_an_amount_is_skipped_and_reported() -> None:
    parsed = stream(BOA, "stmt.csv")

    rows = list(parsed)

    assert [(r.line, r.amount_minor) for r in rows] == [(9, 200000), (10, -500)]
    assert parsed.row_count == 2
    assert parsed.balance_lines == (8,)


def test_a_row_without_an_amount_that_is_no_balance_line_still_fails() -> None:
    data = BOA.replace(b"Beginning balance as of 01/01/2025,,", b"Coffee,,")

    with pytest.raises(InvalidStatement) as caught:
        list(stream(data, "stmt.csv"))

    assert "missing amount" in str(caught.value.errors)
