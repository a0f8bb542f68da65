from __future__ import annotations

from typing import Any

from service.http.auth import require
from service.http.context import session
from service.http.contract import JSON_BODY, QUERY, Blueprint, page_of
from service.influencers import service
from service.influencers.models import Influencer
from service.influencers.schemas import (
    InfluencerChange,
    InfluencerIn,
    InfluencerOut,
    InfluencerQuery,
)
from service.paging import Page

bp = Blueprint("influencers", __name__, url_prefix="/api/v1/influencers")


@bp.route("", methods=["POST"])
@require("write")
@bp.arguments(InfluencerIn)
@bp.response(201, InfluencerOut)
@bp.errors(JSON_BODY, _409="the handle is taken")
def create(data: dict[str, Any]) -> Influencer:
    """Create an influencer"""
    influencer = service.create_influencer(session(), data)
    session().commit()
    return influencer


@bp.route("", methods=["GET"])
@require("read")
@bp.arguments(InfluencerQuery, location="query")
@bp.response(200, page_of(InfluencerOut))
@bp.errors(QUERY)
def index(query: dict[str, Any]) -> Page[Influencer]:
    """List influencers"""
    return service.list_influencers(session(), query)


@bp.route("/<influencer_id>", methods=["GET"])
@require("read")
@bp.response(200, InfluencerOut)
@bp.errors(404)
def show(influencer_id: str) -> Influencer:
    """Show an influencer"""
    return service.get_influencer(session(), influencer_id)


@bp.route("/<influencer_id>", methods=["PATCH"])
@require("write")
@bp.arguments(InfluencerChange)
@bp.response(200, InfluencerOut)
@bp.errors(JSON_BODY, 404, _409="a platform account is listed twice")
def change(data: dict[str, Any], influencer_id: str) -> Influencer:
    """Change an influencer (any field but the handle)"""
    influencer = service.change_influencer(
        session(), service.get_influencer(session(), influencer_id), data
    )
    session().commit()
    return influencer
