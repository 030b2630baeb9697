"""Money: integer minor units of a currency, formatted and parsed with Babel.

Babel (CLDR data) knows each currency's number of decimals (JPY 0, USD 2, KWD 3) and
each locale's symbol placement and separators, so nothing here keeps its own list.
"""
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency, get_currency_precision

DEFAULT_LOCALE = "en_US"

# What a person types as an amount: digits (thousands commas allowed), a point and decimals, maybe a
# minus. Not "1e3", "NaN", "Infinity" or other digits than 0-9, which Decimal would read.
TYPED_AMOUNT = re.compile(r"-?(?:[0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)")


class MoneyError(ValueError):
    """An amount that cannot be read as money in the given currency."""


def decimals(currency):
    """Digits after the point in `currency`'s minor unit: JPY 0, USD 2, KWD 3."""
    return get_currency_precision((currency or "").upper())


def to_major(minor, currency):
    """Integer minor units -> exact Decimal in major units (1234 USD -> Decimal('12.34'))."""
    return Decimal(int(minor)).scaleb(-decimals(currency))


def to_minor(amount, currency):
    """'12.34' / Decimal / int in major units -> integer minor units; raises MoneyError.

    Refuses more decimals than the currency has (no silent rounding of what a person typed)."""
    places = decimals(currency)
    try:
        value = Decimal(str(amount).strip().replace(",", ""))
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError("Enter an amount such as 12.50.") from exc
    if not value.is_finite():
        raise MoneyError("Enter an amount such as 12.50.")
    scaled = value.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"Use at most {places} decimal places." if places else "Use whole amounts.")
    if abs(scaled) >= 10**15:
        raise MoneyError("That amount is too large.")
    return int(scaled)


def read_money(text, currency):
    """An amount a person typed in major units -> integer minor units of `currency`; raises MoneyError."""
    text = (text or "").strip()
    if len(text) > 200 or not TYPED_AMOUNT.fullmatch(text):
        raise MoneyError("Enter an amount such as 12.50." if decimals(currency) else
                         "Enter a whole amount such as 1200.")
    if len(text.lstrip("-").split(".")[0].replace(",", "")) > 15:
        raise MoneyError("That amount is too large.")
    return to_minor(text, currency)


def rescale(minor, old, new):
    """`minor` units of currency `old` as the same amount typed in `new` (50.00 USD -> 50 JPY, rounded half up
    when `new` has fewer decimals): what a price becomes when a clinic corrects its currency."""
    return round_half_up(Decimal(int(minor)).scaleb(decimals(new) - decimals(old)))


def round_half_up(value):
    """Nearest integer, halves away from zero (the billing rounding rule)."""
    return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_money(minor, currency, locale=None):
    """'$1,234.50', '¥4,900', 'KWD 1.250': integer minor units for people, in `locale`."""
    currency = (currency or "").upper()
    return format_currency(to_major(minor, currency), currency, locale=locale or DEFAULT_LOCALE)


def major_str(minor, currency):
    """'1234.50': plain major units with the currency's decimals (CSV, form values, JSON)."""
    places = decimals(currency)
    return f"{to_major(minor, currency):.{places}f}"
