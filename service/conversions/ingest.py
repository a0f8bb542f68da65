"""The webhook transaction: record an order once, attribute it, append its lines; record
a refund or cancel once and reverse the refunded share.

Idempotent under redelivery in any order and concurrently: one conversion per
(source, order id) and one event per (source, order id, kind, refund id), both by
insert-or-ignore on a unique key; the conversion row is locked while an event is applied.
A refund or cancel that arrives before its order is kept and applied when it arrives.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from service import clock
from service.commissions.engine import record_reversal, record_sale
from service.config import Settings
from service.conversions.attribution import Attribution, attribute, click_id_from, utm_from
from service.conversions.candidates import click_fact, promo_candidates, utm_candidate
from service.conversions.events import CancelEvent, IgnoredEvent, OrderEvent, RefundEvent, ShopEvent
from service.conversions.models import Conversion, ConversionEvent
from service.db import insert_ignore, new_id, utcnow
from service.errors import InvalidInput
from service.money import MoneyError, parse_amount

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    status: str  # created | duplicate | applied | pending_order | ignored
    conversion_id: str | None = None
    detail: str | None = None


def ingest(session: Session, settings: Settings, source: str, event: ShopEvent) -> Outcome:
    """Apply one verified webhook event. The caller commits."""
    if isinstance(event, IgnoredEvent):
        return Outcome("ignored", detail=event.reason)
    lock_order(session, source, event.order_id)
    if isinstance(event, OrderEvent):
        return _order(session, settings, source, event)
    return _refund_or_cancel(session, source, event)


def lock_order(session: Session, source: str, order_id: str) -> None:
    """Serialise every event of one order, so an order and its early refund cannot
    miss each other. PostgreSQL: a transaction-scoped advisory lock; SQLite's
    BEGIN IMMEDIATE already serialises writers."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"{source}:{order_id}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    session.execute(text("SET LOCAL lock_timeout = '5s'"))
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _attribution(session: Session, order: OrderEvent, click_id: str | None) -> Attribution | None:
    utm = utm_from(order.landing_url)
    return attribute(
        order.occurred_at,
        promo_candidates(session, order.promo_codes),
        click_fact(session, click_id) if click_id else None,
        utm_candidate(session, *utm) if utm else None,
    )


def _order(session: Session, settings: Settings, source: str, order: OrderEvent) -> Outcome:
    click_id = click_id_from(order.click_id, order.landing_url, settings.click_param)
    found = _attribution(session, order, click_id)
    cand = found.candidate if found else None
    conversion_id = new_id("cnv")
    inserted = insert_ignore(
        session,
        Conversion.__table__,
        {
            "id": conversion_id,
            "source": source,
            "order_id": order.order_id,
            "occurred_at": order.occurred_at,
            "received_at": utcnow(),
            "currency": order.currency,
            "amount_minor": order.amount_minor,
            "total_minor": order.total_minor,
            "refunded_minor": 0,
            "status": "open",
            "promo_codes": order.promo_codes,
            "click_id": click_id,
            "customer_id": order.customer_id,
            "landing_url": order.landing_url,
            "method": found.method if found else None,
            "partnership_id": cand.partnership_id if cand else None,
            "campaign_id": cand.campaign_id if cand else None,
            "influencer_id": cand.influencer_id if cand else None,
            "link_id": cand.link_id if cand else None,
            "promo_code_id": cand.promo_code_id if cand and found.method == "promo_code" else None,
            "attributed_promo_code": cand.promo_code
            if found and found.method == "promo_code"
            else None,
            "attributed_click_id": found.click_id if found else None,
            "raw": order.raw,
        },
        ["source", "order_id"],
        returning=Conversion.id,
    )
    if not inserted:
        existing = session.scalar(
            select(Conversion.id).where(
                Conversion.source == source, Conversion.order_id == order.order_id
            )
        )
        return Outcome("duplicate", existing)
    conversion = session.get(Conversion, conversion_id)
    assert conversion is not None
    if conversion.partnership_id:
        record_sale(session, conversion, settings.timezone)
    # Refunds or a cancel that arrived before the order.
    waiting = session.scalars(
        select(ConversionEvent)
        .where(
            ConversionEvent.source == source,
            ConversionEvent.order_id == order.order_id,
            ConversionEvent.applied_at.is_(None),
        )
        .order_by(ConversionEvent.occurred_at, ConversionEvent.id)
    ).all()
    for ev in waiting:
        _apply(session, conversion, ev)
    return Outcome("created", conversion.id)


def _refund_or_cancel(session: Session, source: str, event: RefundEvent | CancelEvent) -> Outcome:
    if isinstance(event, RefundEvent):
        kind, external_id, amount_text = "refund", event.refund_id, event.amount_text
    else:
        kind, external_id, amount_text = "cancel", "cancel", None
    conversion = session.scalar(
        select(Conversion)
        .where(Conversion.source == source, Conversion.order_id == event.order_id)
        .with_for_update()
    )
    if conversion is not None and amount_text is not None:
        try:
            parse_amount(amount_text, conversion.currency)
        except MoneyError as exc:
            raise InvalidInput(
                "refund amount is not valid", fields={"amount": [str(exc)]}
            ) from None
    event_id = new_id("evt")
    inserted = insert_ignore(
        session,
        ConversionEvent.__table__,
        {
            "id": event_id,
            "source": source,
            "order_id": event.order_id,
            "kind": kind,
            "external_id": external_id,
            "amount_text": amount_text,
            "occurred_at": event.occurred_at,
            "received_at": utcnow(),
            "raw": event.raw,
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
    _apply(session, conversion, stored)
    return Outcome("applied", conversion.id)


def _apply(session: Session, conversion: Conversion, event: ConversionEvent) -> None:
    """Apply a stored refund or cancel to its (locked) conversion."""
    now = clock.now_utc()
    event.conversion_id = conversion.id
    event.applied_at = now
    remaining = conversion.amount_minor - conversion.refunded_minor
    if conversion.status == "cancelled" or (remaining <= 0 and event.kind != "cancel"):
        event.amount_minor = 0
        event.note = "nothing left to reverse"
        return
    if event.kind == "cancel":
        amount = remaining
    else:
        try:
            requested = parse_amount(event.amount_text or "", conversion.currency)
        except MoneyError as exc:
            event.amount_minor = 0
            event.note = f"not applied: {exc}"
            log.warning("refund amount not valid for its order", extra={"event_id": event.id})
            return
        amount = min(requested, remaining)
        if amount < requested:
            event.note = f"capped at what was left of the order ({amount} minor units)"
    event.amount_minor = amount
    before = conversion.refunded_minor
    conversion.refunded_minor = before + amount
    if event.kind == "cancel":
        conversion.status = "cancelled"
    elif conversion.refunded_minor >= conversion.amount_minor:
        conversion.status = "refunded"
    else:
        conversion.status = "partially_refunded"
    session.flush()
    if conversion.partnership_id:
        record_reversal(session, conversion, event, before, amount, now)
