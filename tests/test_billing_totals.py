"""Invoice arithmetic against hand-computed cases: per line half-up, breakdown per rate, money formatting."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_app.money import format_money, major_str, round_half_up
from clinic_app.services.billing.totals import (LineAmounts, TotalsError, invoice_totals, line_amounts, parse_rate,
                                                rate_label, share)


@pytest.mark.parametrize("args,expected", [
    # qty, unit, discount kind, value, tax bp -> gross, discount, net, tax
    ((1, 10000, None, 0, 0), (10000, 0, 10000, 0)),
    ((3, 1999, None, 0, 2000), (5997, 0, 5997, 1199)),  # 5997 * 0.20 = 1199.4 -> 1199
    ((1, 1000, None, 0, 825), (1000, 0, 1000, 83)),  # 82.5 -> 83 (half up)
    ((1, 1010, None, 0, 825), (1010, 0, 1010, 83)),  # 83.325 -> 83
    ((2, 303, None, 0, 825), (606, 0, 606, 50)),  # 49.995 -> 50
    ((1, 200, None, 0, 2500), (200, 0, 200, 50)),  # exact
    ((1, 1, None, 0, 5000), (1, 0, 1, 1)),  # 0.5 -> 1: the smallest half rounds up
    ((1, 1, None, 0, 4999), (1, 0, 1, 0)),  # 0.4999 -> 0
    ((4, 2500, "amount", 1500, 1000), (10000, 1500, 8500, 850)),
    ((1, 999, "percent", 1000, 0), (999, 100, 899, 0)),  # 99.9 -> 100
    ((1, 995, "percent", 1000, 0), (995, 100, 895, 0)),  # 99.5 -> 100 (half up)
    ((1, 994, "percent", 1000, 0), (994, 99, 895, 0)),  # 99.4 -> 99
    ((3, 333, "percent", 1000, 825), (999, 100, 899, 74)),  # 74.1675 -> 74
    ((1, 500, "amount", 900, 2000), (500, 500, 0, 0)),  # discount capped at gross
    ((1, 500, "percent", 10000, 2000), (500, 500, 0, 0)),  # 100% off
    ((10, 0, None, 0, 2000), (0, 0, 0, 0)),  # a free line
    ((1, 4900, None, 0, 1000), (4900, 0, 4900, 490)),  # JPY: minor unit = yen, same rule
])
def test_line_amounts_match_hand_computed_cases(args, expected):
    a = line_amounts(*args)
    assert (a.gross, a.discount, a.net, a.tax) == expected
    assert a.total == a.net + a.tax


def test_invoice_totals_add_line_taxes_per_rate_never_recomputing_on_the_base():
    # Three lines whose taxes each round up (0.5 -> 1): the breakdown says 3, where 50% of the
    # base (1.5) rounded once would say 2.
    lines = [(5000, line_amounts(1, 1, None, 0, 5000)) for _ in range(3)]  # 0.5 -> 1 each
    t = invoice_totals(lines)
    assert (t.subtotal, t.tax_total, t.total) == (3, 3, 6)  # round(1.5) on the base would say 2
    assert [(x.rate, x.base, x.tax) for x in t.taxes] == [(5000, 3, 3)]


def test_invoice_with_several_rates_and_discounts():
    lines = [
        (2000, line_amounts(1, 5000, None, 0, 2000)),  # consultation 50.00 @20% -> tax 10.00
        (2000, line_amounts(2, 1250, "percent", 1000, 2000)),  # 25.00 - 2.50 = 22.50 -> 4.50
        (500, line_amounts(3, 333, None, 0, 500)),  # 9.99 @5% = 0.4995 -> 0.50
        (0, line_amounts(1, 1800, "amount", 300, 0)),  # 18.00 - 3.00 = 15.00, no tax
    ]
    t = invoice_totals(lines, {2000: "VAT", 500: "VAT reduced"})
    assert t.subtotal == 5000 + 2250 + 999 + 1500 == 9749
    assert t.discount_total == 250 + 300
    assert [(x.rate, x.name, x.base, x.tax) for x in t.taxes] == [
        (0, None, 1500, 0), (500, "VAT reduced", 999, 50), (2000, "VAT", 7250, 1450)]
    assert t.tax_total == 1500 and t.total == 11249


@pytest.mark.parametrize("args,message", [
    ((0, 100), "quantity"), ((-1, 100), "quantity"), ((1.5, 100), "quantity"), ((True, 100), "quantity"),
    ((1, -1), "unit price"), ((1, 1.0), "unit price"),
    ((1, 100, "percent", 10001), "discount is at most 100%"), ((1, 100, "amount", -5), "discount"),
    ((1, 100, "bogus", 5), "amount or a percentage"), ((1, 100, None, 0, 10001), "tax rate"),
])
def test_impossible_lines_are_refused(args, message):
    with pytest.raises(TotalsError, match=message):
        line_amounts(*args)


@given(qty=st.integers(1, 1000), unit=st.integers(0, 10**7), bp=st.integers(0, 10000), rate=st.integers(0, 10000))
def test_rounding_is_round_half_up_of_the_exact_value(qty, unit, bp, rate):
    from decimal import Decimal, localcontext

    a = line_amounts(qty, unit, "percent", bp, rate)
    with localcontext() as c:
        c.prec = 60
        assert a.discount == round_half_up(Decimal(qty * unit) * bp / 10000)
        assert a.tax == round_half_up(Decimal(a.net) * rate / 10000)
    assert 0 <= a.discount <= a.gross and a.net == a.gross - a.discount


def test_share_gives_the_remainder_exactly_when_crediting_the_rest():
    assert share(1000, 1, 3) == 333 and share(1000, 2, 3) == 667 and share(1000, 3, 3) == 1000
    assert share(5, 1, 2) == 3  # 2.5 -> 3
    first = share(1000, 1, 3)
    assert first + share(1000 - first, 2, 2) == 1000


def test_rates_read_and_print_as_percentages():
    assert [parse_rate(x) for x in ("20", "8.25", "8.25%", "0", "100", " 5 ")] == [2000, 825, 825, 0, 10000, 500]
    for bad in ("8.255", "-1", "101", "abc", "", "nan"):
        with pytest.raises(TotalsError):
            parse_rate(bad)
    assert [rate_label(x) for x in (2000, 825, 0, 50, 1050)] == ["20%", "8.25%", "0%", "0.5%", "10.5%"]


@pytest.mark.parametrize("minor,currency,shown,plain", [
    (123450, "USD", "$1,234.50", "1234.50"),
    (123450, "EUR", "€1,234.50", "1234.50"),
    (4900, "JPY", "¥4,900", "4900"),  # no decimals
    (1250, "KWD", "KWD1.250", "1.250"),  # three decimals
    (-500, "USD", "-$5.00", "-5.00"),
])
def test_currency_formatting(minor, currency, shown, plain):
    assert format_money(minor, currency) == shown
    assert major_str(minor, currency) == plain


def test_line_amounts_is_a_value():
    assert line_amounts(1, 100) == LineAmounts(100, 0, 100, 0)
