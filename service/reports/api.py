from __future__ import annotations

from flask import Blueprint, Response, jsonify

from service.http.auth import require
from service.http.context import session
from service.http.request import load_query
from service.reports.schemas import ReportQuery
from service.reports.service import campaign_report

bp = Blueprint("reports", __name__, url_prefix="/api/v1/reports")


@bp.get("/campaigns/<campaign_id>")
@require("read")
def campaign(campaign_id: str) -> Response:
    q = load_query(ReportQuery())
    return jsonify(campaign_report(session(), campaign_id, q["from_"], q["to"], q["group_by"]))
