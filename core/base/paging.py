"""Keyset pagination shared by the list endpoints: the row id a cursor carries."""

from __future__ import annotations

# Row ids are BIGINT: a larger number in a cursor would be a database error, not a bad cursor.
MAX_ID = 2**63 - 1


def parse_id(text: str) -> int:
    """A row id as this API writes it in a cursor (ASCII digits, within BIGINT)."""
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_ID:
        raise ValueError("cursor is not one this API returned")
    return int(text)
