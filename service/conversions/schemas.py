from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from service.conversions.models import Conversion, ConversionStatus
from service.money import format_amount
from service.schemas import EXAMPLE_ID, Id, ListQuery
from service.vocabulary import AMOUNT_PATTERN, WEBHOOK_SOURCES


class AttributionOut(Schema):
    method = fields.String(
        metadata={
            "description": "`promo_code`, `click` (the click id) or `utm` (the landing "
            "page's utm_campaign and utm_content)",
            "example": "promo_code",
        }
    )
    influencer_id = fields.String(metadata={"example": EXAMPLE_ID["inf"]})
    campaign_id = fields.String(metadata={"example": EXAMPLE_ID["cmp"]})
    link_id = fields.String(allow_none=True, metadata={"example": None})
    promo_code = fields.String(allow_none=True, metadata={"example": "ANNA15"})
    click_id = fields.String(allow_none=True, metadata={"example": None})


_MONEY = {"type": "string", "pattern": AMOUNT_PATTERN}


class ConversionOut(Schema):
    id = fields.String(metadata={"example": EXAMPLE_ID["cnv"]})
    source = fields.String(
        metadata={"description": "the webhook it came from", "example": "shopify"}
    )
    order_id = fields.String(metadata={"description": "the shop's order id", "example": "1001"})
    occurred_at = fields.DateTime(
        metadata={"description": "when the order was placed", "example": "2026-10-03T12:00:00Z"}
    )
    received_at = fields.DateTime(metadata={"example": "2026-10-03T12:00:02Z"})
    currency = fields.String(metadata={"example": "EUR"})
    amount = fields.Method(
        "_amount",
        metadata={
            **_MONEY,
            "description": "the attributable amount: after discount, without tax or shipping",
            "example": "108.00",
        },
    )
    refunded = fields.Method(
        "_refunded",
        metadata={
            **_MONEY,
            "description": "how much of `amount` has been refunded",
            "example": "40.00",
        },
    )
    status = fields.String(
        metadata={
            "description": ", ".join(f"`{s.value}`" for s in ConversionStatus),
            "example": ConversionStatus.PARTIALLY_REFUNDED.value,
        }
    )
    promo_codes = fields.List(fields.String(), metadata={"example": ["ANNA15"]})
    attribution = fields.Method(
        "_attribution",
        metadata={
            "type": "object",
            "nullable": True,
            "description": "who the order is credited to, and how: `method` is "
            f"{AttributionOut._declared_fields['method'].metadata['description']}. Null: "
            "not attributed (it earns nothing)",
            "example": {
                name: field.metadata["example"]
                for name, field in AttributionOut._declared_fields.items()
            },
        },
    )

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
