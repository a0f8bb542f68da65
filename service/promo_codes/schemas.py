from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.schemas import Id, ListQuery, Pattern, in_years
from service.vocabulary import (
    CODE_MAX_LENGTH,
    PROMO_CODE_PATTERN,
    PROMO_CODE_RULE,
    YEAR_RULE,
    year_in_range,
)


class PromoCodeIn(Schema):
    campaign_id = Id(required=True)
    influencer_id = Id(required=True)
    code = fields.String(
        load_default=None,
        allow_none=True,
        validate=Pattern(PROMO_CODE_PATTERN, error=PROMO_CODE_RULE),
    )
    starts_at = fields.AwareDateTime(
        load_default=None, allow_none=True, metadata=in_years(time=True)
    )
    ends_at = fields.AwareDateTime(load_default=None, allow_none=True, metadata=in_years(time=True))
    max_uses = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1, max=10**9)
    )

    @validates_schema
    def _window(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("starts_at"), data.get("ends_at")
        for name, value in (("starts_at", start), ("ends_at", end)):
            if value is not None and not year_in_range(value.year):
                raise ValidationError({name: [YEAR_RULE]})
        if start and end and end <= start:
            raise ValidationError({"ends_at": ["must be after starts_at"]})


class PromoCodeOut(Schema):
    id = fields.String()
    code = fields.String()
    campaign_id = fields.String()
    influencer_id = fields.String()
    partnership_id = fields.String()
    status = fields.String()
    starts_at = fields.DateTime(allow_none=True)
    ends_at = fields.DateTime(allow_none=True)
    max_uses = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class PromoCodeQuery(ListQuery):
    campaign_id = Id()
    influencer_id = Id()
    code = fields.String(validate=validate.Length(max=CODE_MAX_LENGTH))
