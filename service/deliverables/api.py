from __future__ import annotations

from flask import Blueprint, Response

from service.deliverables import service
from service.deliverables.schemas import DeliverableIn, DeliverableOut, DeliverableQuery
from service.http.auth import require
from service.http.context import session, settings
from service.http.request import load, load_query
from service.http.views import one, page

bp = Blueprint("deliverables", __name__, url_prefix="/api/v1/deliverables")


@bp.post("")
@require("write")
def create() -> tuple[Response, int]:
    deliverable = service.create_deliverable(session(), load(DeliverableIn()))
    session().commit()
    return one(DeliverableOut(), deliverable, 201)


@bp.get("")
@require("read")
def index() -> Response:
    query = load_query(DeliverableQuery())
    return page(DeliverableOut(), service.list_deliverables(session(), query))


@bp.get("/<deliverable_id>")
@require("read")
def show(deliverable_id: str) -> tuple[Response, int]:
    return one(DeliverableOut(), service.get_deliverable(session(), deliverable_id))


@bp.post("/<deliverable_id>/approve")
@require("write")
def approve(deliverable_id: str) -> tuple[Response, int]:
    deliverable = service.approve(session(), deliverable_id, settings().timezone)
    session().commit()
    return one(DeliverableOut(), deliverable)
