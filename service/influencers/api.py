from __future__ import annotations

from flask import Blueprint, Response

from service.http.auth import require
from service.http.context import session
from service.http.request import load, load_query
from service.http.views import one, page
from service.influencers import service
from service.influencers.schemas import InfluencerIn, InfluencerOut, InfluencerQuery

bp = Blueprint("influencers", __name__, url_prefix="/api/v1/influencers")


@bp.post("")
@require("write")
def create() -> tuple[Response, int]:
    data = load(InfluencerIn())
    influencer = service.create_influencer(session(), data)
    session().commit()
    return one(InfluencerOut(), influencer, 201)


@bp.get("")
@require("read")
def index() -> Response:
    return page(InfluencerOut(), service.list_influencers(session(), load_query(InfluencerQuery())))


@bp.get("/<influencer_id>")
@require("read")
def show(influencer_id: str) -> tuple[Response, int]:
    return one(InfluencerOut(), service.get_influencer(session(), influencer_id))
