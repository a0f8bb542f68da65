from __future__ import annotations

from typing import Any

from service.campaigns import service
from service.campaigns.models import Campaign, Partnership
from service.campaigns.schemas import (
    CampaignChange,
    CampaignIn,
    CampaignOut,
    CampaignQuery,
    PartnershipChange,
    PartnershipIn,
    PartnershipOut,
    PartnershipQuery,
)
from service.http.auth import require
from service.http.context import session
from service.http.contract import JSON_BODY, QUERY, Blueprint, page_of
from service.paging import Page

bp = Blueprint("campaigns", __name__, url_prefix="/api/v1/campaigns")


@bp.route("", methods=["POST"])
@require("write")
@bp.arguments(CampaignIn)
@bp.response(201, CampaignOut)
@bp.errors(JSON_BODY, _409="the slug is taken")
def create(data: dict[str, Any]) -> Campaign:
    """Create a campaign"""
    campaign = service.create_campaign(session(), data)
    session().commit()
    return campaign


@bp.route("", methods=["GET"])
@require("read")
@bp.arguments(CampaignQuery, location="query")
@bp.response(200, page_of(CampaignOut))
@bp.errors(QUERY)
def index(query: dict[str, Any]) -> Page[Campaign]:
    """List campaigns"""
    return service.list_campaigns(session(), query)


@bp.route("/<campaign_id>", methods=["GET"])
@require("read")
@bp.response(200, CampaignOut)
@bp.errors(404)
def show(campaign_id: str) -> Campaign:
    """Show a campaign"""
    return service.get_campaign(session(), campaign_id)


@bp.route("/<campaign_id>", methods=["PATCH"])
@require("write")
@bp.arguments(CampaignChange)
@bp.response(200, CampaignOut)
@bp.errors(JSON_BODY, 404)
def change(data: dict[str, Any], campaign_id: str) -> Campaign:
    """Change a campaign

    Only the fields sent change; the slug never does. The currency cannot change once an
    order or a commission line refers to the campaign. New commission rules apply to
    orders recorded from then on; lines already booked keep their amounts."""
    campaign = service.change_campaign(
        session(), service.get_campaign(session(), campaign_id), data
    )
    session().commit()
    return campaign


@bp.route("/<campaign_id>/partners", methods=["POST"])
@require("write")
@bp.arguments(PartnershipIn)
@bp.response(201, PartnershipOut)
@bp.errors(JSON_BODY, 404, _409="the influencer is already a partner")
def add_partner(data: dict[str, Any], campaign_id: str) -> Partnership:
    """Enrol an influencer in a campaign"""
    partnership = service.add_partner(session(), campaign_id, data)
    session().commit()
    return partnership


@bp.route("/<campaign_id>/partners", methods=["GET"])
@require("read")
@bp.arguments(PartnershipQuery, location="query")
@bp.response(200, page_of(PartnershipOut))
@bp.errors(QUERY, 404)
def partners(query: dict[str, Any], campaign_id: str) -> Page[Partnership]:
    """List a campaign's partners"""
    return service.list_partners(session(), campaign_id, query)


@bp.route("/<campaign_id>/partners/<influencer_id>", methods=["PATCH"])
@require("write")
@bp.arguments(PartnershipChange)
@bp.response(200, PartnershipOut)
@bp.errors(JSON_BODY, 404)
def change_partner(data: dict[str, Any], campaign_id: str, influencer_id: str) -> Partnership:
    """Change a partner's own rules

    `commission_rules` replaces the partner's own rules (null: the campaign's apply), for
    orders recorded from then on."""
    s = session()
    partnership = service.change_partner(
        s, service.get_partnership(s, campaign_id, influencer_id), data
    )
    s.commit()
    return partnership


@bp.route("/<campaign_id>/partners/<influencer_id>", methods=["DELETE"])
@require("write")
@bp.response(204)
@bp.errors(404, _409="the partnership has links, promo codes, orders, posts or commissions")
def remove_partner(campaign_id: str, influencer_id: str) -> None:
    """Remove a partner

    Only an enrolment nothing refers to yet: once the partnership has a link, a promo
    code, an order, a post or a commission line, it is refused (409 `in_use`) and stays;
    pause its links to end it (its promo codes count until they expire or the campaign
    ends)."""
    s = session()
    service.remove_partner(s, service.get_partnership(s, campaign_id, influencer_id))
    s.commit()
