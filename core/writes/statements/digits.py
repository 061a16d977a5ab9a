"""Only the digits 0-9 are numbers in Tally's input.

Python reads far more as digits: `int()` of full-width one-two-three is 123 and `\\d` matches
Arabic-Indic, Devanagari and full-width digits, so such an amount was stored as 123.00. No bank
writes amounts or dates that way, and a look-alike digit is as likely a trick as a mistake: it is
refused with a reason.
"""

from __future__ import annotations


def foreign_digits(text: str) -> bool:
    """Whether `text` holds a character Python counts as numeric other than ASCII 0-9."""
    return not text.isascii() and any(ch.isnumeric() and not ch.isascii() for ch in text)


def require_ascii_digits(text: str, what: str) -> None:
    if foreign_digits(text):
        raise ValueError(f"{what} '{text.strip()[:20]}' has digits other than 0-9")
