"""Media value (EMV), click-through rate and costs per result. Pure; exact.

Media value is an estimate of what a post's audience would have cost to buy as
advertising, not money the brand receives (docs/objectives.md "Media value"):

    post value = impressions * rate per 1,000 impressions / 1,000
                 + Σ engagements (likes, comments, shares, saves) * their rate

computed exactly over integer minor units and rounded once per post, half-even. An
influencer's and a campaign's media value are the exact sums of their posts' values, so
the rows of a report add up to its total.

Rates are per platform, in minor units of the campaign's currency: a table
``{platform: {"impressions": per 1,000, "likes": each, ...}}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from service.money import MoneyError, div_half_even, format_amount, parse_amount
from service.reports.kpis import ratio
from service.vocabulary import ENGAGEMENT_METRICS, PLATFORMS

# What a platform's rates price: impressions (per PER_MILLE) and each engagement.
RATE_METRICS = ("impressions", *ENGAGEMENT_METRICS)
PER_MILLE = 1000

# The currency the defaults are written in. afftrack converts no currencies: a campaign
# in another currency has no default rates and shows no media value until the brand sets
# its own.
REFERENCE_CURRENCY = "USD"

# Illustrative industry-style defaults the brand should replace: round numbers in the
# range marketing tools and agencies commonly quote for organic influencer posts, not a
# measurement and not authoritative. Per platform: "impressions" per 1,000 impressions,
# then each like, comment, share and save.
DEFAULT_RATES: dict[str, dict[str, str]] = {
    "instagram": {
        "impressions": "5.00",
        "likes": "0.10",
        "comments": "0.50",
        "shares": "0.60",
        "saves": "0.60",
    },
    "tiktok": {
        "impressions": "4.00",
        "likes": "0.05",
        "comments": "0.40",
        "shares": "0.50",
        "saves": "0.50",
    },
    "youtube": {
        "impressions": "8.00",
        "likes": "0.10",
        "comments": "0.75",
        "shares": "0.75",
        "saves": "0.50",
    },
    "twitter": {
        "impressions": "3.00",
        "likes": "0.05",
        "comments": "0.30",
        "shares": "0.40",
        "saves": "0.30",
    },
    "facebook": {
        "impressions": "4.00",
        "likes": "0.05",
        "comments": "0.30",
        "shares": "0.40",
        "saves": "0.30",
    },
    "linkedin": {
        "impressions": "10.00",
        "likes": "0.15",
        "comments": "1.00",
        "shares": "1.00",
        "saves": "0.50",
    },
    "pinterest": {
        "impressions": "3.00",
        "likes": "0.05",
        "comments": "0.25",
        "shares": "0.40",
        "saves": "0.50",
    },
    "twitch": {
        "impressions": "4.00",
        "likes": "0.05",
        "comments": "0.25",
        "shares": "0.25",
        "saves": "0.25",
    },
    "snapchat": {
        "impressions": "3.00",
        "likes": "0.05",
        "comments": "0.25",
        "shares": "0.30",
        "saves": "0.30",
    },
    "blog": {
        "impressions": "5.00",
        "likes": "0.00",
        "comments": "0.50",
        "shares": "0.50",
        "saves": "0.00",
    },
    "other": {
        "impressions": "3.00",
        "likes": "0.05",
        "comments": "0.25",
        "shares": "0.30",
        "saves": "0.30",
    },
}

RateTable = dict[str, dict[str, int]]


class RateError(ValueError):
    """A media-value rate table that cannot be accepted; ``path`` says where."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


def parse_rates(raw: object, currency: str) -> RateTable:
    """Rates as typed (``{platform: {metric: decimal string}}``) in minor units of
    ``currency``. Each platform given must be one of ``PLATFORMS`` and carry every one of
    ``RATE_METRICS``, none negative, none finer than the currency's minor unit; platforms
    left out have no rates."""
    if not isinstance(raw, Mapping):
        raise RateError("rates must be an object of platforms")
    table: RateTable = {}
    for platform, rates in raw.items():
        if platform not in PLATFORMS:
            raise RateError(f"platform must be one of {', '.join(PLATFORMS)}", str(platform))
        if not isinstance(rates, Mapping) or set(rates) != set(RATE_METRICS):
            raise RateError(f"a platform's rates are {', '.join(RATE_METRICS)}", platform)
        table[platform] = {}
        for metric in RATE_METRICS:
            try:
                table[platform][metric] = parse_amount(rates[metric], currency)
            except MoneyError as exc:
                raise RateError(str(exc), f"{platform}.{metric}") from None
    return table


def rates_json(table: RateTable, currency: str) -> dict[str, dict[str, str]]:
    """A rate table as decimal strings (the form :func:`parse_rates` reads)."""
    return {
        platform: {metric: format_amount(rates[metric], currency) for metric in RATE_METRICS}
        for platform, rates in table.items()
    }


def default_rates(currency: str) -> RateTable | None:
    """The defaults in ``currency``'s minor units; ``None`` for any currency other than
    ``REFERENCE_CURRENCY`` (no conversion is guessed)."""
    if currency != REFERENCE_CURRENCY:
        return None
    return parse_rates(DEFAULT_RATES, currency)


def engagements(metrics: Mapping[str, int]) -> int:
    """A post's engagements: likes + comments + shares + saves (missing ones are 0)."""
    return sum(metrics.get(name, 0) for name in ENGAGEMENT_METRICS)


def post_media_value(platform: str, metrics: Mapping[str, int], table: RateTable) -> int | None:
    """A post's media value in minor units, rounded once, half-even; missing metrics are
    0. ``None`` when the table has no rates for ``platform``."""
    rates = table.get(platform)
    if rates is None:
        return None
    thousandths = metrics.get("impressions", 0) * rates["impressions"]
    thousandths += PER_MILLE * sum(
        metrics.get(name, 0) * rates[name] for name in ENGAGEMENT_METRICS
    )
    return div_half_even(thousandths, PER_MILLE)


def total_media_value(values: Iterable[int | None]) -> int | None:
    """The exact sum of posts' values (an influencer's, a campaign's); posts without
    rates add nothing; ``None`` when no post has a value."""
    known = [value for value in values if value is not None]
    return sum(known) if known else None


def value_for_cost(media_value: int | None, cost: int) -> str | None:
    """Media value / cost (same currency), a ratio with 4 decimals shown beside ROI
    (``"3.2500"``: 3.25 of media value per unit spent); ``None`` without a value or cost."""
    if media_value is None:
        return None
    return ratio(media_value, cost)


def ctr(clicks: int, impressions: int) -> str | None:
    """Click-through rate: clicks on a post's link / the post's impressions, a ratio with 4
    decimals (``"0.0125"`` is 1.25 %); ``None`` without impressions."""
    return ratio(clicks, impressions)


def cost_per(cost: int, results: int) -> int | None:
    """Cost per result (per click, engagement, acquisition) in minor units of the cost's
    currency, half-even; ``None`` when there is no result."""
    if results == 0:
        return None
    return div_half_even(cost, results)


def cost_per_mille(cost: int, impressions: int) -> int | None:
    """Cost per 1,000 impressions in minor units, half-even; ``None`` without impressions."""
    if impressions == 0:
        return None
    return div_half_even(cost * PER_MILLE, impressions)


def costs_per_result(
    cost: int, clicks: int, engagements: int, impressions: int, conversions: int, currency: str
) -> dict[str, Any]:
    """The costs per result of one currency's cost, as decimal strings (``None`` over 0)."""
    figures = {
        "cost_per_click": cost_per(cost, clicks),
        "cost_per_engagement": cost_per(cost, engagements),
        "cost_per_mille": cost_per_mille(cost, impressions),
        "cost_per_acquisition": cost_per(cost, conversions),
    }
    return {
        name: None if minor is None else format_amount(minor, currency)
        for name, minor in figures.items()
    }
