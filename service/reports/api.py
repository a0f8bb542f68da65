from __future__ import annotations

from typing import Any

import orjson
from flask import Response

from service.http.auth import require
from service.http.context import session
from service.http.contract import QUERY, Blueprint
from service.reports.schemas import ReportQuery
from service.reports.service import campaign_report

bp = Blueprint("reports", __name__, url_prefix="/api/v1/reports")


@bp.route("/campaigns/<campaign_id>", methods=["GET"])
@require("read")
@bp.arguments(ReportQuery, location="query")
@bp.response(
    200,
    content_type="application/json",
    description="the campaign's report: `rows` and `totals`; which rows there are and "
    "what each figure means (`conversions_by_method`, `conversion_rate`, …) is in "
    "docs/product.md, Report figures",
)
@bp.errors(QUERY, 404)
def campaign(query: dict[str, Any], campaign_id: str) -> Response:
    """Campaign report"""
    report = campaign_report(session(), campaign_id, query["from_"], query["to"], query["group_by"])
    # A report per influencer can be a megabyte; orjson writes it faster than the
    # standard library (docs/BENCHMARKS.md#what-the-reports-took; the body holds only
    # strings, integers and null).
    return Response(orjson.dumps(report) + b"\n", mimetype="application/json")
