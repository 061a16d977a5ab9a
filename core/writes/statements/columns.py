"""Recognising the header row of a CSV export: which column holds which field.

Banks name the same column many ways ("Posted", "Booking Date", "Buchungstag"), so header cells
are normalised (case, accents, punctuation, a trailing "(EUR)") and looked up in a synonym table.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Earlier names win when a file has several columns of one kind: a card export with both
# "Transaction Date" and "Post Date" is dated by the transaction.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "date": (
        "transaction date", "date", "trans date", "txn date", "booking date", "posting date",
        "posted date", "date posted", "posted", "post date", "buchungstag", "buchungsdatum",
        "datum", "date operation", "date de l operation", "fecha", "fecha operacion",
    ),
    "description": (
        "description", "payee", "payee name", "name", "merchant", "merchant name", "narrative",
        "details", "transaction description", "transaction details", "particulars", "narration",
        "memo", "beguenstigter zahlungspflichtiger", "begunstigter zahlungspflichtiger",
        "auftraggeber empfanger", "empfanger", "buchungstext", "verwendungszweck",
        "beschreibung", "libelle", "libelle operation", "concepto", "descripcion",
        "omschrijving", "naam omschrijving",
    ),
    "amount": ("amount", "transaction amount", "amt", "betrag", "montant", "importe", "bedrag"),
    "debit": (
        "debit", "debits", "debit amount", "withdrawal", "withdrawals", "withdrawal amount",
        "money out", "paid out", "out", "soll", "cargo",
    ),
    "credit": (
        "credit", "credits", "credit amount", "deposit", "deposits", "deposit amount",
        "money in", "paid in", "in", "haben", "abono",
    ),
    "category": (
        "category", "categories", "transaction category", "kategorie", "categorie", "categoria",
    ),
    "currency": ("currency", "ccy", "currency code", "wahrung", "devise", "moneda", "valuta"),
    # Recognised so they count towards spotting the header row; their values are not used.
    "balance": ("balance", "running balance", "closing balance", "saldo", "solde", "kontostand"),
}  # fmt: skip

_ROLE_OF: dict[str, tuple[str, int]] = {
    name: (role, rank) for role, names in _SYNONYMS.items() for rank, name in enumerate(names)
}
# Innermost brackets only: `\([^)]*\)` scanned from every "(" to the end of a cell with no ")",
# quadratic in a preamble line of brackets. Stopping at the next opening bracket too keeps each
# character in one scan; the brackets left over become spaces below anyway.
_BRACKETED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
_NON_WORD = re.compile(r"[^a-z0-9]+")

EXAMPLES = {
    "date": "'Date', 'Posted' or 'Transaction Date'",
    "description": "'Description', 'Payee', 'Memo' or 'Details'",
    "amount": "'Amount', or a pair of 'Debit' and 'Credit' columns",
}


def normalise_header(cell: str) -> str:
    decomposed = unicodedata.normalize("NFKD", cell.strip().lstrip("\ufeff"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return _NON_WORD.sub(" ", _BRACKETED.sub(" ", plain)).strip()


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Indexes of the columns the parser reads; `names` are the header cells as written."""

    names: tuple[str, ...]
    date: int | None
    descriptions: tuple[int, ...]
    amount: int | None
    debit: int | None
    credit: int | None
    category: int | None
    currency: int | None
    recognised: int  # distinct kinds of column found, to tell a header row from a preamble

    def missing(self) -> list[str]:
        missing = [role for role in ("date", "description") if not self._has(role)]
        if self.amount is None and (self.debit is None or self.credit is None):
            missing.append("amount")
        return missing

    def has_date_or_amount(self) -> bool:
        """A preamble line may mention a name or a balance; a header names a date or money."""
        money = (self.amount, self.debit, self.credit)
        return self.date is not None or any(index is not None for index in money)

    def _has(self, role: str) -> bool:
        return bool(self.descriptions) if role == "description" else self.date is not None


def map_columns(cells: list[str]) -> ColumnMap:
    best: dict[str, tuple[int, int]] = {}  # role -> (rank, index)
    descriptions: list[int] = []
    for index, cell in enumerate(cells):
        found = _ROLE_OF.get(normalise_header(cell))
        if found is None:
            continue
        role, rank = found
        if role == "description":
            descriptions.append(index)
        if role not in best or rank < best[role][0]:
            best[role] = (rank, index)

    def pick(role: str) -> int | None:
        return best[role][1] if role in best else None

    return ColumnMap(
        names=tuple(cell.strip().lstrip("\ufeff") for cell in cells),
        date=pick("date"),
        descriptions=tuple(descriptions),
        amount=pick("amount"),
        debit=pick("debit"),
        credit=pick("credit"),
        category=pick("category"),
        currency=pick("currency"),
        recognised=len(best),
    )
