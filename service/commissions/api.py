from __future__ import annotations

from flask import Blueprint, Response

from service.commissions import ledger
from service.commissions.schemas import AdjustmentIn, CommissionOut, CommissionQuery, RejectIn
from service.http.auth import current_key, require
from service.http.context import session, settings
from service.http.request import load, load_query
from service.http.views import one, page

bp = Blueprint("commissions", __name__, url_prefix="/api/v1/commissions")


@bp.get("")
@require("read")
def index() -> Response:
    query = load_query(CommissionQuery())
    return page(CommissionOut(), ledger.list_lines(session(), query, settings().timezone))


@bp.get("/<line_id>")
@require("read")
def show(line_id: str) -> tuple[Response, int]:
    return one(CommissionOut(), ledger.get_line(session(), line_id))


@bp.post("/adjustments")
@require("write")
def adjustment() -> tuple[Response, int]:
    line = ledger.adjust(session(), load(AdjustmentIn()), current_key().id)
    session().commit()
    return one(CommissionOut(), line, 201)


@bp.post("/<line_id>/reject")
@require("write")
def reject(line_id: str) -> tuple[Response, int]:
    data = load(RejectIn())
    line = ledger.reject(session(), line_id, data["reason"], current_key().id)
    session().commit()
    return one(CommissionOut(), line)
