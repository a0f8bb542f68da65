"""An objective's progress from the roll-ups: actual, pace, forecast and status.

The figures come from the daily and monthly roll-ups the database keeps (clicks, orders,
the ledger), never from a scan of clicks or orders, and from the campaign's posts for
reach, impressions, engagements, media value and the clicks on the tracked links they
name, as the campaign report counts them (its helpers, ``service.reports``). Each KPI has its
own function over a :class:`Tally`; the maths of pace, forecast and status is
``service.reports.objectives`` (docs/objectives.md).

Money KPIs count the campaign's currency only: revenue is the orders' attributable
amount in that currency, cost the campaign's commission lines in it (CommissionDaily),
and an order or line in another currency is left out of revenue, ROI and the costs per
result.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from service import clock
from service.campaigns.models import Campaign, Partnership
from service.campaigns.service import media_value_rates, partner_handles
from service.clicks.models import ClickDaily, ClickMonthly
from service.commissions.models import CommissionDaily, CommissionMonthly
from service.conversions.models import ConversionDaily, ConversionMonthly
from service.deliverables.models import Deliverable
from service.influencers.models import PlatformAccount
from service.money import div_half_even, parse_decimal
from service.objectives.models import Objective
from service.reports import kpis
from service.reports import media_value as mv
from service.reports import objectives as maths
from service.reports.kpis import engagement_rate, mean_rate, ratio, scaled_ratio
from service.reports.service import counted_posts, link_clicks, month_spans, post_metric
from service.vocabulary import (
    ACHIEVED,
    BEHIND,
    ENGAGEMENT_METRICS,
    MISSED,
    ON_TRACK,
    RATIO_PLACES,
)

ONE_DAY = timedelta(days=1)


@dataclass
class Tally:
    """What the KPIs are made of, for one influencer or the campaign, over some days;
    money in minor units of the campaign's currency."""

    clicks: int = 0
    unique_clicks: int = 0
    qr_scans: int = 0
    conversions: int = 0
    # The part of ``conversions`` the clicks brought (the conversion rate's).
    click_conversions: int = 0
    revenue: int = 0
    cost: int = 0
    impressions: int = 0
    reach: int = 0
    engagements: int = 0
    # Each post's engagement rate ((likes + comments) / followers), None where unknown.
    post_rates: list[str | None] = field(default_factory=list)
    # Each post's media value at the campaign's rates, None where its platform has none.
    post_values: list[int | None] = field(default_factory=list)
    # The non-bot clicks on the tracked links the posts name (each link once, over the
    # tally's whole span, on the tally of the first post naming it), and the impressions
    # of those posts.
    link_clicks: int = 0
    linked_impressions: int = 0

    def add(self, other: Tally) -> None:
        self.clicks += other.clicks
        self.unique_clicks += other.unique_clicks
        self.qr_scans += other.qr_scans
        self.conversions += other.conversions
        self.click_conversions += other.click_conversions
        self.revenue += other.revenue
        self.cost += other.cost
        self.impressions += other.impressions
        self.reach += other.reach
        self.engagements += other.engagements
        self.post_rates.extend(other.post_rates)
        self.post_values.extend(other.post_values)
        self.link_clicks += other.link_clicks
        self.linked_impressions += other.linked_impressions


# One function per KPI: its value from a tally, in the KPI's unit (None: nothing to
# divide by). Rates are in 10**-RATIO_PLACES, money in minor units.
def clicks(t: Tally) -> int:
    return t.clicks


def unique_clicks(t: Tally) -> int:
    return t.unique_clicks


def qr_scans(t: Tally) -> int:
    return t.qr_scans


def conversions(t: Tally) -> int:
    return t.conversions


def revenue(t: Tally) -> int:
    return t.revenue


def conversion_rate(t: Tally) -> int | None:
    """The orders the clicks brought per unique click, as the campaign report's."""
    return kpis.conversion_rate(t.click_conversions, t.unique_clicks)


def roi(t: Tally) -> int | None:
    """(revenue - cost) / cost."""
    return scaled_ratio(t.revenue - t.cost, t.cost)


def cost_per_acquisition(t: Tally) -> int | None:
    return div_half_even(t.cost, t.conversions) if t.conversions else None


def cost_per_click(t: Tally) -> int | None:
    return div_half_even(t.cost, t.clicks) if t.clicks else None


def reach(t: Tally) -> int:
    return t.reach


def impressions(t: Tally) -> int:
    return t.impressions


def engagements(t: Tally) -> int:
    """Likes + comments + shares + saves of the posts."""
    return t.engagements


def engagement_rate_of(t: Tally) -> int | None:
    """The mean of the posts' engagement rates (each post counts once), as the report's."""
    mean = mean_rate(t.post_rates)
    return None if mean is None else parse_decimal(mean, RATIO_PLACES)


def ctr(t: Tally) -> int | None:
    """The clicks on the tracked links the posts name (each link once) / the impressions
    of the posts that name one, as the report's click-through rate; None without them."""
    rate = mv.ctr(t.link_clicks, t.linked_impressions)
    return None if rate is None else parse_decimal(rate, RATIO_PLACES)


def media_value(t: Tally) -> int:
    """The exact sum of the posts' media values (each rounded once, as the report's); a
    post whose platform has no rates adds nothing."""
    return mv.total_media_value(t.post_values) or 0


ACTUALS: dict[str, Callable[[Tally], int | None]] = {
    "clicks": clicks,
    "unique_clicks": unique_clicks,
    "qr_scans": qr_scans,
    "conversions": conversions,
    "revenue": revenue,
    "conversion_rate": conversion_rate,
    "roi": roi,
    "cost_per_acquisition": cost_per_acquisition,
    "cost_per_click": cost_per_click,
    "reach": reach,
    "impressions": impressions,
    "engagements": engagements,
    "engagement_rate": engagement_rate_of,
    "ctr": ctr,
    "media_value": media_value,
}


def unmeasured(kpi: str, campaign: Campaign) -> str | None:
    """Why ``kpi`` cannot be measured for ``campaign`` (its actual is then null, with no
    status), or None: media value needs rates in the campaign's currency."""
    if kpi != "media_value":
        return None
    rates, _defaults = media_value_rates(campaign)
    if rates is None:
        return (
            f"media value needs rates in the campaign's currency: {campaign.currency} has "
            f"no default rates (they are in {mv.REFERENCE_CURRENCY}); set the campaign's "
            "media-value rates"
        )
    if not rates:  # an empty table of its own: the report has no media value either
        return "the campaign's media-value rates price no platform; set them for its platforms"
    return None


# What each KPI is made of: which sources a tally must read for it.
_CLICKS, _ORDERS, _LEDGER, _POSTS = "clicks", "orders", "ledger", "posts"
_RATES, _VALUES, _LINKS = "rates", "values", "links"
SOURCES: dict[str, frozenset[str]] = {
    "clicks": frozenset({_CLICKS}),
    "unique_clicks": frozenset({_CLICKS}),
    "qr_scans": frozenset({_CLICKS}),
    "conversions": frozenset({_ORDERS}),
    "revenue": frozenset({_ORDERS}),
    "conversion_rate": frozenset({_CLICKS, _ORDERS}),
    "roi": frozenset({_ORDERS, _LEDGER}),
    "cost_per_acquisition": frozenset({_ORDERS, _LEDGER}),
    "cost_per_click": frozenset({_CLICKS, _LEDGER}),
    "reach": frozenset({_POSTS}),
    "impressions": frozenset({_POSTS}),
    "engagements": frozenset({_POSTS}),
    "engagement_rate": frozenset({_RATES}),
    "ctr": frozenset({_LINKS}),
    "media_value": frozenset({_VALUES}),
}


# --- Reading the tallies ---------------------------------------------------------------
Key = tuple[str, date | None]  # (influencer id, day or None for the whole span)


def tallies(
    session: Session,
    campaign: Campaign,
    first: date,
    last: date,
    sources: Iterable[str],
    *,
    by_day: bool = False,
) -> dict[Key, Tally]:
    """Tallies of the campaign's days ``first`` to ``last`` (both included) per influencer
    (and per day if ``by_day``, read from the daily roll-ups), from ``sources`` only."""
    wanted = set(sources)
    out: dict[Key, Tally] = {}

    def at(influencer_id: str | None, day: date | None) -> Tally:
        key = (influencer_id or "", day if by_day else None)
        found = out.get(key)
        if found is None:
            found = out[key] = Tally()
        return found

    if last < first:
        return out
    spans = [("daily", first, last)] if by_day else month_spans(first, last)
    for grain, lo, hi in spans:
        daily = grain == "daily"
        if _CLICKS in wanted:
            C = ClickDaily if daily else ClickMonthly
            by = (C.influencer_id, C.day) if by_day else (C.influencer_id,)
            clicks = select(
                *by, func.sum(C.clicks), func.sum(C.unique_clicks), func.sum(C.qr_scans)
            ).where(C.campaign_id == campaign.id, C.day >= lo, C.day <= hi)
            for row in session.execute(clicks.group_by(*by)):
                t = at(*_key(row, by_day))
                n, unique, scans = row[-3:]
                t.clicks += int(n or 0)
                t.unique_clicks += int(unique or 0)
                t.qr_scans += int(scans or 0)
        if _ORDERS in wanted:
            R = ConversionDaily if daily else ConversionMonthly
            by = (R.influencer_id, R.day) if by_day else (R.influencer_id,)
            # Every order counts; revenue only in the campaign's currency.
            revenue_col = case((R.currency == campaign.currency, R.revenue_minor), else_=0)
            orders = select(
                *by,
                func.sum(R.conversions),
                func.sum(R.click_conversions),
                func.sum(revenue_col),
            ).where(R.campaign_id == campaign.id, R.day >= lo, R.day <= hi, R.conversions > 0)
            for row in session.execute(orders.group_by(*by)):
                t = at(*_key(row, by_day))
                n, by_click, minor = row[-3:]
                t.conversions += int(n or 0)
                t.click_conversions += int(by_click or 0)
                t.revenue += int(minor or 0)
        if _LEDGER in wanted:
            L = CommissionDaily if daily else CommissionMonthly
            by = (L.influencer_id, L.day) if by_day else (L.influencer_id,)
            ledger = select(*by, func.sum(L.amount_minor)).where(
                L.campaign_id == campaign.id,
                L.day >= lo,
                L.day <= hi,
                L.lines > 0,
                L.currency == campaign.currency,
            )
            for row in session.execute(ledger.group_by(*by)):
                at(*_key(row, by_day)).cost += int(row[-1] or 0)
    if wanted & {_POSTS, _RATES, _VALUES, _LINKS}:
        _posts(session, campaign, first, last, at, wanted)
    return out


def _key(row: Any, by_day: bool) -> tuple[str | None, date | None]:
    """A grouped row's (influencer id, day or None)."""
    return row[0], row[1] if by_day else None


def _posts(
    session: Session,
    campaign: Campaign,
    first: date,
    last: date,
    at: Callable[[str | None, date | None], Tally],
    wanted: set[str],
) -> None:
    """The campaign's posts of the days (not rejected), as the report counts them: their
    reach, impressions and engagements, and as ``wanted`` says their engagement rates,
    media values and tracked links' clicks (over ``first`` to ``last``)."""
    D = Deliverable
    lo = datetime(first.year, first.month, first.day, tzinfo=UTC)
    hi = datetime(last.year, last.month, last.day, tzinfo=UTC) + ONE_DAY
    rows = session.execute(
        select(
            D.influencer_id,
            D.platform,
            D.posted_at,
            D.link_id,
            *(func.coalesce(post_metric(name), 0) for name in _POST_METRICS),
        )
        .where(counted_posts(campaign.id, lo, hi))
        .order_by(D.posted_at, D.id)
    )
    followers: dict[tuple[str, str], int] = {}
    if _RATES in wanted:
        partners = select(Partnership.influencer_id).where(Partnership.campaign_id == campaign.id)
        for inf, platform, count in session.execute(
            select(
                PlatformAccount.influencer_id, PlatformAccount.platform, PlatformAccount.followers
            ).where(PlatformAccount.influencer_id.in_(partners))
        ):
            # Several accounts on one platform: the largest, as the report judges posts.
            followers[inf, platform] = max(followers.get((inf, platform), 0), int(count))
    table: mv.RateTable | None = media_value_rates(campaign)[0] if _VALUES in wanted else None
    linked: dict[str, Tally] = {}  # link → the tally of the first post naming it
    for inf, platform, posted_at, link, *values in rows:
        metrics = dict(zip(_POST_METRICS, map(int, values), strict=True))
        t = at(inf, posted_at.astimezone(UTC).date())
        t.impressions += metrics["impressions"]
        t.reach += metrics["reach"]
        t.engagements += mv.engagements(metrics)
        if _RATES in wanted:
            audience = followers.get((inf, platform))
            t.post_rates.append(engagement_rate(metrics["likes"], metrics["comments"], audience))
        if table is not None:
            t.post_values.append(mv.post_media_value(platform, metrics, table))
        if _LINKS in wanted and link is not None:
            t.linked_impressions += metrics["impressions"]
            linked.setdefault(link, t)
    if linked:
        for link, n in link_clicks(session, campaign.id, first, last, set(linked)).items():
            linked[link].link_clicks += n


# The metrics of a post the KPIs read.
_POST_METRICS = ("impressions", "reach", *ENGAGEMENT_METRICS)


# --- Progress --------------------------------------------------------------------------
def forecast_method(kpi: str, recent_days: int, days_left: int) -> str:
    """How the forecast was made, in words."""
    if days_left == 0:
        return "the deadline has passed: the value at the deadline"
    if not maths.is_cumulative(kpi):
        return "a rate or cost per result is forecast as its current value"
    if recent_days == 0:
        return "no complete day yet: no forecast"
    return (
        f"actual + the mean of the last {recent_days} complete "
        f"day{'s' if recent_days != 1 else ''} times {days_left} day"
        f"{'s' if days_left != 1 else ''} left"
    )


@dataclass(frozen=True)
class Window:
    """The days an objective is measured over, on ``today``: from its start to
    ``last`` (``today``, or the day it closed), judged as on ``judged_on``."""

    first: date
    last: date
    judged_on: date
    recent: tuple[date, ...]  # the last complete days before judged_on, oldest first


def window_of(objective: Objective, campaign: Campaign, today: date) -> Window:
    """An objective closes on its deadline, or on the campaign's last day if the campaign
    ended before it; once closed it is judged as on the day after its deadline with the
    values up to the day it closed, so its final status stays."""
    closes = objective.deadline
    if campaign.ends_on is not None and campaign.ends_on < closes:
        closes = campaign.ends_on
    if today > closes:
        judged_on = objective.deadline + ONE_DAY
        last = closes
    else:
        judged_on = today
        last = today
    start = objective.starts_on
    recent: list[date] = []
    if judged_on <= objective.deadline:
        day = judged_on - ONE_DAY
        while day >= start and len(recent) < maths.FORECAST_WINDOW_DAYS:
            recent.append(day)
            day -= ONE_DAY
    return Window(start, last, judged_on, tuple(reversed(recent)))


def campaign_objectives(
    session: Session,
    campaign: Campaign,
    objectives: list[Objective],
    today: date | None = None,
    *,
    contributions_for: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """Each objective's progress on ``today`` (the clock's day by default), as the API
    and the dashboard show it; the partners' ``contributions`` to each objective whose id
    is in ``contributions_for`` (every objective when it is None), null for the others:
    a thousand partners times every objective is most of the answer."""
    today = today or clock.now_utc().date()
    windows = {o.id: window_of(o, campaign, today) for o in objectives}
    # Each span of days is read once, from every source its objectives need.
    needs: dict[tuple[date, date, bool], set[str]] = {}
    for o in objectives:
        w = windows[o.id]
        needs.setdefault((w.first, w.last, False), set()).update(SOURCES[o.kpi])
        if w.recent and maths.is_cumulative(o.kpi):
            needs.setdefault((w.recent[0], w.recent[-1], True), set()).update(SOURCES[o.kpi])
    memo: dict[tuple[date, date, bool], dict[Key, Tally]] = {}

    def read(first: date, last: date, by_day: bool) -> dict[Key, Tally]:
        key = (first, last, by_day)
        if key not in memo:
            sources = needs.get(key, set())
            found = (
                tallies(session, campaign, first, last, sources, by_day=by_day) if sources else {}
            )
            memo[key] = {**found, **_whole(found)}
        return memo[key]

    people: dict[str, str] | None = None
    shown = []
    for objective in objectives:
        w = windows[objective.id]
        reason = unmeasured(objective.kpi, campaign)
        totals = read(w.first, w.last, False)
        daily: dict[Key, Tally] = {}
        if w.recent and maths.is_cumulative(objective.kpi):
            daily = read(w.recent[0], w.recent[-1], True)
        if objective.scope == "influencer":
            if people is None:
                people = partner_handles(session, campaign.id)
            whom = (
                [objective.influencer_id] if objective.influencer_id is not None else list(people)
            )
            rows = [
                {
                    "influencer_id": inf,
                    "handle": people.get(inf),
                    **_one(objective, campaign.currency, w, totals, daily, {inf}, reason),
                }
                for inf in whom
            ]
            for row in rows:
                row["below_pace"] = row["status"] in (BEHIND, MISSED)
            rows.sort(key=lambda row: (not row["below_pace"], row["handle"] or ""))
            if objective.influencer_id is not None:
                head = {k: v for k, v in rows[0].items() if k not in ("influencer_id", "handle")}
                head.pop("below_pace")
            else:
                head = _each(objective, campaign.currency, w, rows, reason)
            shown.append(
                {
                    **_about(objective, campaign.currency),
                    **head,
                    "partners": rows,
                    "contributions": (
                        contributions(objective, campaign.currency, totals, rows, reason)
                        if contributions_for is None or objective.id in contributions_for
                        else None
                    ),
                }
            )
        else:
            head = _one(objective, campaign.currency, w, totals, daily, None, reason)
            given = None
            if contributions_for is None or objective.id in contributions_for:
                if people is None:
                    people = partner_handles(session, campaign.id)
                mine = [{"influencer_id": i, "handle": handle} for i, handle in people.items()]
                given = contributions(objective, campaign.currency, totals, mine, reason)
            shown.append(
                {
                    **_about(objective, campaign.currency),
                    **head,
                    "partners": None,
                    "contributions": given,
                }
            )
    return shown


def _about(objective: Objective, currency: str) -> dict[str, Any]:
    return {
        "id": objective.id,
        "kpi": objective.kpi,
        "scope": objective.scope,
        "influencer_id": objective.influencer_id,
        "starts_on": objective.starts_on.isoformat(),
        "deadline": objective.deadline.isoformat(),
        "target": maths.format_value(objective.kpi, objective.target, currency),
    }


# The key of the campaign's own tallies, beside each influencer's (no id is "*").
ALL = "*"


def _whole(found: dict[Key, Tally]) -> dict[Key, Tally]:
    """The campaign's tallies, day by day (or of the whole span): everyone's summed."""
    whole: dict[Key, Tally] = {}
    for (_inf, day), t in found.items():
        whole.setdefault((ALL, day), Tally()).add(t)
    return whole


def _sum(found: dict[Key, Tally], whom: set[str] | None, day: date | None = None) -> Tally:
    """The tallies of ``day`` (None: the whole span) of some influencers, or of all."""
    total = Tally()
    for inf in whom if whom is not None else (ALL,):
        theirs = found.get((inf, day))
        if theirs is not None:
            total.add(theirs)
    return total


def _one(
    objective: Objective,
    currency: str,
    w: Window,
    totals: dict[Key, Tally],
    daily: dict[Key, Tally],
    whom: set[str] | None,
    reason: str | None = None,
) -> dict[str, Any]:
    """The progress of the campaign (``whom`` None) or of some influencers; with a
    ``reason`` (see :func:`unmeasured`) there is no actual and no status."""
    kpi = objective.kpi
    measure = ACTUALS[kpi]
    actual = None if reason else measure(_sum(totals, whom))
    recent: list[int] = []
    if reason is None and maths.is_cumulative(kpi):
        # A day without a row in any roll-up brought nothing: 0.
        recent = [measure(_sum(daily, whom, day)) or 0 for day in w.recent]
    p = maths.progress(
        kpi, objective.target, objective.starts_on, objective.deadline, w.judged_on, actual, recent
    )
    out = p.to_json(currency)
    out.pop("kpi")
    out.pop("target")
    out["percent_reached"] = out.pop("percent")
    left = maths.days_left(w.judged_on, objective.deadline)
    out["forecast_method"] = forecast_method(kpi, len(recent), left)
    out["reason"] = reason
    if reason is not None:
        out["status"] = None  # nothing to judge
    return out


# The worst first: an objective for each partner takes its partners' worst status.
_WORST = (MISSED, BEHIND, ON_TRACK, ACHIEVED)


def _each(
    objective: Objective,
    currency: str,
    w: Window,
    rows: list[dict[str, Any]],
    reason: str | None = None,
) -> dict[str, Any]:
    """An objective for each partner: the pace each should be at, the worst status among
    them, and how many are below pace; no actual of its own (each partner has theirs)."""
    statuses = {row["status"] for row in rows}
    worst = next((s for s in _WORST if s in statuses), None)
    pace = maths.pace(
        objective.kpi, objective.target, objective.starts_on, objective.deadline, w.judged_on
    )
    return {
        "actual": None,
        "percent_reached": None,
        "pace": maths.format_value(objective.kpi, pace, currency),
        "forecast": None,
        "forecast_method": "each partner's own",
        "status": worst,
        "reason": reason or (None if rows else "the campaign has no partners"),
        "partners_below_pace": sum(1 for row in rows if row["below_pace"]),
    }


# --- Contributions ---------------------------------------------------------------------
def contributions(
    objective: Objective,
    currency: str,
    totals: dict[Key, Tally],
    partners: list[dict[str, Any]],
    reason: str | None = None,
) -> list[dict[str, Any]]:
    """Each partner's contribution to an objective over its window (``totals``), the
    best first: for a lower-is-better KPI the lowest; partners with no value last, ties
    by handle.

    ``partners`` are the rows the objective applies to: every partner of the campaign for
    a campaign-scope objective, else the per-influencer rows of ``campaign_objectives``
    (with their ``percent_reached``, ``status`` and ``below_pace``).

    - A total of the whole campaign: the partner's own value and its ``share`` of the
      campaign's, in percent with one decimal, half-even (``None`` when the campaign has
      nothing). Clicks or orders of no partner count in the campaign's value only, so the
      shares may sum to less than 100.
    - A rate or a cost per result of the whole campaign: the partner's own value, no share.
    - A per-influencer objective: the partner's own progress, and ``below_target`` when
      they are below its pace today (after the deadline: missed)."""
    kpi = objective.kpi
    measure = ACTUALS[kpi]
    measurable = reason is None  # else the KPI cannot be measured (``unmeasured``)
    whole = measure(_sum(totals, None)) if measurable else None
    cumulative = maths.is_cumulative(kpi)
    per_influencer = objective.scope == "influencer"
    ranked: list[tuple[int | None, dict[str, Any]]] = []
    for row in partners:
        inf = row["influencer_id"]
        own = measure(_sum(totals, {inf})) if measurable else None
        share = None
        if cumulative and not per_influencer and own is not None and whole:
            share = ratio(own * 100, whole, maths.PERCENT_PLACES)
        entry = {
            "influencer_id": inf,
            "handle": row["handle"],
            "actual": maths.format_value(kpi, own, currency),
            "share": share,
            "percent_reached": row.get("percent_reached") if per_influencer else None,
            "status": row.get("status") if per_influencer else None,
            "below_target": bool(row.get("below_pace")) if per_influencer else False,
        }
        ranked.append((own, entry))
    ceiling = maths.lower_is_better(kpi)

    def order(pair: tuple[int | None, dict[str, Any]]) -> tuple[bool, int, str]:
        own, entry = pair
        value = 0 if own is None else (own if ceiling else -own)
        return (own is None, value, entry["handle"] or "")

    return [entry for _own, entry in sorted(ranked, key=order)]
