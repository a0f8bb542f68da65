from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from service import clock
from service.commissions.ledger import STATUSES, shown_rule, status_of
from service.commissions.models import CommissionLine, LineKind
from service.money import format_amount
from service.schemas import EXAMPLE_ID, Amount, Currency, Id, ListQuery, Pattern
from service.vocabulary import AMOUNT_PATTERN, PERIOD_PATTERN, PERIOD_RULE

KINDS = tuple(kind.value for kind in LineKind)


class CommissionOut(Schema):
    id = fields.String(metadata={"example": EXAMPLE_ID["cml"]})
    influencer_id = fields.String(metadata={"example": EXAMPLE_ID["inf"]})
    campaign_id = fields.String(metadata={"example": EXAMPLE_ID["cmp"]})
    conversion_id = fields.String(
        allow_none=True,
        metadata={
            "description": "the order behind a sale or reversal",
            "example": EXAMPLE_ID["cnv"],
        },
    )
    deliverable_id = fields.String(
        allow_none=True, metadata={"description": "the post behind a per-post fee", "example": None}
    )
    reverses_line_id = fields.String(
        allow_none=True, metadata={"description": "the line a reversal takes back", "example": None}
    )
    kind = fields.String(
        metadata={"description": ", ".join(f"`{k}`" for k in KINDS), "example": "sale"}
    )
    rule = fields.Method(
        "_rule",
        metadata={
            "type": "object",
            "nullable": True,
            "description": "the rule the line was worked out by, and how; null for an adjustment",
            "example": {"type": "percent", "rate": "10"},
        },
    )
    amount = fields.Method(
        "_amount",
        metadata={
            "type": "string",
            "pattern": AMOUNT_PATTERN,
            "description": "a decimal string in `currency`; negative takes money back",
            "example": "10.80",
        },
    )
    currency = fields.String(metadata={"example": "EUR"})
    status = fields.Method(
        "_status",
        metadata={
            "type": "string",
            "enum": list(STATUSES),
            "description": "`pending` until `due_at`, then `approved`; `paid` once its "
            "month is closed; `rejected`",
            "example": "pending",
        },
    )
    occurred_at = fields.DateTime(metadata={"example": "2026-10-03T12:00:00Z"})
    due_at = fields.DateTime(
        metadata={
            "description": "when it can be paid (the order's time plus the campaign's `hold_days`)",
            "example": "2026-11-02T12:00:00Z",
        }
    )
    recorded_at = fields.DateTime(metadata={"example": "2026-10-03T12:00:02Z"})
    export_id = fields.String(
        allow_none=True,
        metadata={"description": "the closed month that paid it", "example": None},
    )
    reason = fields.String(
        allow_none=True,
        metadata={"description": "an adjustment's or rejection's reason", "example": None},
    )
    created_by_key_id = fields.String(
        allow_none=True,
        metadata={"description": "the API key that made an adjustment", "example": None},
    )

    def _amount(self, line: CommissionLine) -> str:
        return format_amount(line.amount_minor, line.currency)

    def _rule(self, line: CommissionLine) -> dict[str, Any] | None:
        return shown_rule(line)

    def _status(self, line: CommissionLine) -> str:
        return status_of(line, clock.now_utc())


class CommissionQuery(ListQuery):
    influencer_id = Id()
    campaign_id = Id()
    conversion_id = Id()
    status = fields.String(validate=validate.OneOf(STATUSES))
    kind = fields.String(
        validate=validate.OneOf(KINDS),
        metadata={"description": "the line's kind: " + ", ".join(f"`{k}`" for k in KINDS)},
    )
    period = fields.String(validate=Pattern(PERIOD_PATTERN, error=PERIOD_RULE))


class AdjustmentIn(Schema):
    influencer_id = Id(required=True, metadata={"example": EXAMPLE_ID["inf"]})
    campaign_id = Id(
        required=True,
        metadata={
            "description": "a campaign the influencer is a partner of",
            "example": EXAMPLE_ID["cmp"],
        },
    )
    amount = Amount(
        required=True,
        metadata={
            "description": 'a decimal string in `currency` such as "25.00"; negative '
            '("-25.00") takes money back. Never capped',
            "example": "25.00",
        },
    )
    currency = Currency(required=True, metadata={"example": "EUR"})
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=1000),
        metadata={"description": "why, for the statement", "example": "bonus for the launch story"},
    )


class RejectIn(Schema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=1000),
        metadata={"description": "why the line is not paid", "example": "order was fraudulent"},
    )


__all__ = ["KINDS", "AdjustmentIn", "CommissionOut", "CommissionQuery", "RejectIn"]
