from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from service import clock
from service.commissions.ledger import STATUSES, shown_rule, status_of
from service.commissions.models import CommissionLine, LineKind
from service.money import format_amount
from service.schemas import Amount, Currency, Id, ListQuery, Pattern
from service.vocabulary import PERIOD_PATTERN, PERIOD_RULE

KINDS = tuple(kind.value for kind in LineKind)


class CommissionOut(Schema):
    id = fields.String()
    influencer_id = fields.String()
    campaign_id = fields.String()
    conversion_id = fields.String(allow_none=True)
    deliverable_id = fields.String(allow_none=True)
    reverses_line_id = fields.String(allow_none=True)
    kind = fields.String()
    rule = fields.Method("_rule", metadata={"type": "object", "nullable": True})
    amount = fields.Method("_amount")
    currency = fields.String()
    status = fields.Method("_status")
    occurred_at = fields.DateTime()
    due_at = fields.DateTime()
    recorded_at = fields.DateTime()
    export_id = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    created_by_key_id = fields.String(allow_none=True)

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
    period = fields.String(validate=Pattern(PERIOD_PATTERN, error=PERIOD_RULE))


class AdjustmentIn(Schema):
    influencer_id = Id(required=True)
    campaign_id = Id(required=True)
    amount = Amount(required=True)
    currency = Currency(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class RejectIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


__all__ = ["KINDS", "AdjustmentIn", "CommissionOut", "CommissionQuery", "RejectIn"]
