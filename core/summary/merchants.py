"""Merchant names from bank descriptions: `normalise_merchant` strips card-terminal noise,
masked card numbers, phone numbers and trailing references, so one merchant groups under one
name in `top_merchants` and `recurring` (the rule is spelled out in `core.summary.figures`).
Pure text, no I/O.
"""

import re
import unicodedata
from functools import lru_cache

# A masked card number: up to four runs of mask characters, each run followed by one space or
# hyphen, then 2-4 digits ("XXXX1234", "**** **** 4242", "xx-99"). Every pattern here sees user
# text and must run in time linear in its length. The older `(?:[x*#]{2,}[\s-]?){1,4}` split one
# run of mask characters into groups in polynomially many ways before failing: a 500-character
# run of "*" took minutes. Here each run is taken whole (possessive `{2,}+`: what follows a run
# is never a mask character, so giving one back could not help), which leaves one way to match.
_MASK = r"(?:[x*#]{2,}+[\s-]){0,3}[x*#]{2,}+[\s-]?\d{2,4}"

# Noise a card terminal or bank puts before the merchant's name; stripped repeatedly because
# banks stack them ("POS DEBIT VISA 01/15 ...").
_NOISE_PREFIX_WORDS = (
    r"pos(?:\s+(?:debit|purchase|transaction|signature))?",
    r"point\s+of\s+sale",
    r"(?:debit\s+|credit\s+)?card\s+(?:purchase|payment|transaction)",
    r"debit\s+card(?:\s+purchase)?",
    r"debit\s+purchase",
    r"visa(?:\s+(?:debit|purchase))?",
    r"master\s?card",
    r"check\s?card(?:\s+\d{4})?",  # BofA puts the MMDD straight after it
    r"contactless",
    r"direct\s+debit",
    r"recurring\s+payment",
    r"purchase(?:\s+authorized\s+on)?",
    r"\d{1,2}/\d{1,2}(?:/\d{2,4})?",  # a transaction date
    _MASK,  # a masked card number
)
# Payment processors that prefix the real merchant as "SQ *MERCHANT".
_PROCESSOR_PREFIXES = ("sq", "tst", "paypal", "pp", "sp", "google", "goog")
# Matched at a position (`pattern.match(text, pos)`), never by slicing the text: stripping
# thousands of stacked prefixes stays one pass over the text.
_NOISE_PREFIX = re.compile(
    r"(?:(?:" + "|".join(_NOISE_PREFIX_WORDS) + r")(?:\s+|$)"
    r"|(?:" + "|".join(_PROCESSOR_PREFIXES) + r")\s*\*\s*)"
)
# Masked card numbers and phone numbers can sit anywhere, including inside the merchant's part.
# A mask starts where a run of mask characters starts and is not glued to a word ("tax 2024"
# is no mask), or just after a "*" or "#" that glues it to a name ("AMZN*XX1234"). Either way a
# run offers at most two starting points: trying again at every position inside a long run, as
# the older pattern did, was quadratic.
_MASKED_CARD = re.compile(r"(?:(?<![a-z*#])|(?<=[a-wyz][*#]))" + _MASK + r"\b")
_PHONE = re.compile(r"(?:\(\d{3}\)\s?|\b\d{3}[-.])\d{3}[-.]\d{4}\b")
# From the first token after the name's first word that is a reference: "#..." or a token with
# three or more digits (store numbers, dates, order ids). Two digits are kept ("Forever 21").
_REFERENCE_TAIL = re.compile(r"\s(?:#|(?:[^\s\d]*\d){3}).*$")
_WORD_START = re.compile(r"(?:^|(?<=[\s&/(+\-]))(\w)")
_EDGE_PUNCTUATION = " -.,*#/:;_|"


def normalise_merchant(description: str) -> str:
    """The merchant's display name, also its grouping key ("" when nothing identifiable is left).

    "POS NETFLIX.COM 866-579-7172" -> "Netflix.com"; "SQ *BLUE BOTTLE COFFEE" -> "Blue Bottle
    Coffee". Cached: the same descriptions recur month after month and across users.
    """
    return _normalise_merchant(description)


def normalise_uncached(description: str) -> str:
    """`normalise_merchant` without the process-wide cache (for one-off passes over many new
    descriptions, such as a large upload's, which would otherwise fill it)."""
    return _normalise_merchant.__wrapped__(description)


@lru_cache(maxsize=65_536)
def _normalise_merchant(description: str) -> str:
    # NFKC first so full-width and ligature forms group with their plain spelling.
    text = " ".join(unicodedata.normalize("NFKC", description).casefold().split())
    text = _PHONE.sub(" ", _MASKED_CARD.sub(" ", text)).strip()
    start = 0
    while match := _NOISE_PREFIX.match(text, start):
        start = match.end()
    text = text[start:].lstrip()
    # After the processor prefixes are gone, "*" only separates a name from a reference
    # ("AMZN MKTP US*2K4RT5") or a sub-name ("UBER *EATS").
    text = " ".join(text.replace("*", " ").split())
    text = _REFERENCE_TAIL.sub("", text).strip(_EDGE_PUNCTUATION)
    if not any(char.isalpha() for char in text):
        return ""
    return _WORD_START.sub(lambda m: m.group(1).upper(), text)
