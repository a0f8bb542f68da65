from __future__ import annotations

from typing import Any

from service.campaigns import service
from service.campaigns.models import Campaign, Partnership
from service.campaigns.schemas import (
    CampaignIn,
    CampaignOut,
    CampaignQuery,
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
