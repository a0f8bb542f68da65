"""Money: integer minor units, exact parsing, one half-even rounding."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.money import (
    EXPONENTS,
    Money,
    MoneyError,
    format_amount,
    parse_amount,
    parse_rate,
    round_half_even,
)


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("120.00", "EUR", 12000),
        ("120", "EUR", 12000),
        ("0.5", "EUR", 50),
        ("1500", "JPY", 1500),
        ("1500.0", "JPY", 1500),
        ("1.234", "KWD", 1234),
        ("12.340", "BHD", 12340),
        (" 7.10 ", "USD", 710),
    ],
)
def test_parse_amount(text, currency, minor):
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("1500.5", "JPY"),  # JPY has no minor unit
        ("10.001", "EUR"),
        ("1.2345", "KWD"),
        ("-1.00", "EUR"),
        ("1e3", "EUR"),
        ("NaN", "EUR"),
        ("", "EUR"),
        ("1,00", "EUR"),
        ("10.00", "XXX"),
        ("10.00", "eur"),
        ("9999999999999999.00", "EUR"),  # beyond MAX_MINOR
    ],
)
def test_parse_amount_refuses(text, currency):
    with pytest.raises(MoneyError):
        parse_amount(text, currency)


def test_parse_amount_refuses_floats():
    with pytest.raises(MoneyError):
        parse_amount(12.5, "EUR")  # type: ignore[arg-type]


def test_negative_only_when_allowed():
    assert parse_amount("-4.00", "EUR", allow_negative=True) == -400


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (12000, "EUR", "120.00"),
        (-400, "EUR", "-4.00"),
        (5, "EUR", "0.05"),
        (1500, "JPY", "1500"),
        (1234, "KWD", "1.234"),
        (0, "USD", "0.00"),
        (-1, "BHD", "-0.001"),
    ],
)
def test_format_amount(minor, currency, text):
    assert format_amount(minor, currency) == text


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(sorted(EXPONENTS)))
def test_format_parse_round_trip(minor, currency):
    assert parse_amount(format_amount(minor, currency), currency, allow_negative=True) == minor


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Fraction(1, 2), 0),
        (Fraction(3, 2), 2),
        (Fraction(5, 2), 2),
        (Fraction(-1, 2), 0),
        (Fraction(-3, 2), -2),
        (Fraction(7, 3), 2),
        (Fraction(8, 3), 3),
        (Fraction(-7, 3), -2),
    ],
)
def test_round_half_even(value, expected):
    assert round_half_even(value) == expected


@given(st.integers(-(10**12), 10**12), st.integers(1, 10**6))
def test_round_half_even_is_nearest(numerator, denominator):
    value = Fraction(numerator, denominator)
    rounded = round_half_even(value)
    assert abs(value - rounded) <= Fraction(1, 2)
    if abs(value - rounded) == Fraction(1, 2):
        assert rounded % 2 == 0


def test_rates():
    assert parse_rate("10") == Fraction(1, 10)
    assert parse_rate("12.5") == Fraction(1, 8)
    for bad in ("101", "-1", "abc", "10.1234567", 10):
        with pytest.raises(MoneyError):
            parse_rate(bad)  # type: ignore[arg-type]


def test_money_value_object():
    a = Money.parse("10.80", "EUR")
    assert str(a) == "10.80 EUR"
    assert (a - Money(400, "EUR")).decimal == "6.80"
    assert a.scale(Fraction(1, 3)).minor == 360
    with pytest.raises(MoneyError):
        a + Money(1, "USD")
    with pytest.raises(MoneyError):
        Money(1.5, "EUR")  # type: ignore[arg-type]
