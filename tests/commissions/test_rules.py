"""Commission rules: pure maths over integer minor units (hypothesis invariants)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.commissions.rules import (
    RuleError,
    Tier,
    parse_rules,
    reversal_amount,
    sale_lines,
    tiered_commission,
)


def test_percent_of_attributable_amount():
    rules = parse_rules([{"type": "percent", "rate": "10"}], "EUR")
    [line] = sale_lines(rules, basis_minor=10800, order_currency="EUR", campaign_currency="EUR")
    assert (line.amount_minor, line.currency) == (1080, "EUR")


def test_percent_rounds_half_even():
    rules = parse_rules([{"type": "percent", "rate": "12.5"}], "EUR")
    # 12.5% of 0.20 = 0.025 → 0.02 (tie to even); of 0.60 = 0.075 → 0.08
    assert (
        sale_lines(rules, basis_minor=20, order_currency="EUR", campaign_currency="EUR")[
            0
        ].amount_minor
        == 2
    )
    assert (
        sale_lines(rules, basis_minor=60, order_currency="EUR", campaign_currency="EUR")[
            0
        ].amount_minor
        == 8
    )


def test_flat_is_in_campaign_currency_percent_in_order_currency():
    rules = parse_rules(
        [{"type": "percent", "rate": "10"}, {"type": "flat", "amount": "5.00"}], "EUR"
    )
    lines = sale_lines(rules, basis_minor=150000, order_currency="JPY", campaign_currency="EUR")
    assert [(line.amount_minor, line.currency) for line in lines] == [(15000, "JPY"), (500, "EUR")]


def test_cpc_and_per_post_never_come_from_an_order():
    rules = parse_rules(
        [{"type": "cpc", "amount": "0.05"}, {"type": "per_post", "amount": "150"}], "EUR"
    )
    assert sale_lines(rules, basis_minor=1000, order_currency="EUR", campaign_currency="EUR") == []


@pytest.mark.parametrize(
    "rules",
    [
        "not a list",
        [{"type": "bonus"}],
        [{"type": "percent", "rate": "101"}],
        [{"type": "percent", "rate": 10}],
        [{"type": "percent", "rate": "10", "extra": 1}],
        [{"type": "flat", "amount": "-5.00"}],
        [{"type": "flat", "amount": "0"}],
        [{"type": "flat", "amount": "5.001"}],
        [{"type": "tiered_percent", "tiers": []}],
        [{"type": "tiered_percent", "tiers": [{"up_to": "100.00", "rate": "10"}]}],
        [
            {
                "type": "tiered_percent",
                "tiers": [{"up_to": None, "rate": "10"}, {"up_to": "5.00", "rate": "5"}],
            }
        ],
        [
            {
                "type": "tiered_percent",
                "tiers": [
                    {"up_to": "100.00", "rate": "10"},
                    {"up_to": "50.00", "rate": "12"},
                    {"up_to": None, "rate": "15"},
                ],
            }
        ],
    ],
)
def test_bad_rules_are_refused(rules):
    with pytest.raises(RuleError):
        parse_rules(rules, "EUR")


def test_flat_amount_in_jpy_must_be_whole():
    with pytest.raises(RuleError):
        parse_rules([{"type": "flat", "amount": "1500.5"}], "JPY")


TIERS = (Tier(100000, Fraction(1, 10)), Tier(None, Fraction(15, 100)))


def test_tiered_brackets_are_marginal():
    # 1,500.00 of sales: 10% of the first 1,000.00 + 15% of the next 500.00 = 175.00
    assert tiered_commission(150000, TIERS) == 17500


@given(st.lists(st.integers(min_value=0, max_value=5_000_000), max_size=30))
def test_tiered_sale_lines_track_the_bracket_formula(orders):
    """Each sale at its month-to-date bracket: the month's total is within rounding of the
    formula (the true-up at export corrects the rest)."""
    rules = parse_rules(
        [
            {
                "type": "tiered_percent",
                "tiers": [{"up_to": "1000.00", "rate": "10"}, {"up_to": None, "rate": "15"}],
            }
        ],
        "EUR",
    )
    total, mtd = 0, 0
    for amount in orders:
        [line] = sale_lines(
            rules,
            basis_minor=amount,
            order_currency="EUR",
            campaign_currency="EUR",
            month_to_date_minor=mtd,
        )
        total += line.amount_minor
        mtd += amount
    assert abs(total - tiered_commission(mtd, rules[0].tiers)) <= Fraction(len(orders), 2)


amounts = st.integers(min_value=1, max_value=10**12)


@given(
    line=st.integers(min_value=-(10**9), max_value=10**9),
    basis=amounts,
    cuts=st.lists(st.integers(min_value=1, max_value=10**12), max_size=12),
)
def test_refunds_never_reverse_more_and_full_refund_nets_zero(line, basis, cuts):
    refunded, reversed_total = 0, 0
    for cut in cuts:
        now = min(cut, basis - refunded)
        if now <= 0:
            break
        reversed_total += reversal_amount(line, basis, refunded, now)
        refunded += now
        assert abs(reversed_total) <= abs(line)
        assert line == 0 or (reversed_total == 0 or (reversed_total < 0) == (line > 0))
    # Refund whatever is left: the line must net to exactly zero.
    rest = basis - refunded
    if rest > 0:
        reversed_total += reversal_amount(line, basis, refunded, rest)
    assert line + reversed_total == 0


def test_refund_example_from_the_spec():
    # 10.80 on 108.00; a 40.00 refund reverses 4.00
    assert reversal_amount(1080, 10800, 0, 4000) == -400
