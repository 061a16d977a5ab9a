"""Integer minor units to text. Money is never a float, not even on its way to a string."""

from __future__ import annotations

from core.base.currencies import currency_exponent


def _parts(minor: int, currency: str) -> tuple[str, int, int, int]:
    exponent = currency_exponent(currency)
    whole, fraction = divmod(abs(minor), 10**exponent)
    return ("-" if minor < 0 else ""), whole, fraction, exponent


def decimal_string(minor: int, currency: str) -> str:
    """For machines: 123456 USD -> "1234.56", -5 JPY -> "-5"."""
    sign, whole, fraction, exponent = _parts(minor, currency)
    return f"{sign}{whole}.{fraction:0{exponent}d}" if exponent else f"{sign}{whole}"


def display(minor: int, currency: str) -> str:
    """For people: 123456 USD -> "1,234.56 USD". An unknown code is shown in minor units."""
    try:
        sign, whole, fraction, exponent = _parts(minor, currency)
    except ValueError:
        # Never guess an exponent: a wrong one would misstate the amount a hundredfold.
        return f"{minor:,} minor units of {currency}"
    amount = f"{whole:,}.{fraction:0{exponent}d}" if exponent else f"{whole:,}"
    return f"{sign}{amount} {currency}"
