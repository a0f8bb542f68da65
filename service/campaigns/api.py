from __future__ import annotations

from flask import Blueprint, Response

from service.campaigns import service
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
from service.http.request import load, load_query
from service.http.views import one, page

bp = Blueprint("campaigns", __name__, url_prefix="/api/v1/campaigns")


@bp.post("")
@require("write")
def create() -> tuple[Response, int]:
    campaign = service.create_campaign(session(), load(CampaignIn()))
    session().commit()
    return one(CampaignOut(), campaign, 201)


@bp.get("")
@require("read")
def index() -> Response:
    return page(CampaignOut(), service.list_campaigns(session(), load_query(CampaignQuery())))


@bp.get("/<campaign_id>")
@require("read")
def show(campaign_id: str) -> tuple[Response, int]:
    return one(CampaignOut(), service.get_campaign(session(), campaign_id))


@bp.post("/<campaign_id>/partners")
@require("write")
def add_partner(campaign_id: str) -> tuple[Response, int]:
    partnership = service.add_partner(session(), campaign_id, load(PartnershipIn()))
    session().commit()
    return one(PartnershipOut(), partnership, 201)


@bp.get("/<campaign_id>/partners")
@require("read")
def partners(campaign_id: str) -> Response:
    query = load_query(PartnershipQuery())
    return page(PartnershipOut(), service.list_partners(session(), campaign_id, query))
