"""Campaign report (docs/product.md §10): clicks, conversions and ledger per group and in total."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, cast, func, select
from sqlalchemy.orm import Session

from service.campaigns.models import Campaign, Partnership
from service.campaigns.service import get_campaign, media_value_rates
from service.clicks.models import ClickDaily, ClickMonthly
from service.commissions.models import CommissionDaily, CommissionMonthly
from service.conversions.attribution import METHODS
from service.conversions.models import ConversionDaily, ConversionMonthly
from service.deliverables.models import Deliverable
from service.deliverables.schemas import METRICS
from service.influencers.models import Influencer, PlatformAccount
from service.influencers.tiers import tier_for
from service.links.models import Link
from service.money import format_amount
from service.reports.kpis import Figures, engagement_rate, mean_rate, render
from service.reports.media_value import (
    RateTable,
    costs_per_result,
    ctr,
    engagements,
    post_media_value,
    total_media_value,
    value_for_cost,
)
from service.reports.queries import REPORTS


def campaign_report(
    session: Session,
    campaign_id: str,
    start: date,
    end: date,
    group_by: str,
    *,
    posts: bool = True,
) -> dict[str, Any]:
    """The campaign's report over ``[start, end]`` grouped by ``group_by``, as the API
    answers it. ``posts=False`` leaves out what the posts give (reach, posts, media value,
    click-through rates): the clicks, orders and ledger of each row and in total, for a
    page that takes those from another grouping's report."""
    campaign = get_campaign(session, campaign_id)
    REPORTS.of(session).before_rollup_scans(session)
    lo = datetime(start.year, start.month, start.day, tzinfo=UTC)
    hi = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    groups: dict[str, Figures] = {}

    def fig(key: Any) -> Figures:
        key = str(key) if key is not None else ""
        found = groups.get(key)
        if found is None:
            found = groups[key] = Figures()
        return found

    # Clicks, orders and the ledger come from their roll-ups, never from a scan of the
    # rows themselves: a report's cost follows links and days, not clicks or orders. The
    # database keeps them as rows are written, refunded, cancelled or rejected (models
    # ClickDaily, ConversionDaily, CommissionDaily and their monthly twins). Whole months
    # of the range are read from the monthly roll-ups, the days around them from the
    # daily ones (spans). A key with nothing left (every order cancelled, every line
    # rejected) is skipped, as the rows themselves would be.
    spans = [("daily", start, end)] if group_by == "day" else month_spans(start, end)
    for grain, first, last in spans:
        C = ClickDaily if grain == "daily" else ClickMonthly
        columns: dict[str, Any] = {
            "influencer": C.influencer_id,
            "link": C.link_id,
            "platform": Link.platform,
        }
        click_key = columns.get(group_by, C.day)
        clicks = select(
            click_key,
            func.sum(C.clicks),
            func.sum(C.unique_clicks),
            func.sum(C.bot_clicks),
            func.sum(C.qr_scans),
        ).where(C.campaign_id == campaign.id, C.day >= first, C.day <= last)
        if group_by == "platform":
            clicks = clicks.join(Link, Link.id == C.link_id)
        for group, humans, unique, bots, scans in session.execute(clicks.group_by(click_key)):
            f = fig(group.isoformat() if isinstance(group, date) else group)
            f.clicks += int(humans or 0)
            f.unique_clicks += int(unique or 0)
            f.bot_clicks += int(bots or 0)
            f.qr_scans += int(scans or 0)

        daily = grain == "daily"
        orders = ConversionDaily if daily else ConversionMonthly
        ledger = CommissionDaily if daily else CommissionMonthly
        by_method = [getattr(orders, f"{method}_conversions") for method in METHODS]
        for R, n_col, amount_col, parts, add in (
            (orders, orders.conversions, orders.revenue_minor, by_method, _orders),
            (ledger, ledger.lines, ledger.amount_minor, [], _ledger),
        ):
            keys: dict[str, Any] = {
                "influencer": R.influencer_id,
                "link": R.link_id,
                "platform": func.coalesce(Link.platform, ""),
            }
            group_key = keys.get(group_by, R.day)
            stmt = select(
                group_key,
                R.currency,
                func.sum(n_col),
                func.sum(amount_col),
                *(func.sum(part) for part in parts),
            ).where(R.campaign_id == campaign.id, R.day >= first, R.day <= last, n_col > 0)
            if group_by == "platform":
                stmt = stmt.outerjoin(Link, Link.id == R.link_id)
            for group, currency, n, minor, *counts in session.execute(
                stmt.group_by(group_key, R.currency)
            ):
                add(
                    fig(group.isoformat() if isinstance(group, date) else group),
                    currency,
                    n,
                    minor,
                    *counts,
                )

    # Every partner (grouped by influencer) and every link or platform of the campaign
    # (grouped by link or platform) has its row, zeros where nothing happened, so the
    # weak are seen (ADR "every partner in the report"). One query each; days stay those
    # with something in them.
    profiles: dict[str, dict[str, Any]] = {}
    counted = _deliverables(session, campaign.id, lo, hi) if posts else []
    if group_by == "influencer":
        people = _partners(session, campaign.id)
        for influencer_id in (*people, *(influencer_id for influencer_id, _post in counted)):
            fig(influencer_id)
        profiles = _profiles(session, campaign.id, people, [key for key in groups if key], counted)
    elif group_by in ("link", "platform"):
        column = Link.id if group_by == "link" else Link.platform
        for key in session.scalars(
            select(column).where(Link.campaign_id == campaign.id).distinct()
        ):
            fig(key)

    totals = Figures()
    rows = []
    for key in sorted(groups):
        totals.add(groups[key])
        rows.append({"key": key or None, **render(groups[key]), **profiles.get(key, {})})
    report: dict[str, Any] = {
        "campaign_id": campaign.id,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "group_by": group_by,
        "rows": rows,
        "totals": render(totals),
    }
    if not posts:
        return report
    report["totals"] = {**report["totals"], **_reach_totals(session, campaign.id, lo, hi)}
    return _with_media_value(session, campaign, start, end, report, groups, totals, counted)


def month_spans(start: date, end: date) -> list[tuple[str, date, date]]:
    """``[start, end]`` (UTC days, both included) as (grain, first, last) spans: the whole
    months inside it read from the monthly roll-ups (their rows are keyed by the month's
    first day), the days before and after them from the daily ones."""
    first_whole = start if start.day == 1 else _next_month(start)
    past_whole = (end + timedelta(days=1)).replace(day=1)  # first day after the last whole month
    if first_whole >= past_whole:
        return [("daily", start, end)]
    spans = []
    if start < first_whole:
        spans.append(("daily", start, first_whole - timedelta(days=1)))
    spans.append(("monthly", first_whole, past_whole - timedelta(days=1)))
    if past_whole <= end:
        spans.append(("daily", past_whole, end))
    return spans


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _orders(f: Figures, currency: str, count: Any, revenue: Any, *by_method: Any) -> None:
    f.conversions += int(count)
    for method, n in zip(METHODS, by_method, strict=True):
        f.by_method[method] += int(n or 0)
    f.revenue[currency] = f.revenue.get(currency, 0) + int(revenue or 0)


def _ledger(f: Figures, currency: str, _lines: Any, amount: Any) -> None:
    f.commission[currency] = f.commission.get(currency, 0) + int(amount or 0)


def _deliverables(
    session: Session, campaign_id: str, lo: datetime, hi: datetime
) -> list[tuple[str, dict[str, Any]]]:
    """The campaign's posts in the range (not rejected), with their metrics, as
    (influencer id, post) pairs."""
    D = Deliverable
    # The metrics come out of the JSON in the database, one integer column each.
    metrics = [func.coalesce(post_metric(name), 0) for name in METRICS]
    rows = session.execute(
        select(D.id, D.influencer_id, D.platform, D.url, D.posted_at, D.status, D.link_id, *metrics)
        .where(counted_posts(campaign_id, lo, hi))
        .order_by(D.posted_at, D.id)
    )
    keys = ("id", "platform", "url", "posted_at", "status", "link_id", *METRICS)
    return [
        (
            influencer_id,
            dict(
                zip(
                    keys,
                    (post_id, platform, url, at.isoformat(), status, link, *values),
                    strict=True,
                )
            ),
        )
        for post_id, influencer_id, platform, url, at, status, link, *values in rows
    ]


def counted_posts(campaign_id: str, lo: datetime, hi: datetime) -> ColumnElement[bool]:
    """The campaign's posts a report (and an objective) counts: those posted from ``lo``
    to before ``hi``, but a rejected one."""
    D = Deliverable
    return and_(
        D.campaign_id == campaign_id,
        D.posted_at >= lo,
        D.posted_at < hi,
        D.status != "rejected",
    )


def post_metric(name: str) -> ColumnElement[int]:
    """A post's metric as a 64-bit integer (metrics go up to 10^13; ``as_integer()``
    would cast to a 32-bit integer on PostgreSQL and fail past 2^31)."""
    return cast(Deliverable.metrics[name].as_string(), BigInteger)


def _reach_totals(session: Session, campaign_id: str, lo: datetime, hi: datetime) -> dict[str, int]:
    """``_reach`` of all the campaign's posts in the range, summed by the database."""
    count, impressions, reach = session.execute(
        select(
            func.count(),
            func.sum(post_metric("impressions")),
            func.sum(post_metric("reach")),
        ).where(counted_posts(campaign_id, lo, hi))
    ).one()
    return {
        "deliverables": int(count),
        "impressions": int(impressions or 0),
        "reach": int(reach or 0),
    }


def _reach(posts: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "deliverables": len(posts),
        "impressions": sum(post["impressions"] for post in posts),
        "reach": sum(post["reach"] for post in posts),
    }


def _partners(session: Session, campaign_id: str) -> dict[str, Any]:
    """The campaign's partners (handle and name by influencer id), one query."""
    return {
        row.id: row
        for row in session.execute(
            select(Influencer.id, Influencer.handle, Influencer.name)
            .join(Partnership, Partnership.influencer_id == Influencer.id)
            .where(Partnership.campaign_id == campaign_id)
        )
    }


def _profiles(
    session: Session,
    campaign_id: str,
    people: dict[str, Any],
    influencer_ids: list[str],
    posts: list[tuple[str, dict[str, Any]]],
) -> dict[str, dict[str, Any]]:
    """Per influencer: who they are (tier, followers per platform; ``people`` are the
    partners, from ``_partners``), their posts in the range with each post's engagement
    rate, and the posts' impressions and reach."""
    # Everyone in a report is (or was) the campaign's partner: read their accounts
    # through the partnerships rather than with a list of a thousand ids.
    partners = select(Partnership.influencer_id).where(Partnership.campaign_id == campaign_id)
    wanted = set(influencer_ids)
    followers: dict[str, dict[str, int]] = {inf_id: {} for inf_id in influencer_ids}
    for inf_id, platform, count in session.execute(
        select(PlatformAccount.influencer_id, PlatformAccount.platform, PlatformAccount.followers)
        .where(PlatformAccount.influencer_id.in_(partners))
        .order_by(PlatformAccount.id)
    ):
        if inf_id in wanted:
            # Several accounts on one platform: the largest is the one posts are judged by.
            followers[inf_id][platform] = max(followers[inf_id].get(platform, 0), int(count))
    theirs: dict[str, list[dict[str, Any]]] = {inf_id: [] for inf_id in influencer_ids}
    for influencer_id, post in posts:
        audience = followers.get(influencer_id, {}).get(post["platform"])
        post["followers"] = audience
        post["engagement_rate"] = engagement_rate(post["likes"], post["comments"], audience)
        theirs.setdefault(influencer_id, []).append(post)
    profiles = {}
    for inf_id in influencer_ids:
        person = people.get(inf_id)
        counts = followers.get(inf_id, {})
        own = theirs.get(inf_id, [])
        profiles[inf_id] = {
            "influencer": {
                "handle": person.handle if person else None,
                "name": person.name if person else None,
                "tier": tier_for(counts.values()),
                "followers": dict(sorted(counts.items())),
            },
            **_reach(own),
            "engagement_rate": mean_rate([post["engagement_rate"] for post in own]),
            "posts": own,
        }
    return profiles


# Media value, click-through rate and costs per result (docs/objectives.md): added to a
# report once its rows are made, from the posts it read and the rows' figures.


def _with_media_value(
    session: Session,
    campaign: Campaign,
    start: date,
    end: date,
    report: dict[str, Any],
    groups: dict[str, Figures],
    totals: Figures,
    posts: list[tuple[str, dict[str, Any]]],
) -> dict[str, Any]:
    """``report`` with each post's media value and click-through rate (the posts of an
    influencer grouping), each influencer row's and the totals' media value, media value
    per cost and costs per result (per currency, in ``money``)."""
    table, defaults = media_value_rates(campaign)
    report["media_value_rates"] = None if table is None else "defaults" if defaults else "campaign"
    currency = campaign.currency
    clicks = link_clicks(session, campaign.id, start, end, {p["link_id"] for _, p in posts})
    values: dict[str, list[int | None]] = {}
    reach: dict[str, list[int]] = {}  # influencer → [impressions, engagements]
    for influencer_id, post in posts:
        value = _post_value(post, table)
        post["media_value"] = None if value is None else format_amount(value, currency)
        link = post["link_id"]
        post["link_clicks"] = None if link is None else clicks.get(link, 0)
        post["click_through_rate"] = (
            None if link is None else ctr(clicks.get(link, 0), post["impressions"])
        )
        values.setdefault(influencer_id, []).append(value)
        seen = reach.setdefault(influencer_id, [0, 0])
        seen[0] += post["impressions"]
        seen[1] += engagements(post)
    if report["group_by"] == "influencer":
        for row in report["rows"]:
            key = row["key"] or ""
            impressions, engaged = reach.get(key, [0, 0])
            value = total_media_value(values.get(key, []))
            _value_figures(row, groups[key], value, impressions, engaged, currency)
    everything = [value for own in values.values() for value in own]
    _value_figures(
        report["totals"],
        totals,
        total_media_value(everything),
        sum(seen[0] for seen in reach.values()),
        sum(seen[1] for seen in reach.values()),
        currency,
    )
    return report


def _post_value(post: dict[str, Any], table: RateTable | None) -> int | None:
    return None if table is None else post_media_value(post["platform"], post, table)


def _value_figures(
    row: dict[str, Any],
    f: Figures,
    value: int | None,
    impressions: int,
    engaged: int,
    currency: str,
) -> None:
    """A row's (or the totals') media value, value per cost and costs per result."""
    row["media_value"] = None if value is None else format_amount(value, currency)
    row["engagements"] = engaged
    # Cost as ROI counts it: the commission ledger in the campaign's currency.
    row["media_value_per_cost"] = value_for_cost(value, f.commission.get(currency, 0))
    for cur, money in row["money"].items():
        money["costs_per_result"] = costs_per_result(
            f.commission.get(cur, 0), f.clicks, engaged, impressions, f.conversions, cur
        )


def link_clicks(
    session: Session, campaign_id: str, start: date, end: date, links: set[str | None]
) -> dict[str, int]:
    """The non-bot clicks on each of ``links`` (QR scans included) from ``start`` to
    ``end`` (UTC days, both included), from the roll-ups: whole months from the monthly
    one, the days around them from the daily one. A link without clicks is left out."""
    wanted = sorted(link for link in links if link is not None)
    found: dict[str, int] = {}
    if not wanted:
        return found
    for grain, first, last in month_spans(start, end):
        C = ClickDaily if grain == "daily" else ClickMonthly
        rows = session.execute(
            select(C.link_id, func.sum(C.clicks))
            .where(
                C.campaign_id == campaign_id,
                C.link_id.in_(wanted),
                C.day >= first,
                C.day <= last,
            )
            .group_by(C.link_id)
        )
        for link, n in rows:
            found[link] = found.get(link, 0) + int(n or 0)
    return found
