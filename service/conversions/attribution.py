"""Attribution (docs/product.md §4) as a pure decision over facts the caller looked up.

In order: a matching active promo code of a running campaign; else a non-bot click
within the campaign's attribution window before the order; else ``utm_campaign`` +
``utm_content`` in the landing URL; else unattributed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Candidate:
    """A partnership an order could be attributed to, and the campaign it belongs to."""

    partnership_id: str
    campaign_id: str
    influencer_id: str
    campaign_starts_on: date
    campaign_ends_on: date | None
    attribution_window_days: int
    link_id: str | None = None
    promo_code_id: str | None = None
    promo_code: str | None = None
    promo_starts_at: datetime | None = None
    promo_ends_at: datetime | None = None
    promo_uses_left: int | None = None  # None: unlimited

    def campaign_running(self, moment: datetime) -> bool:
        day = moment.date()
        return self.campaign_starts_on <= day and (
            self.campaign_ends_on is None or day <= self.campaign_ends_on
        )


@dataclass(frozen=True)
class ClickFact:
    click_id: str
    occurred_at: datetime
    is_bot: bool
    candidate: Candidate


# How an order can be attributed (``conversions.method``), in the order tried above.
METHODS = ("promo_code", "click", "utm")


@dataclass(frozen=True)
class Attribution:
    method: str  # one of METHODS
    candidate: Candidate
    click_id: str | None = None


def attribute(
    order_time: datetime,
    promo_candidates: Sequence[Candidate],
    click: ClickFact | None,
    utm_candidate: Candidate | None,
) -> Attribution | None:
    for cand in promo_candidates:
        if not cand.campaign_running(order_time):
            continue
        if cand.promo_starts_at is not None and order_time < cand.promo_starts_at:
            continue
        if cand.promo_ends_at is not None and order_time >= cand.promo_ends_at:
            continue
        if cand.promo_uses_left is not None and cand.promo_uses_left <= 0:
            continue
        return Attribution("promo_code", cand)
    if click is not None and not click.is_bot:
        window = timedelta(days=click.candidate.attribution_window_days)
        if click.occurred_at <= order_time <= click.occurred_at + window:
            return Attribution("click", replace(click.candidate), click_id=click.click_id)
    if utm_candidate is not None and utm_candidate.campaign_running(order_time):
        return Attribution("utm", utm_candidate)
    return None


def query_params(url: str | None) -> dict[str, str]:
    """The first value of each query parameter of ``url`` (a full URL or a path)."""
    if not url or len(url) > 4096:
        return {}
    try:
        query = urlsplit(url).query
    except ValueError:
        return {}
    return {k: v[0] for k, v in parse_qs(query).items() if v}


def click_id_from(explicit: str | None, landing_url: str | None, param: str) -> str | None:
    """The click id given outright, else the one carried in the landing URL."""
    found = explicit.strip() if explicit else query_params(landing_url).get(param)
    # Ours are 16 URL-safe characters; anything long is not one of ours.
    return found if found and len(found) <= 40 else None


def utm_from(landing_url: str | None) -> tuple[str, str] | None:
    """``(utm_campaign, utm_content)`` from a landing URL, if both are there."""
    params = query_params(landing_url)
    campaign, content = params.get("utm_campaign"), params.get("utm_content")
    if campaign and content:
        return campaign.strip().lower(), content.strip().lower()
    return None
