from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.http.auth import require
from service.http.context import session
from service.http.request import load_query
from service.reports.service import GROUPS, campaign_report

bp = Blueprint("reports", __name__, url_prefix="/api/v1/reports")


class ReportQuery(Schema):
    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)
    group_by = fields.String(load_default="influencer", validate=validate.OneOf(GROUPS))

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        for name, key in (("from", "from_"), ("to", "to")):
            if not 2000 <= data[key].year <= 2100:
                raise ValidationError({name: ["must be between 2000 and 2100"]})
        if data["to"] < data["from_"]:
            raise ValidationError({"to": ["must not be before from"]})
        if (data["to"] - data["from_"]).days > 3660:
            raise ValidationError({"to": ["the range is at most ten years"]})


@bp.get("/campaigns/<campaign_id>")
@require("read")
def campaign(campaign_id: str) -> Response:
    q = load_query(ReportQuery())
    return jsonify(campaign_report(session(), campaign_id, q["from_"], q["to"], q["group_by"]))
