from __future__ import annotations

import orjson
from flask import Blueprint, Response

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
    report = campaign_report(session(), campaign_id, q["from_"], q["to"], q["group_by"])
    # A report per influencer can be a megabyte; orjson writes it faster than the
    # standard library (docs/BENCHMARKS.md#what-the-reports-took; the body holds only
    # strings, integers and null).
    return Response(orjson.dumps(report) + b"\n", mimetype="application/json")
