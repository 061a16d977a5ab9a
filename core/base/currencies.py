"""ISO 4217 currency codes and their minor-unit exponents.

Only active codes of real currencies are listed: precious metals, testing codes and withdrawn
currencies are refused so that a typo in a statement or a form field surfaces as an error
instead of silently creating a new currency in the user's summary.
"""

from __future__ import annotations

import re

# Most currencies have two minor digits, so only the exceptions are spelled out.
_TWO_DIGIT_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN
    BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP
    LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR
    NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP
    STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER
    ZAR ZMW ZWG ZWL
"""
_ZERO_DIGIT_CODES = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE_DIGIT_CODES = "BHD IQD JOD KWD LYD OMR TND"
_FOUR_DIGIT_CODES = "CLF UYW"

_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_TWO_DIGIT_CODES.split(), 2),
    **dict.fromkeys(_ZERO_DIGIT_CODES.split(), 0),
    **dict.fromkeys(_THREE_DIGIT_CODES.split(), 3),
    **dict.fromkeys(_FOUR_DIGIT_CODES.split(), 4),
}

_CODE_SHAPE = re.compile(r"[A-Z]{3}")


def is_valid_currency(code: str) -> bool:
    """True for an active ISO 4217 code written as three uppercase letters."""
    return bool(_CODE_SHAPE.fullmatch(code)) and code in _EXPONENTS


def currency_exponent(code: str) -> int:
    """Number of minor-unit digits (JPY 0, USD 2, KWD 3); ValueError for an unknown code."""
    if not is_valid_currency(code):
        raise ValueError(f"'{code}' is not a known ISO 4217 currency code")
    return _EXPONENTS[code]


def normalise_currency(text: str) -> str:
    """Uppercase and validate a code read from a file or a form field.

    Statements and forms write codes in any case; the stored code is always canonical.
    Returns the interned table key so thousands of rows share one string object.
    """
    code = text.strip().upper()
    if not is_valid_currency(code):
        raise ValueError(f"'{text.strip()}' is not a known ISO 4217 currency code")
    return _CANONICAL[code]


_CANONICAL: dict[str, str] = {code: code for code in _EXPONENTS}
