"""Invoice arithmetic: exact integers, one rounding rule, no database.

Amounts are integer minor units; percentages and tax rates are basis points (8.25% = 825).

Per line (the rounding happens here, once per line, half-up):
    gross    = quantity * unit_price
    discount = the amount given, or round_half_up(gross * percent_bp / 10000); never more than gross
    net      = gross - discount
    tax      = round_half_up(net * tax_rate_bp / 10000)
Per invoice:
    subtotal      = sum(net)
    tax breakdown = for each rate, sum of the lines' taxes (and of their nets, the base)
    total         = subtotal + sum(taxes)
So the breakdown always adds up to what the lines show; tax is never recomputed on a rate's base.
"""
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext

from ...money import round_half_up

MAX_QUANTITY = 100_000
MAX_AMOUNT = 10**13  # minor units: a unit price or discount; far above any clinic's line
# A line's or an invoice's amount stays below 10^15 minor units: far above any real invoice, and with
# room under 2**63 (BSON's int64) for what is added to it (payments, credit notes, reports' sums).
MAX_TOTAL = 10**15 - 1
BP = 10_000  # basis points in 100%


class TotalsError(ValueError):
    """A line that cannot be computed; str(exc) is for the user."""


@dataclass(frozen=True)
class LineAmounts:
    gross: int
    discount: int
    net: int
    tax: int

    @property
    def total(self):
        return self.net + self.tax


@dataclass(frozen=True)
class TaxAmount:
    rate: int
    base: int
    tax: int
    name: str | None = None


@dataclass(frozen=True)
class Totals:
    subtotal: int
    discount_total: int
    taxes: tuple
    tax_total: int
    total: int


def _whole(value, name, minimum, maximum, too_large=None):
    """`value` if a whole number in minimum..maximum; raises TotalsError (`too_large`: the message for
    money, whose limits are minor units a person never typed)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TotalsError(f"The {name} must be a whole number.")
    if value < minimum:
        raise TotalsError(f"The {name} cannot be negative." if minimum == 0 else
                          f"The {name} must be at least {minimum}.")
    if value > maximum:
        raise TotalsError(too_large or f"The {name} must be at most {maximum}.")
    return value


def _exact(numerator, denominator):
    """numerator / denominator rounded half-up (money.round_half_up) with enough digits to be exact."""
    with localcontext() as ctx:
        ctx.prec = 60
        return round_half_up(Decimal(numerator) / Decimal(denominator))


def line_amounts(quantity, unit_price, discount_kind=None, discount_value=0, tax_rate=0):
    """The amounts of one line; raises TotalsError for a quantity < 1, a negative price, a percent
    over 100% or an unknown discount kind."""
    _whole(quantity, "quantity", 1, MAX_QUANTITY)
    _whole(unit_price, "unit price", 0, MAX_AMOUNT, "The unit price is too large.")
    _whole(tax_rate, "tax rate", 0, BP, "A tax rate is at most 100%.")
    discount_value = discount_value or 0
    gross = quantity * unit_price
    if gross > MAX_TOTAL:
        raise TotalsError("This line comes to more than an invoice can hold: lower the quantity or the price.")
    if discount_kind in (None, "") or discount_value == 0:
        discount = 0
    elif discount_kind == "amount":
        discount = min(_whole(discount_value, "discount", 0, MAX_AMOUNT, "The discount is too large."), gross)
    elif discount_kind == "percent":
        discount = min(_exact(gross * _whole(discount_value, "discount percentage", 0, BP,
                                             "A discount is at most 100%."), BP), gross)
    else:
        raise TotalsError("A discount is an amount or a percentage.")
    net = gross - discount
    return LineAmounts(gross=gross, discount=discount, net=net, tax=_exact(net * tax_rate, BP))


def invoice_totals(lines, tax_names=None):
    """Totals of `lines` (LineAmounts, each with its `tax_rate`, given as (rate, LineAmounts) pairs).

    `tax_names`: {rate: name} for the breakdown's labels. Rates appear in the breakdown in
    ascending order, including 0% when some line has it.
    """
    names = tax_names or {}
    subtotal = discount_total = 0
    by_rate = {}
    for rate, amounts in lines:
        subtotal += amounts.net
        discount_total += amounts.discount
        base, tax = by_rate.get(rate, (0, 0))
        by_rate[rate] = (base + amounts.net, tax + amounts.tax)
    taxes = tuple(TaxAmount(rate=rate, base=base, tax=tax, name=names.get(rate))
                  for rate, (base, tax) in sorted(by_rate.items()))
    tax_total = sum(t.tax for t in taxes)
    if subtotal + tax_total > MAX_TOTAL:
        raise TotalsError("The invoice would come to more than an invoice can hold: split it, or check the "
                          "quantities and prices.")
    return Totals(subtotal=subtotal, discount_total=discount_total, taxes=taxes, tax_total=tax_total,
                  total=subtotal + tax_total)


def share(amount, part, whole):
    """round_half_up(amount * part / whole): a line's net or tax for `part` of its `whole` quantity
    (credit notes). part == whole gives `amount` exactly."""
    if part == whole:
        return amount
    return _exact(amount * part, whole)


def rate_label(rate):
    """825 -> '8.25%', 2000 -> '20%', 0 -> '0%'."""
    whole, frac = divmod(rate, 100)
    return f"{whole}%" if not frac else f"{whole}.{frac:02d}".rstrip("0") + "%"


def parse_rate(text):
    """'8.25' / '8.25%' / '20' -> basis points (825, 2000); raises TotalsError."""
    raw = (text or "").strip().rstrip("%").strip()
    try:
        value = Decimal(raw) if len(raw) <= 20 else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise TotalsError("Enter a percentage such as 10 or 8.25.")
    bp = value * 100
    if bp != bp.to_integral_value():
        raise TotalsError("Use at most two decimals in a percentage, e.g. 8.25.")
    if not 0 <= bp <= BP:
        raise TotalsError("A percentage is from 0 to 100.")
    return int(bp)
