from __future__ import annotations

from typing import Any

from service.commissions import ledger
from service.commissions.models import CommissionLine
from service.commissions.schemas import AdjustmentIn, CommissionOut, CommissionQuery, RejectIn
from service.http.auth import current_key, require
from service.http.context import session, settings
from service.http.contract import JSON_BODY, QUERY, Blueprint, page_of
from service.paging import Page

bp = Blueprint("commissions", __name__, url_prefix="/api/v1/commissions")


@bp.route("", methods=["GET"])
@require("read")
@bp.arguments(CommissionQuery, location="query")
@bp.response(200, page_of(CommissionOut))
@bp.errors(QUERY)
def index(query: dict[str, Any]) -> Page[CommissionLine]:
    """List ledger lines"""
    return ledger.list_lines(session(), query, settings().timezone)


@bp.route("/<line_id:line_id>", methods=["GET"])
@require("read")
@bp.response(200, CommissionOut)
@bp.errors(404, _405="`adjustments` is no line: that path takes POST only (a manual adjustment)")
def show(line_id: str) -> CommissionLine:
    """Show a ledger line"""
    return ledger.get_line(session(), line_id)


@bp.route("/adjustments", methods=["POST"])
@require("write")
@bp.arguments(AdjustmentIn)
@bp.response(201, CommissionOut)
@bp.errors(JSON_BODY)
def adjustment(data: dict[str, Any]) -> CommissionLine:
    """Add a manual adjustment"""
    line = ledger.adjust(session(), data, current_key().id)
    session().commit()
    return line


@bp.route("/<line_id:line_id>/reject", methods=["POST"])
@require("write")
@bp.arguments(RejectIn)
@bp.response(200, CommissionOut)
@bp.errors(JSON_BODY, 404, _409="the line is paid, rejected, or reversed already")
def reject(data: dict[str, Any], line_id: str) -> CommissionLine:
    """Reject an unpaid line"""
    line = ledger.reject(session(), line_id, data["reason"], current_key().id)
    session().commit()
    return line
