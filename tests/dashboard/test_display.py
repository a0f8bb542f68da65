"""How the dashboard writes figures and history values for people (pure functions)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from service.dashboard.display import count, field_name, minor, money, percent, told


def test_money_groups_the_whole_part_only_and_keeps_the_sign() -> None:
    assert money("-1234567.50", "EUR") == "EUR -1,234,567.50"
    assert money("1200", "JPY") == "JPY 1,200"
    assert money(None, "EUR") == "\u2013"


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_an_amount_in_minor_units_reads_back_exactly(cents: int) -> None:
    text = minor(cents, "EUR").removeprefix("EUR ").replace(",", "")
    assert Decimal(text) * 100 == cents


def test_a_ratio_is_a_percentage_by_moving_the_point() -> None:
    assert percent("0.0320") == "3.20 %"
    assert percent("12.5") == "1,250.00 %"
    assert percent(None) == "\u2013"
    assert count(1234567) == "1,234,567"


def test_history_values_read_as_words() -> None:
    assert told(None) == told("") == told([]) == "(empty)"
    assert told(48200) == "48,200"
    assert told(True) == "yes"
    assert told({"likes": 290, "reach": 40300}) == "likes 290, reach 40,300"
    assert told([{"type": "percent", "rate": "10"}, {"type": "flat", "amount": "5.00"}]) == (
        "type percent, rate 10; type flat, amount 5.00"
    )
    assert told("shop.example.com") == "shop.example.com"


def test_field_names_read_as_words() -> None:
    assert field_name("payout_email") == "payout email"
    assert field_name("budget_minor") == "budget (in minor units, e.g. cents)"
