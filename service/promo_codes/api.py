from __future__ import annotations

from typing import Any

from service.http.auth import require
from service.http.context import session
from service.http.contract import JSON_BODY, QUERY, Blueprint, page_of
from service.paging import Page
from service.promo_codes import service
from service.promo_codes.models import PromoCode
from service.promo_codes.schemas import (
    PromoCodeChange,
    PromoCodeIn,
    PromoCodeOut,
    PromoCodeQuery,
)

bp = Blueprint("promo_codes", __name__, url_prefix="/api/v1/promo-codes")


@bp.route("", methods=["POST"])
@require("write")
@bp.arguments(PromoCodeIn)
@bp.response(201, PromoCodeOut)
@bp.errors(JSON_BODY, _409="the code is already active, or no free code was found")
def create(data: dict[str, Any]) -> PromoCode:
    """Create a promo code"""
    promo = service.create_promo_code(session(), data)
    session().commit()
    return promo


@bp.route("", methods=["GET"])
@require("read")
@bp.arguments(PromoCodeQuery, location="query")
@bp.response(200, page_of(PromoCodeOut))
@bp.errors(QUERY)
def index(query: dict[str, Any]) -> Page[PromoCode]:
    """List promo codes"""
    return service.list_promo_codes(session(), query)


@bp.route("/<promo_id>", methods=["GET"])
@require("read")
@bp.response(200, PromoCodeOut)
@bp.errors(404)
def show(promo_id: str) -> PromoCode:
    """Show a promo code"""
    return service.get_promo_code(session(), promo_id)


@bp.route("/<promo_id>", methods=["PATCH"])
@require("write")
@bp.arguments(PromoCodeChange)
@bp.response(200, PromoCodeOut)
@bp.errors(JSON_BODY, 404, _409="another active code has the same text")
def change(data: dict[str, Any], promo_id: str) -> PromoCode:
    """Retire or reactivate a promo code, or change its window or limit"""
    promo = service.change_promo_code(session(), service.get_promo_code(session(), promo_id), data)
    session().commit()
    return promo
