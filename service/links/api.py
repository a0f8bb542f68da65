from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response

from service.http.auth import require
from service.http.context import session, settings
from service.http.contract import JSON_BODY, QUERY, Blueprint, page_of
from service.links import service
from service.links.qr import qr_png, qr_svg
from service.links.schemas import LinkIn, LinkOut, LinkPatch, LinkQuery, QrQuery
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


def _qr_doc(media_type: str, body: dict[str, str]) -> dict[str, Any]:
    return {
        "200": {
            "description": (
                "the link's QR code, holding its short URL marked `?qr=1`: a scan redirects "
                "as a click does and counts as a QR scan"
            ),
            "headers": {"Content-Disposition": {"schema": {"type": "string"}}},
            "content": {media_type: {"schema": body}},
        }
    }


def _qr_answer(
    link_id: str, scale: int, draw: Callable[..., bytes], suffix: str, media_type: str
) -> Response:
    link = service.get_link(session(), link_id)
    body = draw(settings(), link.code, scale)
    return Response(
        body,
        mimetype=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{link.code}.{suffix}"',
            "Cache-Control": "no-store",
        },
    )


@bp.route("/<link_id>/qr.svg", methods=["GET"])
@require("read")
@bp.arguments(QrQuery, location="query")
@bp.response(200)
@bp.doc(responses=_qr_doc("image/svg+xml", {"type": "string"}))
@bp.errors(QUERY, 404)
def qr_code_svg(query: dict[str, Any], link_id: str) -> Response:
    """The link's QR code as SVG"""
    return _qr_answer(link_id, query["scale"], qr_svg, "svg", "image/svg+xml")


@bp.route("/<link_id>/qr.png", methods=["GET"])
@require("read")
@bp.arguments(QrQuery, location="query")
@bp.response(200)
@bp.doc(responses=_qr_doc("image/png", {"type": "string", "format": "binary"}))
@bp.errors(QUERY, 404)
def qr_code_png(query: dict[str, Any], link_id: str) -> Response:
    """The link's QR code as PNG"""
    return _qr_answer(link_id, query["scale"], qr_png, "png", "image/png")
