"""Campaign report (SPEC §10): clicks, conversions and ledger per group and in total."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from service.campaigns.service import get_campaign
from service.clicks.models import ClickDaily
from service.commissions.models import CommissionLine
from service.conversions.models import Conversion
from service.deliverables.models import Deliverable
from service.deliverables.schemas import METRICS
from service.influencers.models import Influencer, PlatformAccount
from service.influencers.tiers import tier_for
from service.links.models import Link
from service.reports.kpis import Figures, engagement_rate, mean_rate, render

GROUPS = ("influencer", "link", "platform", "day")


def _day(column: Any) -> ColumnElement[Any]:
    return func.date(column)


def campaign_report(
    session: Session, campaign_id: str, start: date, end: date, group_by: str
) -> dict[str, Any]:
    campaign = get_campaign(session, campaign_id)
    lo = datetime(start.year, start.month, start.day, tzinfo=UTC)
    hi = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    groups: dict[str, Figures] = {}

    def fig(key: Any) -> Figures:
        return groups.setdefault(str(key) if key is not None else "", Figures())

    # Clicks from the daily roll-up (service.clicks.models.ClickDaily), never a scan of
    # the clicks themselves: a report's cost follows links and days, not clicks.
    R = ClickDaily
    click_key = {
        "influencer": Link.influencer_id,
        "link": Link.id,
        "platform": Link.platform,
        "day": R.day,
    }[group_by]
    for key, humans, unique, bots in session.execute(
        select(click_key, func.sum(R.clicks), func.sum(R.unique_clicks), func.sum(R.bot_clicks))
        .join(Link, Link.id == R.link_id)
        .where(Link.campaign_id == campaign.id, R.day >= start, R.day <= end)
        .group_by(click_key)
    ):
        f = fig(key.isoformat() if isinstance(key, date) else key)
        f.clicks, f.unique_clicks, f.bot_clicks = int(humans or 0), int(unique or 0), int(bots or 0)

    conv_key = {
        "influencer": Conversion.influencer_id,
        "link": Conversion.link_id,
        "platform": func.coalesce(Link.platform, ""),
        "day": _day(Conversion.occurred_at),
    }[group_by]
    for key, currency, count, revenue in session.execute(
        select(
            conv_key,
            Conversion.currency,
            func.count(),
            func.sum(Conversion.amount_minor - Conversion.refunded_minor),
        )
        .outerjoin(Link, Link.id == Conversion.link_id)
        .where(
            Conversion.campaign_id == campaign.id,
            Conversion.status != "cancelled",
            Conversion.occurred_at >= lo,
            Conversion.occurred_at < hi,
        )
        .group_by(conv_key, Conversion.currency)
    ):
        f = fig(key)
        f.conversions += int(count)
        f.revenue[currency] = f.revenue.get(currency, 0) + int(revenue or 0)

    line_key = {
        "influencer": CommissionLine.influencer_id,
        "link": Conversion.link_id,
        "platform": func.coalesce(Link.platform, ""),
        "day": _day(CommissionLine.occurred_at),
    }[group_by]
    for key, currency, amount in session.execute(
        select(line_key, CommissionLine.currency, func.sum(CommissionLine.amount_minor))
        .outerjoin(Conversion, Conversion.id == CommissionLine.conversion_id)
        .outerjoin(Link, Link.id == Conversion.link_id)
        .where(
            CommissionLine.campaign_id == campaign.id,
            CommissionLine.status != "rejected",
            CommissionLine.occurred_at >= lo,
            CommissionLine.occurred_at < hi,
        )
        .group_by(line_key, CommissionLine.currency)
    ):
        f = fig(key)
        f.commission[currency] = f.commission.get(currency, 0) + int(amount or 0)

    posts = _deliverables(session, campaign.id, lo, hi)
    profiles: dict[str, dict[str, Any]] = {}
    if group_by == "influencer":
        for post in posts:
            fig(post["influencer_id"])
        profiles = _profiles(session, [key for key in groups if key], posts)

    totals = Figures()
    rows = []
    for key in sorted(groups):
        totals.add(groups[key])
        rows.append({"key": key or None, **render(groups[key]), **profiles.get(key, {})})
    return {
        "campaign_id": campaign.id,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "group_by": group_by,
        "rows": rows,
        "totals": {**render(totals), **_reach(posts)},
    }


def _deliverables(session: Session, campaign_id: str, lo: datetime, hi: datetime) -> list[dict]:
    """The campaign's posts in the range (submitted or approved), with their metrics."""
    D = Deliverable
    rows = session.execute(
        select(D.id, D.influencer_id, D.platform, D.url, D.posted_at, D.status, D.metrics)
        .where(D.campaign_id == campaign_id, D.posted_at >= lo, D.posted_at < hi)
        .order_by(D.posted_at, D.id)
    )
    return [
        {
            "id": post_id,
            "influencer_id": influencer_id,
            "platform": platform,
            "url": url,
            "posted_at": posted_at.isoformat(),
            "status": status,
            **{name: int((metrics or {}).get(name, 0)) for name in METRICS},
        }
        for post_id, influencer_id, platform, url, posted_at, status, metrics in rows
    ]


def _reach(posts: list[dict]) -> dict[str, int]:
    return {
        "deliverables": len(posts),
        "impressions": sum(post["impressions"] for post in posts),
        "reach": sum(post["reach"] for post in posts),
    }


def _profiles(
    session: Session, influencer_ids: list[str], posts: list[dict]
) -> dict[str, dict[str, Any]]:
    """Per influencer: who they are (tier, followers per platform), their posts in the
    range with each post's engagement rate, and the posts' impressions and reach."""
    people = {
        row.id: row
        for row in session.execute(
            select(Influencer.id, Influencer.handle, Influencer.name).where(
                Influencer.id.in_(influencer_ids)
            )
        )
    }
    followers: dict[str, dict[str, int]] = {inf_id: {} for inf_id in influencer_ids}
    for inf_id, platform, count in session.execute(
        select(PlatformAccount.influencer_id, PlatformAccount.platform, PlatformAccount.followers)
        .where(PlatformAccount.influencer_id.in_(influencer_ids))
        .order_by(PlatformAccount.id)
    ):
        # Several accounts on one platform: the largest is the one posts are judged by.
        followers[inf_id][platform] = max(followers[inf_id].get(platform, 0), int(count))
    theirs: dict[str, list[dict]] = {inf_id: [] for inf_id in influencer_ids}
    for post in posts:
        audience = followers.get(post["influencer_id"], {}).get(post["platform"])
        rate = engagement_rate(post["likes"], post["comments"], audience)
        shown = {k: v for k, v in post.items() if k != "influencer_id"}
        theirs.setdefault(post["influencer_id"], []).append(
            {**shown, "followers": audience, "engagement_rate": rate}
        )
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
