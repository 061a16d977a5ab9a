"""Money text to integer minor units, through `decimal.Decimal` and never through float."""

from __future__ import annotations

import re
from decimal import Decimal

from core.base.currencies import currency_exponent, is_valid_currency
from core.base.money import display
from core.writes.statements.digits import require_ascii_digits

# The largest amount stored, in minor units of any currency (9,999,999,999.99 USD): a user's sums
# stay inside the summary's 64-bit columns for up to 9.2 million transactions at the limit.
MAX_ABS_MINOR = 10**12 - 1

# Fourteen integer digits keep every exponent's minor units far inside a signed 64-bit column.
_MAX_INTEGER_DIGITS = 14
_MAX_FRACTION_DIGITS = 8

# The only form the JSON API accepts, and the fast path for the machine-written amounts
# ("-12.34", "1500") that make up most bank exports.
_PLAIN = re.compile(r"[+-]?[0-9]{1,14}(?:\.[0-9]{1,8})?")
# No real amount is longer; the cap also keeps regex work per cell bounded.
_MAX_TEXT_CHARS = 64

_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2212": "-"})
_SYMBOL = r"[A-Z]{0,3}\$|[€£¥₹₩₽₺₪₫₴₦₱฿]"
_WORD = r"[^\W\d_]{2,3}\.?"
_LEADING = re.compile(
    rf"(?:(?P<sign>[+-])|(?P<symbol>{_SYMBOL})|(?P<word>{_WORD})(?=[\s\d+.,-]))\s*"
)
_TRAILING = re.compile(rf"\s*(?:(?P<sign>[+-])|(?P<symbol>{_SYMBOL})|(?P<word>{_WORD}))$")
# Local symbols that are words rather than signs; they name no single ISO code, so they are
# accepted without a check against the row's currency.
_SYMBOL_WORDS = frozenset({"kr", "kr.", "zł", "kč", "ft", "fr", "fr.", "lei", "rs", "rs."})
_BODY = re.compile(r"[\d.,' ]+")
_GROUP_SEPARATORS = re.compile(r"[.,' ]")


def parse_amount(text: str, currency: str, *, decimal_mark: str | None = None) -> int:
    """Read a bank-formatted amount as minor units of `currency`.

    Accepts `1,234.56`, `-12.34`, `(12.34)`, `12,34`, `1.234,56`, `1 234,56`, `$12`, `€ 5`,
    `USD 12.00`, `12.34-`, `+12.34`, `12.34 CR` / `12.34 DR`. `decimal_mark` ("." or ",") is
    the file-wide mark when the caller knows it; without it a lone comma followed by exactly
    three digits is a thousands separator and a lone dot is always a decimal point.
    Raises ValueError with a reason fit to show the user.
    """
    exponent = currency_exponent(currency)
    stripped = text.strip()
    if not stripped:
        raise ValueError("missing amount")
    require_ascii_digits(stripped, "amount")
    if len(stripped) > _MAX_TEXT_CHARS:
        raise ValueError(f"amount '{stripped[:20]}...' is not a number")
    if decimal_mark != "," and _PLAIN.fullmatch(stripped):
        return _to_minor(Decimal(stripped), exponent, stripped, currency)
    negative, body, code = _split_affixes(stripped)
    if code is not None and code != currency:
        raise ValueError(f"amount '{stripped}' is in {code} but the row's currency is {currency}")
    integer, fraction = _split_number(body, stripped, decimal_mark)
    value = Decimal(f"{'-' if negative else ''}{integer}.{fraction or '0'}")
    return _to_minor(value, exponent, stripped, currency)


def amount_to_minor(value: str | int, currency: str) -> int:
    """Validate an API amount: an int is already minor units, a str is a plain decimal ("12.34").

    Floats are refused outright: by the time a float reaches us the cents may already be wrong.
    """
    exponent = currency_exponent(currency)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(
            "amount must be a decimal string such as '12.34' or an integer number of minor "
            f"units, not {type(value).__name__}"
        )
    if isinstance(value, int):
        return _bounded(value, str(value), currency)
    text = check_amount_text(value)
    return _to_minor(Decimal(text), exponent, text, currency)


def check_amount_text(value: str) -> str:
    """An API amount's text, stripped, if it is a plain decimal ("12.34"); else ValueError."""
    text = value.strip()
    require_ascii_digits(text, "amount")
    if not _PLAIN.fullmatch(text):
        raise ValueError(f"amount '{value}' is not a decimal number such as '12.34' or '-5'")
    return text


def decimal_mark_hint(text: str) -> str | None:
    """The decimal mark an amount's text implies, or None when it cannot tell.

    Used to vote on one mark for a whole file, so that `1.234` in a file full of `12,50`
    amounts reads as one thousand two hundred and thirty-four.
    """
    body = "".join(ch for ch in text if ch in "0123456789.,")
    dots, commas = body.count("."), body.count(",")
    if dots and commas:
        return "." if body.rfind(".") > body.rfind(",") else ","
    if dots > 1:
        return ","
    if commas > 1:
        return "."
    mark = "." if dots else "," if commas else None
    if mark is None or len(body) - body.index(mark) - 1 == 3:
        return None
    return mark


def _to_minor(value: Decimal, exponent: int, text: str, currency: str) -> int:
    scaled = value.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        places = "no decimal places" if exponent == 0 else f"at most {exponent} decimal places"
        raise ValueError(f"amount '{text}' has more decimals than {currency} allows ({places})")
    return _bounded(int(scaled), text, currency)


def _bounded(minor: int, text: str, currency: str) -> int:
    if abs(minor) > MAX_ABS_MINOR:
        limit = display(MAX_ABS_MINOR, currency)
        raise ValueError(
            f"amount '{text}' is too large: the limit is {limit} ({MAX_ABS_MINOR:,} minor units)"
        )
    return minor


def _split_affixes(text: str) -> tuple[bool, str, str | None]:
    """Peel signs, parentheses, symbols, ISO codes and CR/DR off both ends of an amount."""
    body = text.translate(_SPACES).strip()
    signs: list[bool] = []  # True for a negative marker
    if body.startswith("(") and body.endswith(")"):
        signs.append(True)
        body = body[1:-1].strip()
    code: str | None = None
    while body:
        match = _LEADING.match(body) or _TRAILING.search(body)
        if match is None:
            break
        code = _read_affix(match, text, signs, code)
        body = (body[: match.start()] + body[match.end() :]).strip()
    if len(signs) > 1:
        raise ValueError(f"amount '{text}' has more than one sign")
    return bool(signs and signs[0]), body.strip(), code


def _read_affix(match: re.Match[str], text: str, signs: list[bool], code: str | None) -> str | None:
    if match.group("sign"):
        signs.append(match.group("sign") == "-")
        return code
    word = match.group("word")
    if word is None:
        return code
    if word.upper() in ("CR", "DR"):
        signs.append(word.upper() == "DR")
        return code
    if word.lower() in _SYMBOL_WORDS:
        return code
    upper = word.upper()
    if is_valid_currency(upper) and code in (None, upper):
        return upper
    raise ValueError(f"amount '{text}' is not a number")


def _split_number(body: str, text: str, decimal_mark: str | None) -> tuple[str, str]:
    """Split digits-and-separators into integer and fraction digits, checking the grouping."""
    if not _BODY.fullmatch(body) or not any(ch.isdigit() for ch in body):
        raise ValueError(f"amount '{text}' is not a number")
    mark = _decimal_mark_of(body, decimal_mark)
    integer, fraction = body.rsplit(mark, 1) if mark else (body, "")
    if fraction and not fraction.isdigit():
        raise ValueError(f"amount '{text}' is not a number")
    digits = _ungroup(integer.strip(), text)
    if len(digits.lstrip("0")) > _MAX_INTEGER_DIGITS:
        raise ValueError(f"amount '{text}' is too large")
    if len(fraction) > _MAX_FRACTION_DIGITS:
        raise ValueError(f"amount '{text}' has too many decimals")
    return digits or "0", fraction


def _decimal_mark_of(body: str, decimal_mark: str | None) -> str | None:
    if decimal_mark is not None:
        return decimal_mark if decimal_mark in body else None
    last_dot, last_comma = body.rfind("."), body.rfind(",")
    if last_dot >= 0 and last_comma >= 0:
        return "." if last_dot > last_comma else ","
    if last_dot >= 0:
        return "." if body.count(".") == 1 else None
    if last_comma >= 0 and body.count(",") == 1 and len(body) - last_comma - 1 != 3:
        return ","
    return None


def _ungroup(integer: str, text: str) -> str:
    """Remove thousands separators after checking they sit where thousands separators go."""
    if integer.isdigit() or not integer:
        return integer
    separators = set(_GROUP_SEPARATORS.findall(integer))
    groups = _GROUP_SEPARATORS.split(integer)
    lengths = [len(group) for group in groups[1:]]
    western = all(n == 3 for n in lengths)
    # Indian grouping (1,23,45,678.00): pairs of digits, then a final group of three.
    indian = lengths[-1] == 3 and all(n == 2 for n in lengths[:-1])
    if len(separators) != 1 or not 1 <= len(groups[0]) <= 3 or not (western or indian):
        raise ValueError(f"amount '{text}' has misplaced thousands separators")
    return "".join(groups)
