from __future__ import annotations

from typing import Any

from service.deliverables import service
from service.deliverables.models import Deliverable
from service.deliverables.schemas import (
    DeliverableChange,
    DeliverableIn,
    DeliverableOut,
    DeliverableQuery,
    DeliverableRejectIn,
)
from service.http.auth import require
from service.http.context import session, settings
from service.http.contract import JSON_BODY, QUERY, Blueprint, page_of
from service.paging import Page

bp = Blueprint("deliverables", __name__, url_prefix="/api/v1/deliverables")


@bp.route("", methods=["POST"])
@require("write")
@bp.arguments(DeliverableIn)
@bp.response(201, DeliverableOut)
@bp.errors(JSON_BODY)
def create(data: dict[str, Any]) -> Deliverable:
    """Record a post"""
    deliverable = service.create_deliverable(session(), data)
    session().commit()
    return deliverable


@bp.route("", methods=["GET"])
@require("read")
@bp.arguments(DeliverableQuery, location="query")
@bp.response(200, page_of(DeliverableOut))
@bp.errors(QUERY)
def index(query: dict[str, Any]) -> Page[Deliverable]:
    """List posts"""
    return service.list_deliverables(session(), query)


@bp.route("/<deliverable_id>", methods=["GET"])
@require("read")
@bp.response(200, DeliverableOut)
@bp.errors(404)
def show(deliverable_id: str) -> Deliverable:
    """Show a post"""
    return service.get_deliverable(session(), deliverable_id)


@bp.route("/<deliverable_id>", methods=["PATCH"])
@require("write")
@bp.arguments(DeliverableChange)
@bp.response(200, DeliverableOut)
@bp.errors(JSON_BODY, 404)
def change(data: dict[str, Any], deliverable_id: str) -> Deliverable:
    """Change a post's figures or tracked link (reports read them as they are now)"""
    deliverable = service.change_deliverable(session(), deliverable_id, data)
    session().commit()
    return deliverable


@bp.route("/<deliverable_id>/reject", methods=["POST"])
@require("write")
@bp.arguments(DeliverableRejectIn)
@bp.response(200, DeliverableOut)
@bp.errors(
    JSON_BODY,
    404,
    _409="the post is approved already: reject its fee line instead "
    "(`POST /api/v1/commissions/{line_id}/reject`)",
)
def reject(data: dict[str, Any], deliverable_id: str) -> Deliverable:
    """Reject a submitted post (it earns no fee; rejecting again changes nothing)"""
    deliverable = service.reject(session(), deliverable_id, data["reason"])
    session().commit()
    return deliverable


@bp.route("/<deliverable_id>/approve", methods=["POST"])
@require("write")
@bp.response(200, DeliverableOut)
@bp.errors(404, _409="the post was rejected")
def approve(deliverable_id: str) -> Deliverable:
    """Approve a post (a per-post fee is earned once; approving again changes nothing)"""
    deliverable = service.approve(session(), deliverable_id, settings().timezone)
    session().commit()
    return deliverable
