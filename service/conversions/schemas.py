from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from service.conversions.models import Conversion
from service.money import format_amount
from service.schemas import Id, ListQuery
from service.vocabulary import WEBHOOK_SOURCES


class AttributionOut(Schema):
    method = fields.String()
    influencer_id = fields.String()
    campaign_id = fields.String()
    link_id = fields.String(allow_none=True)
    promo_code = fields.String(allow_none=True)
    click_id = fields.String(allow_none=True)


class ConversionOut(Schema):
    id = fields.String()
    source = fields.String()
    order_id = fields.String()
    occurred_at = fields.DateTime()
    received_at = fields.DateTime()
    currency = fields.String()
    amount = fields.Method("_amount")
    refunded = fields.Method("_refunded")
    status = fields.String()
    promo_codes = fields.List(fields.String())
    attribution = fields.Method("_attribution")

    def _amount(self, c: Conversion) -> str:
        return format_amount(c.amount_minor, c.currency)

    def _refunded(self, c: Conversion) -> str:
        return format_amount(c.refunded_minor, c.currency)

    def _attribution(self, c: Conversion) -> dict[str, Any] | None:
        if c.method is None:
            return None
        return {
            "method": c.method,
            "influencer_id": c.influencer_id,
            "campaign_id": c.campaign_id,
            "link_id": c.link_id,
            "promo_code": c.attributed_promo_code,
            "click_id": c.attributed_click_id,
        }


class ConversionQuery(ListQuery):
    source = fields.String(validate=validate.OneOf(WEBHOOK_SOURCES))
    order_id = fields.String(validate=validate.Length(max=128))
    influencer_id = Id()
    campaign_id = Id()
