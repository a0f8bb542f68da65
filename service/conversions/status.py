"""Refunds and cancellations: record each once, apply it to its (locked) order when the
order is known, and reverse the refunded share through the ledger.

Where the order stands after an event is decided by one pure function,
:func:`service.conversions.refunds.next_status`; this module stores the event and what
was decided, and asks the ledger for the reversal.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service import clock
from service.commissions.ledger import record_reversal
from service.conversions.events import CancelEvent, Outcome, RefundEvent
from service.conversions.models import (
    Conversion,
    ConversionEvent,
    ConversionStatus,
    EventKind,
    EventOutcome,
)
from service.conversions.refunds import OrderBasis, Share, next_status, share_of
from service.db import insert_ignore, new_id, table_of, utcnow
from service.errors import InvalidInput
from service.money import MoneyError, parse_amount

log = logging.getLogger(__name__)


def record_event(
    session: Session,
    source: str,
    event: RefundEvent | CancelEvent,
    delivery_id: str | None,
    received_at: datetime | None = None,
) -> Outcome:
    """Record a refund or cancel once and apply it if its order is known (the caller
    holds the order's lock)."""
    basis: str | None  # a cancel claims no amount
    amount_text: str | None
    tax_text: str | None
    currency: str | None
    paid_text: str | None
    if isinstance(event, RefundEvent):
        claim = event.claim
        kind, external_id = EventKind.REFUND, event.refund_id
        basis, amount_text, tax_text = claim.basis, claim.amount, claim.tax
        currency, paid_text = claim.currency, claim.paid
    else:
        kind, external_id = EventKind.CANCEL, "cancel"
        basis = amount_text = tax_text = currency = paid_text = None
    conversion = session.scalar(
        select(Conversion)
        .where(
            Conversion.source == source,
            or_(Conversion.order_id == event.order_id, Conversion.order_ref == event.order_id),
        )
        .with_for_update()
    )
    if conversion is not None and amount_text is not None:
        for name, value in (("amount", amount_text), ("tax", tax_text), ("paid", paid_text)):
            try:
                parse_amount(value or "0", currency or conversion.currency)
            except MoneyError as exc:
                raise InvalidInput(
                    f"refund {name} is not valid", fields={name: [str(exc)]}
                ) from None
    event_id = new_id("evt")
    inserted = insert_ignore(
        session,
        table_of(ConversionEvent),
        {
            "id": event_id,
            "source": source,
            "order_id": event.order_id,
            "kind": kind,
            "external_id": external_id,
            "basis": basis,
            "amount_text": amount_text,
            "tax_text": tax_text,
            "paid_text": paid_text,
            "currency": currency,
            "occurred_at": event.occurred_at,
            "received_at": received_at or utcnow(),
            "raw": event.raw,
            "delivery_id": delivery_id,
        },
        ["source", "order_id", "kind", "external_id"],
        returning=ConversionEvent.id,
    )
    if not inserted:
        return Outcome("duplicate", conversion.id if conversion else None)
    if conversion is None:
        return Outcome("pending_order", detail="kept until the order arrives")
    stored = session.get(ConversionEvent, event_id)
    assert stored is not None
    apply_event(session, conversion, stored)
    if stored.outcome == EventOutcome.NOT_APPLIED:
        return Outcome("not_applied", conversion.id, stored.note)
    return Outcome("applied", conversion.id, stored.note)


def _gross_applied(session: Session, conversion: Conversion, current: str) -> int:
    """The gross of the gross claims already applied to ``conversion`` — even those whose
    share rounded to nothing, so the cumulative rounding stays exact."""
    rows = session.scalars(
        select(ConversionEvent.amount_text).where(
            ConversionEvent.conversion_id == conversion.id,
            ConversionEvent.basis == "gross",
            ConversionEvent.applied_at.is_not(None),
            ConversionEvent.id != current,
            ConversionEvent.outcome == EventOutcome.APPLIED,
        )
    ).all()
    total = 0
    for amount in rows:
        try:
            total += parse_amount(amount or "0", conversion.currency)
        except MoneyError:
            continue
    return total


def _share(session: Session, conversion: Conversion, event: ConversionEvent, left: int) -> Share:
    """What a stored refund claims of the ``left`` of its order."""
    return share_of(
        event.basis or "attributable",
        event.amount_text or "",
        event.tax_text,
        event.currency,
        OrderBasis(
            currency=conversion.currency,
            attributable_minor=conversion.amount_minor,
            tax_minor=conversion.tax_minor,
            prices_include_tax=conversion.prices_include_tax,
            remaining_minor=left,
            gross_refunded_minor=_gross_applied(session, conversion, event.id)
            if event.basis == "gross"
            else 0,
        ),
        event.paid_text,
    )


def apply_event(session: Session, conversion: Conversion, event: ConversionEvent) -> None:
    """Apply a stored refund or cancel to its (locked) conversion."""
    now = clock.now_utc()
    event.conversion_id = conversion.id
    event.applied_at = now
    move = next_status(
        ConversionStatus(conversion.status),
        EventKind(event.kind),
        amount_minor=conversion.amount_minor,
        refunded_minor=conversion.refunded_minor,
        share=lambda left: _share(session, conversion, event, left),
    )
    event.amount_minor, event.note, event.outcome = move.reversed_minor, move.note, move.outcome
    if move.outcome is EventOutcome.NOT_APPLIED:
        log.warning("refund not applied to its order", extra={"event_id": event.id})
    if not move.changes_order:
        return
    before = conversion.refunded_minor
    conversion.refunded_minor = before + move.reversed_minor
    conversion.status = move.status
    session.flush()
    if conversion.partnership_id:
        record_reversal(session, conversion, event, before, move.reversed_minor, now)
