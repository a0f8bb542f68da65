"""Campaign report (SPEC §10): clicks, conversions and ledger per group and in total."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from service.campaigns.service import get_campaign
from service.clicks.models import Click
from service.commissions.models import CommissionLine
from service.conversions.models import Conversion
from service.links.models import Link
from service.reports.kpis import Figures, render

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

    click_key = {
        "influencer": Link.influencer_id,
        "link": Link.id,
        "platform": Link.platform,
        "day": _day(Click.occurred_at),
    }[group_by]
    for key, humans, unique, bots in session.execute(
        select(
            click_key,
            func.sum(case((Click.is_bot.is_(False), 1), else_=0)),
            func.sum(case((Click.is_bot.is_(False) & Click.is_unique.is_(True), 1), else_=0)),
            func.sum(case((Click.is_bot.is_(True), 1), else_=0)),
        )
        .join(Link, Link.id == Click.link_id)
        .where(Link.campaign_id == campaign.id, Click.occurred_at >= lo, Click.occurred_at < hi)
        .group_by(click_key)
    ):
        f = fig(key)
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

    totals = Figures()
    rows = []
    for key in sorted(groups):
        totals.add(groups[key])
        rows.append({"key": key or None, **render(groups[key])})
    return {
        "campaign_id": campaign.id,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "group_by": group_by,
        "rows": rows,
        "totals": render(totals),
    }
