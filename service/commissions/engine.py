"""Conversions, refunds and deliverables → ledger lines.

Every line has an idempotency key, and is written with insert-or-ignore, so a retried
webhook or a second worker never writes a line twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import metrics
from service.campaigns.models import Partnership
from service.commissions.models import CommissionLine
from service.commissions.rules import reversal_amount, rules_from_json, sale_lines
from service.conversions.models import Conversion, ConversionEvent
from service.db import insert_ignore, new_id, utcnow
from service.periods import month_bounds


def append_line(session: Session, **values: Any) -> bool:
    """Append one line; ``False`` if its idempotency key was already written."""
    values.setdefault("id", new_id("cml"))
    values.setdefault("recorded_at", utcnow())
    values.setdefault("status", "pending")
    inserted = insert_ignore(
        session,
        CommissionLine.__table__,
        values,
        ["idempotency_key"],
        returning=CommissionLine.id,
    )
    if inserted:
        metrics.COMMISSION_LINES.labels(values["kind"]).inc()
    return bool(inserted)


def _month_to_date(session: Session, conversion: Conversion, zone_name: str) -> int:
    start, _end = month_bounds(conversion.occurred_at, zone_name)
    total = session.scalar(
        select(
            func.coalesce(func.sum(Conversion.amount_minor - Conversion.refunded_minor), 0)
        ).where(
            Conversion.partnership_id == conversion.partnership_id,
            Conversion.currency == conversion.currency,
            Conversion.status != "cancelled",
            Conversion.occurred_at >= start,
            Conversion.occurred_at < conversion.occurred_at,
            Conversion.id != conversion.id,
        )
    )
    return int(total or 0)


def record_sale(session: Session, conversion: Conversion, zone_name: str = "UTC") -> int:
    """The sale lines of an attributed order. Returns how many were written."""
    partnership = session.get(Partnership, conversion.partnership_id)
    assert partnership is not None
    campaign = partnership.campaign
    rules = rules_from_json(partnership.effective_rules, campaign.currency)
    mtd = (
        _month_to_date(session, conversion, zone_name)
        if any(r.type == "tiered_percent" for r in rules)
        else 0
    )
    due_at = conversion.occurred_at + timedelta(days=campaign.hold_days)
    written = 0
    for line in sale_lines(
        rules,
        basis_minor=conversion.amount_minor,
        order_currency=conversion.currency,
        campaign_currency=campaign.currency,
        month_to_date_minor=mtd,
    ):
        written += append_line(
            session,
            idempotency_key=f"sale:{conversion.id}:{line.rule_index}",
            influencer_id=partnership.influencer_id,
            campaign_id=partnership.campaign_id,
            partnership_id=partnership.id,
            conversion_id=conversion.id,
            kind="sale",
            rule={**line.rule.to_json(campaign.currency), "index": line.rule_index},
            basis_minor=conversion.amount_minor,
            amount_minor=line.amount_minor,
            currency=line.currency,
            occurred_at=conversion.occurred_at,
            due_at=due_at,
        )
    return written


def record_reversal(
    session: Session,
    conversion: Conversion,
    event: ConversionEvent,
    refunded_before_minor: int,
    refunded_now_minor: int,
    now: datetime,
) -> int:
    """Negative lines for the refunded share of each sale line of ``conversion``.

    A line already paid is clawed back: the negative line is due now, in the next open
    period. Otherwise it is due with the line it reverses, so they net out together.
    """
    sales = session.scalars(
        select(CommissionLine)
        .where(CommissionLine.conversion_id == conversion.id, CommissionLine.kind == "sale")
        .order_by(CommissionLine.id)
    ).all()
    written = 0
    for sale in sales:
        if sale.status == "rejected":
            continue
        amount = reversal_amount(
            sale.amount_minor, conversion.amount_minor, refunded_before_minor, refunded_now_minor
        )
        if conversion.amount_minor <= 0 and event.kind == "cancel":
            # A fully discounted order has no refundable share, but a flat line on it
            # still goes when the order is cancelled.
            amount = -sale.amount_minor
        if amount == 0:
            continue
        written += append_line(
            session,
            idempotency_key=f"reversal:{event.id}:{sale.id}",
            influencer_id=sale.influencer_id,
            campaign_id=sale.campaign_id,
            partnership_id=sale.partnership_id,
            conversion_id=conversion.id,
            event_id=event.id,
            reverses_line_id=sale.id,
            kind="reversal",
            rule=sale.rule,
            basis_minor=refunded_now_minor,
            amount_minor=amount,
            currency=sale.currency,
            occurred_at=event.occurred_at,
            due_at=now if sale.status == "paid" else sale.due_at,
        )
    return written
