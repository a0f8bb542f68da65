"""The rules preview: what each rule earns for an example order, clicks and posts, worked
out by the same functions the ledger's lines come from."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from service.commissions.rules import (
    CapRoom,
    Rule,
    Tier,
    cpc_amount,
    parse_rules,
    preview,
    sale_lines,
)

TIERED = parse_rules(
    [
        {
            "type": "tiered_percent",
            "tiers": [{"up_to": "1000.00", "rate": "10"}, {"up_to": None, "rate": "15"}],
        }
    ],
    "EUR",
)


def test_each_rule_type_earns_its_share_of_the_example() -> None:
    rules = parse_rules(
        [
            {"type": "percent", "rate": "10"},
            {"type": "flat", "amount": "5.00"},
            {"type": "cpc", "amount": "0.05"},
            {"type": "per_post", "amount": "150.00"},
        ],
        "EUR",
    )
    lines = preview(rules, currency="EUR", order_minor=12_345, clicks=200, posts=2)
    assert [(c.line.rule_index, c.amount_minor) for c in lines] == [
        (0, 1_234),  # 10 % of EUR 123.45, half-even
        (1, 500),
        (2, 1_000),
        (3, 30_000),
    ]


def test_a_tiered_order_across_a_bracket_earns_each_brackets_rate() -> None:
    # EUR 1,200: 10 % of the first 1,000 and 15 % of the 200 above it.
    [line] = preview(TIERED, currency="EUR", order_minor=120_000)
    assert line.amount_minor == 10_000 + 3_000


def test_the_caps_cut_the_example_as_they_cut_a_line() -> None:
    rules = parse_rules([{"type": "percent", "rate": "10"}], "EUR")
    [line] = preview(rules, currency="EUR", order_minor=100_000, room=CapRoom(month=2_500))
    assert (line.amount_minor, line.cut_minor, line.cap) == (2_500, 7_500, "monthly_cap")


def test_no_rules_earn_nothing() -> None:
    assert preview([], currency="EUR", order_minor=10_000, clicks=5, posts=1) == []


rates = st.fractions(min_value=0, max_value=1).map(lambda f: f.limit_denominator(10_000))


@st.composite
def rule_sets(draw: st.DrawFn) -> list[Rule]:
    bounds = sorted(set(draw(st.lists(st.integers(1, 10**7), max_size=4))))
    tiers = (*tuple(Tier(b, draw(rates)) for b in bounds), Tier(None, draw(rates)))
    pool = [
        Rule("percent", rate=draw(rates)),
        Rule("flat", amount_minor=draw(st.integers(1, 10**6))),
        Rule("tiered_percent", tiers=tiers),
        Rule("cpc", amount_minor=draw(st.integers(1, 10**4))),
        Rule("per_post", amount_minor=draw(st.integers(1, 10**6))),
    ]
    return draw(st.lists(st.sampled_from(pool), max_size=6))


@given(
    rules=rule_sets(),
    order=st.integers(0, 10**9),
    clicks=st.integers(0, 10**6),
    posts=st.integers(0, 50),
    before=st.integers(0, 10**8),
)
def test_the_preview_is_what_the_engines_functions_give(
    rules: list[Rule], order: int, clicks: int, posts: int, before: int
) -> None:
    shown = preview(
        rules,
        currency="EUR",
        order_minor=order,
        clicks=clicks,
        posts=posts,
        month_to_date_minor=before,
    )
    assert [c.line.rule_index for c in shown] == list(range(len(rules)))
    booked = {
        line.rule_index: line.amount_minor
        for line in sale_lines(
            rules,
            basis_minor=order,
            order_currency="EUR",
            campaign_currency="EUR",
            month_to_date_minor=before,
        )
    }
    for c in shown:
        rule = c.line.rule
        assert c.cut_minor == 0 and c.line.currency == "EUR"
        if rule.type == "cpc":
            assert rule.amount_minor is not None
            assert c.amount_minor == cpc_amount(clicks, rule.amount_minor)
        elif rule.type == "per_post":
            assert c.amount_minor == posts * (rule.amount_minor or 0)
        else:
            assert c.amount_minor == booked[c.line.rule_index]
        assert c.amount_minor >= 0


@given(order=st.integers(0, 10**9), rate=rates)
def test_a_percent_preview_is_the_rate_of_the_order_rounded_half_even(
    order: int, rate: Fraction
) -> None:
    [line] = preview([Rule("percent", rate=rate)], currency="EUR", order_minor=order)
    assert abs(line.amount_minor - order * rate) <= Fraction(1, 2)
