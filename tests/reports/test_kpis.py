"""The report's arithmetic in integers: the same results as exact fractions."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from service.money import div_half_even
from service.reports.kpis import Figures, engagement_rate, mean_rate, ratio, render


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


@given(
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
)
def test_the_conversion_rate_counts_click_orders_only(
    click: int, promo_code: int, utm: int, unique: int
) -> None:
    f = Figures(unique_clicks=unique, conversions=click + promo_code + utm)
    f.by_method.update(click=click, promo_code=promo_code, utm=utm)
    shown = render(f)
    assert shown["conversion_rate"] == (reference_ratio(click, unique) if unique else None)
    assert shown["conversions_by_method"] == {"click": click, "promo_code": promo_code, "utm": utm}
    assert sum(shown["conversions_by_method"].values()) == shown["conversions"]
    # Summing figures sums the counts per method.
    total = Figures()
    total.add(f)
    total.add(f)
    assert render(total)["conversions_by_method"]["promo_code"] == 2 * promo_code
