from __future__ import annotations

from typing import Any

from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.campaigns.models import Campaign, Partnership
from service.commissions.rules import RuleError, parse_rules
from service.errors import Conflict, InvalidInput, NotFound
from service.influencers.service import get_influencer
from service.links.models import Link
from service.money import MoneyError
from service.paging import Page, paginate


def check_rules(
    raw: list[dict[str, Any]] | None, currency: str, name: str
) -> list[dict[str, Any]] | None:
    """Validate rules; returns their canonical stored form."""
    if raw is None:
        return None
    try:
        return [rule.to_json(currency) for rule in parse_rules(raw, currency)]
    except RuleError as exc:
        key = f"{name}.{exc.path}" if exc.path else name
        raise ValidationError({key: [str(exc)]}) from None
    except MoneyError as exc:
        raise ValidationError({name: [str(exc)]}) from None


def create_campaign(session: Session, data: dict[str, Any]) -> Campaign:
    if session.scalar(select(Campaign.id).where(Campaign.slug == data["slug"])):
        raise Conflict(f"a campaign with slug {data['slug']!r} exists", code="duplicate")
    campaign = Campaign(**data)
    session.add(campaign)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"a campaign with slug {data['slug']!r} exists", code="duplicate") from None
    return campaign


def get_campaign(session: Session, campaign_id: str) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id!r}")
    return campaign


def list_campaigns(session: Session, query: dict[str, Any]) -> Page[Campaign]:
    stmt = select(Campaign)
    if query.get("slug"):
        stmt = stmt.where(Campaign.slug == query["slug"])
    return paginate(session, stmt, Campaign.id, query.get("cursor"), query["limit"])


def campaign_overview(session: Session, limit: int = 500) -> list[dict[str, Any]]:
    """Campaigns, newest start first, each with how many partners and links it has."""
    partners = (
        select(func.count())
        .where(Partnership.campaign_id == Campaign.id)
        .correlate(Campaign)
        .scalar_subquery()
    )
    links = select(func.count()).where(Link.campaign_id == Campaign.id).correlate(Campaign)
    rows = session.execute(
        select(Campaign, partners, links.scalar_subquery())
        .order_by(Campaign.starts_on.desc(), Campaign.id)
        .limit(limit)
    )
    return [{"campaign": campaign, "partners": int(p), "links": int(n)} for campaign, p, n in rows]


def add_partner(session: Session, campaign_id: str, data: dict[str, Any]) -> Partnership:
    campaign = get_campaign(session, campaign_id)
    try:
        get_influencer(session, data["influencer_id"])
    except NotFound:
        raise InvalidInput(
            "unknown influencer", fields={"influencer_id": ["no such influencer"]}
        ) from None
    try:
        rules = check_rules(data.get("commission_rules"), campaign.currency, "commission_rules")
    except ValidationError as exc:
        # marshmallow types messages as a list or a dict; rules' errors are always a dict.
        raise InvalidInput("commission rules are not valid", fields=exc.messages) from None  # type: ignore[arg-type]
    exists = session.scalar(
        select(Partnership.id).where(
            Partnership.campaign_id == campaign.id,
            Partnership.influencer_id == data["influencer_id"],
        )
    )
    if exists:
        raise Conflict("the influencer is already a partner of this campaign", code="duplicate")
    partnership = Partnership(
        campaign=campaign, influencer_id=data["influencer_id"], commission_rules=rules
    )
    session.add(partnership)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(
            "the influencer is already a partner of this campaign", code="duplicate"
        ) from None
    return partnership


def find_partnership(session: Session, campaign_id: str, influencer_id: str) -> Partnership:
    """The partnership behind a (campaign, influencer) pair named in a request body."""
    errors: dict[str, list[str]] = {}
    if session.get(Campaign, campaign_id) is None:
        errors["campaign_id"] = ["no such campaign"]
    partnership = session.scalar(
        select(Partnership).where(
            Partnership.campaign_id == campaign_id, Partnership.influencer_id == influencer_id
        )
    )
    if partnership is None and not errors:
        errors["influencer_id"] = ["this influencer is not a partner of the campaign"]
    if errors:
        raise InvalidInput("unknown reference", fields=errors)
    assert partnership is not None
    return partnership


def list_partners(session: Session, campaign_id: str, query: dict[str, Any]) -> Page[Partnership]:
    get_campaign(session, campaign_id)
    stmt = select(Partnership).where(Partnership.campaign_id == campaign_id)
    if query.get("influencer_id"):
        stmt = stmt.where(Partnership.influencer_id == query["influencer_id"])
    return paginate(session, stmt, Partnership.id, query.get("cursor"), query["limit"])


def partnerships_of(session: Session, influencer_id: str) -> list[Partnership]:
    """The campaigns an influencer is a partner of, newest enrolment first."""
    stmt = (
        select(Partnership)
        .where(Partnership.influencer_id == influencer_id)
        .order_by(Partnership.id.desc())
    )
    return list(session.scalars(stmt))
