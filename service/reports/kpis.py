"""Report figures from counts and per-currency sums. Pure; exact fractions, no floats."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from service.conversions.attribution import METHODS
from service.money import div_half_even, format_amount
from service.vocabulary import RATIO_PLACES


def _per_method() -> dict[str, int]:
    return dict.fromkeys(sorted(METHODS), 0)


@dataclass
class Figures:
    clicks: int = 0
    unique_clicks: int = 0
    bot_clicks: int = 0
    qr_scans: int = 0  # the part of ``clicks`` that came through a link's QR code
    conversions: int = 0
    # The part of ``conversions`` each attribution method brought (keys: METHODS).
    by_method: dict[str, int] = field(default_factory=_per_method)
    revenue: dict[str, int] = field(default_factory=dict)
    commission: dict[str, int] = field(default_factory=dict)

    def add(self, other: Figures) -> None:
        self.clicks += other.clicks
        self.unique_clicks += other.unique_clicks
        self.bot_clicks += other.bot_clicks
        self.qr_scans += other.qr_scans
        self.conversions += other.conversions
        for method, n in other.by_method.items():
            self.by_method[method] = self.by_method.get(method, 0) + n
        for mine, theirs in ((self.revenue, other.revenue), (self.commission, other.commission)):
            for cur, minor in theirs.items():
                mine[cur] = mine.get(cur, 0) + minor


def scaled_ratio(
    numerator: int | Fraction, denominator: int | Fraction, places: int = RATIO_PLACES
) -> int | None:
    """An exact ratio in whole units of ``10**-places``, half-even; ``None`` over zero."""
    if denominator == 0:
        return None
    if isinstance(numerator, int) and isinstance(denominator, int):
        return div_half_even(numerator * 10**places, denominator)
    exact = Fraction(numerator) / Fraction(denominator) * 10**places
    return div_half_even(exact.numerator, exact.denominator)


def format_scaled(scaled: int, places: int = RATIO_PLACES) -> str:
    """Whole units of ``10**-places`` as a decimal string: ``300`` → ``"0.0300"``."""
    sign = "-" if scaled < 0 else ""
    whole, frac = divmod(abs(scaled), 10**places)
    return f"{sign}{whole}.{frac:0{places}d}" if places else f"{sign}{whole}"


def ratio(
    numerator: int | Fraction, denominator: int | Fraction, places: int = RATIO_PLACES
) -> str | None:
    """An exact ratio as a decimal string, half-even at ``places``; ``None`` over zero."""
    scaled = scaled_ratio(numerator, denominator, places)
    return None if scaled is None else format_scaled(scaled, places)


def conversion_rate(click_conversions: int, unique_clicks: int) -> int | None:
    """The orders the clicks brought over the unique clicks, in units of
    ``10**-RATIO_PLACES``; ``None`` without unique clicks. Promo-code and UTM orders came
    by other ways and are counted beside it, not in it (ADR 0067)."""
    return scaled_ratio(click_conversions, unique_clicks)


def engagement_rate(likes: int, comments: int, followers: int | None) -> str | None:
    """A post's engagement rate as the industry defines it: (likes + comments) over the
    followers of the account it was posted on, a fraction (``"0.0300"`` is 3 %); ``None``
    when the followers are unknown or zero."""
    if not followers:
        return None
    return ratio(likes + comments, followers)


def mean_rate(rates: list[str | None], places: int = RATIO_PLACES) -> str | None:
    """The mean of the known rates (each post counts once), exact until rounded: the
    rates are ``ratio`` strings with ``places`` decimals, summed as whole units of their
    last place."""
    known = [rate for rate in rates if rate is not None]
    if not known:
        return None
    units = 0
    for rate in known:
        whole, _, frac = rate.partition(".")
        if len(frac) != places:
            raise ValueError(f"{rate!r} is not a rate with {places} decimals")
        units += int(whole + frac)
    return ratio(units, len(known) * 10**places, places)


def render(f: Figures) -> dict[str, Any]:
    currencies = sorted(set(f.revenue) | set(f.commission))
    money: dict[str, dict[str, Any]] = {}
    for cur in currencies:
        revenue, cost = f.revenue.get(cur, 0), f.commission.get(cur, 0)
        epc = None
        if f.clicks:
            epc = format_amount(div_half_even(cost, f.clicks), cur)
        money[cur] = {
            "revenue": format_amount(revenue, cur),
            "commission": format_amount(cost, cur),
            "cost": format_amount(cost, cur),
            "epc": epc,
            "roi": ratio(revenue - cost, cost),
        }
    rate = conversion_rate(f.by_method.get("click", 0), f.unique_clicks)
    return {
        "clicks": f.clicks,
        "unique_clicks": f.unique_clicks,
        "bot_clicks": f.bot_clicks,
        "qr_scans": f.qr_scans,
        "conversions": f.conversions,
        "conversions_by_method": dict(f.by_method),
        "conversion_rate": None if rate is None else format_scaled(rate),
        "money": money,
    }
