from __future__ import annotations

from typing import Any

from service.http.auth import require
from service.http.context import session, settings
from service.http.contract import JSON_BODY, QUERY, Blueprint, page_of
from service.links import service
from service.links.schemas import LinkIn, LinkOut, LinkPatch, LinkQuery
from service.paging import Page

bp = Blueprint("links", __name__, url_prefix="/api/v1/links")


@bp.route("", methods=["POST"])
@require("write")
@bp.arguments(LinkIn)
@bp.response(201, LinkOut)
@bp.errors(JSON_BODY, _409="the slug is taken")
def create(data: dict[str, Any]) -> dict[str, Any]:
    """Create a tracked link"""
    link = service.create_link(session(), settings(), data)
    session().commit()
    return service.present(link, settings())


@bp.route("", methods=["GET"])
@require("read")
@bp.arguments(LinkQuery, location="query")
@bp.response(200, page_of(LinkOut))
@bp.errors(QUERY)
def index(query: dict[str, Any]) -> Page[dict[str, Any]]:
    """List links"""
    result = service.list_links(session(), query)
    return Page([service.present(link, settings()) for link in result.items], result.next_cursor)


@bp.route("/<link_id>", methods=["GET"])
@require("read")
@bp.response(200, LinkOut)
@bp.errors(404)
def show(link_id: str) -> dict[str, Any]:
    """Show a link"""
    return service.present(service.get_link(session(), link_id), settings())


@bp.route("/<link_id>", methods=["PATCH"])
@require("write")
@bp.arguments(LinkPatch)
@bp.response(200, LinkOut)
@bp.errors(JSON_BODY, 404)
def patch(data: dict[str, Any], link_id: str) -> dict[str, Any]:
    """Pause, resume or re-point a link"""
    link = service.update_link(session(), link_id, data)
    session().commit()
    return service.present(link, settings())
