"""The report's query: a date range (UTC days, both ends included) and a grouping."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.schemas import in_years
from service.vocabulary import YEAR_RULE, year_in_range

GROUPS = ("influencer", "link", "platform", "day")
MAX_RANGE_DAYS = 3661  # ten years, both ends included


class ReportQuery(Schema):
    max_days = MAX_RANGE_DAYS

    from_ = fields.Date(required=True, data_key="from", metadata=in_years())
    to = fields.Date(required=True, metadata=in_years())
    group_by = fields.String(load_default="influencer", validate=validate.OneOf(GROUPS))

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        for name, key in (("from", "from_"), ("to", "to")):
            if data.get(key) is not None and not year_in_range(data[key].year):
                raise ValidationError({name: [YEAR_RULE]})
        if data.get("from_") is None or data.get("to") is None:
            return
        if data["to"] < data["from_"]:
            raise ValidationError({"to": ["must not be before from"]})
        if (data["to"] - data["from_"]).days >= self.max_days:
            raise ValidationError({"to": [f"the range is at most {self.max_days} days"]})
