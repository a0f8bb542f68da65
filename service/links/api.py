from __future__ import annotations

from flask import Blueprint, Response, jsonify

from service.http.auth import require
from service.http.context import session, settings
from service.http.request import load, load_query
from service.links import service
from service.links.schemas import LinkIn, LinkOut, LinkPatch, LinkQuery

bp = Blueprint("links", __name__, url_prefix="/api/v1/links")


def _out(link: object, status: int = 200) -> tuple[Response, int]:
    return jsonify(LinkOut().dump(service.present(link, settings()))), status  # type: ignore[arg-type]


@bp.post("")
@require("write")
def create() -> tuple[Response, int]:
    link = service.create_link(session(), settings(), load(LinkIn()))
    session().commit()
    return _out(link, 201)


@bp.get("")
@require("read")
def index() -> Response:
    result = service.list_links(session(), load_query(LinkQuery()))
    items = [service.present(link, settings()) for link in result.items]
    return jsonify({"items": LinkOut().dump(items, many=True), "next_cursor": result.next_cursor})


@bp.get("/<link_id>")
@require("read")
def show(link_id: str) -> tuple[Response, int]:
    return _out(service.get_link(session(), link_id))


@bp.patch("/<link_id>")
@require("write")
def patch(link_id: str) -> tuple[Response, int]:
    link = service.update_link(session(), link_id, load(LinkPatch()))
    session().commit()
    return _out(link)
