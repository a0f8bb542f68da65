"""The report's arithmetic in integers: the same results as exact fractions."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from service.money import div_half_even
from service.reports.kpis import engagement_rate, mean_rate, ratio


def reference_half_even(value: Fraction) -> int:
    """Round-half-even written the slow, obvious way."""
    floor = value.numerator // value.denominator
    rest = value - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


def reference_ratio(n: int, d: int, places: int = 4) -> str:
    scaled = reference_half_even(Fraction(n, d) * 10**places)
    return str(Decimal(scaled).scaleb(-places).quantize(Decimal(1).scaleb(-places)))


big = st.integers(-(10**15), 10**15)
nonzero = big.filter(lambda d: d != 0)


@given(big, nonzero)
def test_div_half_even_equals_rounding_the_exact_fraction(n: int, d: int) -> None:
    assert div_half_even(n, d) == reference_half_even(Fraction(n, d))


@given(st.integers(-50, 50), st.sampled_from([2, -2, 4, 10, -10]))
def test_ties_go_to_the_even_neighbour(k: int, d: int) -> None:
    # n / d lands exactly on a half for odd multiples of d / 2.
    n = k * d + d // 2
    assert div_half_even(n, d) % 2 == 0


@given(big, nonzero)
def test_ratio_is_the_exact_ratio_rounded_once(n: int, d: int) -> None:
    assert ratio(n, d) == reference_ratio(n, d)
    assert ratio(Fraction(n, 3), Fraction(d, 3)) == reference_ratio(n, d)


def test_ratio_over_zero_is_none() -> None:
    assert ratio(5, 0) is None
    assert engagement_rate(10, 2, 0) is None and engagement_rate(10, 2, None) is None


@given(st.lists(st.one_of(st.none(), st.integers(0, 10**6)), max_size=30), st.integers(1, 10**7))
def test_mean_rate_is_the_exact_mean_of_the_rounded_rates(likes: list, followers: int) -> None:
    rates = [None if n is None else engagement_rate(n, 0, followers) for n in likes]
    known = [Fraction(r) for r in rates if r is not None]
    expected = None
    if known:
        mean = sum(known, Fraction(0)) / len(known)
        expected = reference_ratio(mean.numerator, mean.denominator)
    assert mean_rate(rates) == expected
