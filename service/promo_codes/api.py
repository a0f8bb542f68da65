from __future__ import annotations

from flask import Blueprint, Response

from service.http.auth import require
from service.http.context import session
from service.http.request import load, load_query
from service.http.views import one, page
from service.promo_codes import service
from service.promo_codes.schemas import PromoCodeIn, PromoCodeOut, PromoCodeQuery

bp = Blueprint("promo_codes", __name__, url_prefix="/api/v1/promo-codes")


@bp.post("")
@require("write")
def create() -> tuple[Response, int]:
    promo = service.create_promo_code(session(), load(PromoCodeIn()))
    session().commit()
    return one(PromoCodeOut(), promo, 201)


@bp.get("")
@require("read")
def index() -> Response:
    return page(PromoCodeOut(), service.list_promo_codes(session(), load_query(PromoCodeQuery())))


@bp.get("/<promo_id>")
@require("read")
def show(promo_id: str) -> tuple[Response, int]:
    return one(PromoCodeOut(), service.get_promo_code(session(), promo_id))
