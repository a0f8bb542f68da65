"""Media value, click-through rate and costs per result: exact in any currency."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.deliverables.schemas import METRICS
from service.money import format_amount
from service.reports.media_value import (
    DEFAULT_RATES,
    RATE_METRICS,
    REFERENCE_CURRENCY,
    RateError,
    RateTable,
    cost_per,
    cost_per_mille,
    costs_per_result,
    ctr,
    default_rates,
    engagements,
    parse_rates,
    post_media_value,
    rates_json,
    total_media_value,
    value_for_cost,
)
from service.vocabulary import ENGAGEMENT_METRICS, PLATFORMS
from tests.reports.test_kpis import reference_half_even, reference_ratio

# One currency of each exponent: 0, 2 and 3 decimals.
CURRENCIES = {"JPY": 0, "EUR": 2, "KWD": 3}

currencies = st.sampled_from(sorted(CURRENCIES))
platforms = st.sampled_from(PLATFORMS)
counts = st.integers(0, 10**13)
minor = st.integers(0, 10**9)
rate_sets = st.fixed_dictionaries({metric: minor for metric in RATE_METRICS})
metric_sets = st.fixed_dictionaries({}, optional={name: counts for name in METRICS})


def reference_value(metrics: dict[str, int], rates: dict[str, int]) -> int:
    exact = Fraction(metrics.get("impressions", 0) * rates["impressions"], 1000)
    exact += sum(Fraction(metrics.get(name, 0) * rates[name]) for name in ENGAGEMENT_METRICS)
    return reference_half_even(exact)


@given(platforms, metric_sets, rate_sets)
def test_a_posts_value_is_the_exact_sum_rounded_once(
    platform: str, metrics: dict[str, int], rates: dict[str, int]
) -> None:
    assert post_media_value(platform, metrics, {platform: rates}) == reference_value(metrics, rates)


@given(currencies, st.dictionaries(platforms, rate_sets, min_size=1), metric_sets)
def test_rates_typed_in_any_currency_are_read_back_exactly(
    currency: str, table: RateTable, metrics: dict[str, int]
) -> None:
    typed = rates_json(table, currency)
    assert parse_rates(typed, currency) == table
    for platform, rates in typed.items():
        exact = Fraction(metrics.get("impressions", 0)) * Fraction(rates["impressions"]) / 1000
        for name in ENGAGEMENT_METRICS:
            exact += metrics.get(name, 0) * Fraction(rates[name])
        in_minor = reference_half_even(exact * 10 ** CURRENCIES[currency])
        assert post_media_value(platform, metrics, table) == in_minor


@given(platforms, metric_sets, rate_sets, st.sampled_from(RATE_METRICS), st.integers(1, 10**6))
def test_more_impressions_or_engagements_never_lower_the_value(
    platform: str, metrics: dict[str, int], rates: dict[str, int], metric: str, more: int
) -> None:
    table = {platform: rates}
    grown = {**metrics, metric: metrics.get(metric, 0) + more}
    before, after = (
        post_media_value(platform, metrics, table),
        post_media_value(platform, grown, table),
    )
    assert before is not None and after is not None and after >= before


def test_ties_round_to_even_minor_units() -> None:
    rates = {"instagram": {"impressions": 1, "likes": 0, "comments": 0, "shares": 0, "saves": 0}}
    # 500 impressions at 1 per 1,000 is half a minor unit: 0; 1,500 is 1.5: 2.
    assert post_media_value("instagram", {"impressions": 500}, rates) == 0
    assert post_media_value("instagram", {"impressions": 1500}, rates) == 2
    assert post_media_value("instagram", {"impressions": 2500}, rates) == 2


@given(
    st.lists(st.tuples(platforms, metric_sets), max_size=20), st.dictionaries(platforms, rate_sets)
)
def test_a_total_is_the_exact_sum_of_its_posts_values(
    posts: list[tuple[str, dict[str, int]]], table: RateTable
) -> None:
    values = [post_media_value(platform, metrics, table) for platform, metrics in posts]
    rated = [
        reference_value(metrics, table[platform])
        for platform, metrics in posts
        if platform in table
    ]
    assert total_media_value(values) == (sum(rated) if rated else None)


def test_a_platform_without_rates_has_no_value() -> None:
    assert post_media_value("tiktok", {"impressions": 1000}, {}) is None
    assert total_media_value([None, None]) is None
    assert total_media_value([None, 0, 5]) == 5


def test_every_platform_has_default_rates_in_the_reference_currency() -> None:
    assert set(DEFAULT_RATES) == set(PLATFORMS)
    table = default_rates(REFERENCE_CURRENCY)
    assert table is not None and set(table) == set(PLATFORMS)
    assert rates_json(table, REFERENCE_CURRENCY) == DEFAULT_RATES
    assert default_rates("EUR") is None and default_rates("JPY") is None


def test_media_value_worked_example() -> None:
    # The docs' example: an Instagram post, 61,000 impressions, 2,900 likes, 180 comments,
    # 95 shares and 410 saves at the default rates:
    # 61 x 5.00 + 2,900 x 0.10 + 180 x 0.50 + 95 x 0.60 + 410 x 0.60 = 988.00 USD.
    table = default_rates("USD")
    assert table is not None
    post = {"impressions": 61000, "likes": 2900, "comments": 180, "shares": 95, "saves": 410}
    value = post_media_value("instagram", post, table)
    assert value is not None and format_amount(value, "USD") == "988.00"
    assert value_for_cost(value, 40000) == "2.4700"  # 988.00 of media value for 400.00


@pytest.mark.parametrize(
    ("raw", "path", "message"),
    [
        ([], "", "an object of platforms"),
        ({"myspace": {}}, "myspace", "platform must be one of"),
        ({"tiktok": {"impressions": "1.00"}}, "tiktok", "a platform's rates are"),
        (
            {"tiktok": {**DEFAULT_RATES["tiktok"], "views": "1.00"}},
            "tiktok",
            "a platform's rates are",
        ),
        ({"tiktok": {**DEFAULT_RATES["tiktok"], "likes": "-0.05"}}, "tiktok.likes", "negative"),
        ({"tiktok": {**DEFAULT_RATES["tiktok"], "likes": 0.05}}, "tiktok.likes", "decimal string"),
        ({"tiktok": {**DEFAULT_RATES["tiktok"], "likes": "0.005"}}, "tiktok.likes", "2 decimal"),
    ],
)
def test_bad_rates_are_refused_with_where(raw: object, path: str, message: str) -> None:
    with pytest.raises(RateError, match=message) as caught:
        parse_rates(raw, "EUR")
    assert caught.value.path == path


def test_rates_finer_than_a_currency_with_no_decimals_are_refused() -> None:
    with pytest.raises(RateError, match="0 decimal places"):
        parse_rates({"tiktok": DEFAULT_RATES["tiktok"]}, "JPY")


# Click-through rate and costs per result


@given(counts, counts)
def test_ctr_is_clicks_over_impressions(clicks: int, impressions: int) -> None:
    expected = None if impressions == 0 else reference_ratio(clicks, impressions)
    assert ctr(clicks, impressions) == expected


@given(st.integers(-(10**15), 10**15), counts)
def test_cost_per_result_is_rounded_half_even_in_minor_units(cost: int, results: int) -> None:
    if results == 0:
        assert cost_per(cost, results) is None and cost_per_mille(cost, results) is None
        return
    assert cost_per(cost, results) == reference_half_even(Fraction(cost, results))
    assert cost_per_mille(cost, results) == reference_half_even(Fraction(cost * 1000, results))


@given(counts, counts)
def test_value_for_cost_is_media_value_over_cost(value: int, cost: int) -> None:
    expected = None if cost == 0 else reference_ratio(value, cost)
    assert value_for_cost(value, cost) == expected
    assert value_for_cost(None, cost) is None


@given(metric_sets)
def test_engagements_are_likes_comments_shares_and_saves(metrics: dict[str, int]) -> None:
    assert engagements(metrics) == sum(metrics.get(name, 0) for name in ENGAGEMENT_METRICS)


def test_costs_per_result_in_each_currency() -> None:
    assert costs_per_result(100_000, 4000, 3585, 61000, 0, "EUR") == {
        "cost_per_click": "0.25",
        "cost_per_engagement": "0.28",  # 1000.00 / 3,585 = 0.2789…
        "cost_per_mille": "16.39",  # 1000.00 / 61 = 16.393…
        "cost_per_acquisition": None,
    }
    assert costs_per_result(1500, 4, 0, 3000, 3, "JPY")["cost_per_click"] == "375"
    assert costs_per_result(1500, 4, 0, 3000, 3, "KWD")["cost_per_mille"] == "0.500"
