"""core.summary.merchants: bank descriptions to merchant names."""

import pytest

from core.summary.merchants import normalise_merchant

MERCHANT_NAMES = [
    ("NETFLIX.COM 866-579-7172", "Netflix.com"),
    ("  Netflix.com  ", "Netflix.com"),
    ("Netflix.com (866) 579-7172", "Netflix.com"),
    ("AMAZON MKTPLACE 123456789", "Amazon Mktplace"),
    ("AMZN Mktp US*2K4RT5AB3", "Amzn Mktp Us"),
    ("AMAZON.COM*MK1234 AMZN.COM/BILL WA", "Amazon.com"),
    ("TESCO STORES 3017", "Tesco Stores"),
    ("POS TESCO STORES 2041", "Tesco Stores"),
    ("POS STARBUCKS #1234", "Starbucks"),
    ("STARBUCKS STORE 12345 SEATTLE WA", "Starbucks Store"),
    ("CARD PURCHASE SAINSBURYS S/MKTS 15/03", "Sainsburys S/Mkts"),
    ("VISA XXXX1234 SHELL OIL 57444300108 HOUSTON TX", "Shell Oil"),
    ("DEBIT CARD PURCHASE ****5678 WHOLE FOODS MARKET", "Whole Foods Market"),
    ("CHECKCARD 0315 SHELL SERVICE STATION", "Shell Service Station"),
    ("POS DEBIT VISA 4/02 TRADER JOE S #552", "Trader Joe S"),
    ("PURCHASE AUTHORIZED ON 01/15 CHIPOTLE 1234", "Chipotle"),
    ("SQ *BLUE BOTTLE COFFEE", "Blue Bottle Coffee"),
    ("TST* JOE'S PIZZA 0042", "Joe's Pizza"),
    ("PAYPAL *SPOTIFY 4029357733", "Spotify"),
    ("SPOTIFY - 123456", "Spotify"),
    ("UBER *EATS", "Uber Eats"),
    ("DIRECT DEBIT BRITISH GAS 850012345", "British Gas"),
    ("7-ELEVEN 35412", "7-Eleven"),
    ("1-800-FLOWERS.COM", "1-800-Flowers.com"),
    ("FOREVER 21 #0123", "Forever 21"),
    ("McDonald's F12345", "Mcdonald's"),
    ("H&M 0457 LONDON", "H&M"),
    ("Straße Café", "Strasse Café"),
    ("STRASSE CAFÉ", "Strasse Café"),
    ("\uff2e\uff25\uff34\uff26\uff2c\uff29\uff38", "Netflix"),  # full-width "NETFLIX"
    ("ACME CORP PAYROLL 000123", "Acme Corp Payroll"),
    ("POS 1234", ""),
    ("XXXX1234", ""),
    ("", ""),
]


@pytest.mark.parametrize(("description", "merchant"), MERCHANT_NAMES)
def test_normalise_merchant(description: str, merchant: str) -> None:
    assert normalise_merchant(description) == merchant


def test_normalised_names_are_stable() -> None:
    for _, merchant in MERCHANT_NAMES:
        assert normalise_merchant(merchant) == merchant
