from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.schemas import EXAMPLE_ID, Change, Id, ListQuery, Pattern, in_years
from service.vocabulary import (
    CODE_MAX_LENGTH,
    PROMO_CODE_PATTERN,
    PROMO_CODE_RULE,
    YEAR_RULE,
    year_in_range,
)


def _when(description: str, example: str) -> dict[str, str]:
    rule = in_years(time=True)["description"]
    return {"description": f"{description}; {rule}", "example": example}


class PromoCodeIn(Schema):
    campaign_id = Id(required=True, metadata={"example": EXAMPLE_ID["cmp"]})
    influencer_id = Id(
        required=True,
        metadata={"description": "a partner of the campaign", "example": EXAMPLE_ID["inf"]},
    )
    code = fields.String(
        load_default=None,
        allow_none=True,
        validate=Pattern(PROMO_CODE_PATTERN, error=PROMO_CODE_RULE),
        metadata={
            "description": "the code customers type at checkout, 3 to 32 letters, digits, `-` "
            "and `_` (case does not matter); the same code must exist in the shop. Null or "
            "absent: the handle's letters and two digits",
            "example": "ANNA15",
        },
    )
    starts_at = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata=_when("from when orders with it count; null: at once", "2026-10-01T00:00:00Z"),
    )
    ends_at = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata=_when("until when, after `starts_at`; null: no end", "2027-01-01T00:00:00Z"),
    )
    max_uses = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(min=1, max=10**9),
        metadata={
            "description": "how many orders it may attribute; null: no limit",
            "example": 500,
        },
    )

    @validates_schema
    def _window(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("starts_at"), data.get("ends_at")
        for name, value in (("starts_at", start), ("ends_at", end)):
            if value is not None and not year_in_range(value.year):
                raise ValidationError({name: [YEAR_RULE]})
        if start and end and end <= start:
            raise ValidationError({"ends_at": ["must be after starts_at"]})


# A code's states: `active` attributes orders; `retired` no longer does, and its text may
# be issued again (unique among active codes only).
STATUSES = ("active", "retired")


class PromoCodeChange(Change, PromoCodeIn):
    """A promo code's window, limit and status; its text, campaign and influencer name it
    for good (orders carry them). A field sent as null clears it (no start, no end, no
    limit)."""

    class Meta:
        exclude = ("campaign_id", "influencer_id", "code")

    status = fields.String(
        validate=validate.OneOf(STATUSES),
        metadata={
            "description": "`retired`: the code attributes no more orders from now on (and "
            "its text may be issued again); `active`: it does again, if no other active "
            "code has the same text",
            "example": "retired",
        },
    )


class PromoCodeOut(Schema):
    id = fields.String(metadata={"example": EXAMPLE_ID["pc"]})
    code = fields.String(metadata={"example": "ANNA15"})
    campaign_id = fields.String(metadata={"example": EXAMPLE_ID["cmp"]})
    influencer_id = fields.String(metadata={"example": EXAMPLE_ID["inf"]})
    partnership_id = fields.String(metadata={"example": EXAMPLE_ID["prt"]})
    status = fields.String(metadata={"description": "`active` or `retired`", "example": "active"})
    starts_at = fields.DateTime(allow_none=True, metadata={"example": "2026-10-01T00:00:00Z"})
    ends_at = fields.DateTime(allow_none=True, metadata={"example": "2027-01-01T00:00:00Z"})
    max_uses = fields.Integer(allow_none=True, metadata={"example": 500})
    created_at = fields.DateTime(metadata={"example": "2026-09-28T10:25:00Z"})


class PromoCodeQuery(ListQuery):
    campaign_id = Id()
    influencer_id = Id()
    code = fields.String(validate=validate.Length(max=CODE_MAX_LENGTH))
