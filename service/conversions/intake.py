"""Intake: one verified webhook delivery, received live, from the spool or replayed,
goes the same way — its body parsed by its source, the delivery kept once, its events
applied in order (orders by service/conversions/orders.py, refunds and cancels by
service/conversions/status.py) — in the caller's transaction.

Idempotent under redelivery in any order and concurrently: one conversion per
(source, order id) and one event per (source, order id, kind, refund id), both by
insert-or-ignore on a unique key, with every event of one order serialised by a lock.
A refund or cancel that arrives before its order is kept and applied when it arrives.

``afftrack conversions replay --id <delivery or conversion id>`` verifies a stored
delivery again (against the secret configured now, at the time it was received), runs
it through the same intake (idempotent: nothing already recorded changes), and
attributes an order that was left unattributed if it can be attributed now — e.g. its
click had not reached the database yet, or its promo code was created late. An order
already attributed stays as it is (docs/product.md §4: attributed once).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.config import Settings
from service.conversions.events import IgnoredEvent, OrderEvent, Outcome, ShopEvent
from service.conversions.models import Conversion, WebhookDelivery
from service.conversions.orders import lock_order, reattribute, record_order
from service.conversions.received import Delivery, kept_headers, payload_of, store_delivery
from service.conversions.status import record_event
from service.conversions.webhooks import SOURCES, Source
from service.conversions.webhooks.fields import HeaderLookup
from service.errors import NotFound, Unavailable


def receive_delivery(
    session: Session,
    settings: Settings,
    spec: Source,
    body: bytes,
    headers: HeaderLookup,
    payload: dict[str, Any],
    topic: str,
) -> list[Outcome]:
    """Parse a verified body (its ``topic`` as ``spec.topic`` names it) and apply it.
    The caller commits."""
    delivery = Delivery(spec.name, body, kept_headers(spec, headers), topic)
    return _take(session, settings, spec, delivery, payload, headers)[1]


def receive_stored(session: Session, settings: Settings, delivery: Delivery) -> list[Outcome]:
    """Apply a delivery verified when it was received and kept since (the spool): its
    body read again and parsed with the headers it kept. The caller commits."""
    spec = SOURCES[delivery.source]
    return _take(session, settings, spec, delivery, payload_of(spec, delivery.body))[1]


def _take(
    session: Session,
    settings: Settings,
    spec: Source,
    delivery: Delivery,
    payload: dict[str, Any],
    headers: HeaderLookup | None = None,
) -> tuple[list[ShopEvent], list[Outcome]]:
    """The one way a delivery goes in: parsed by its source (with the headers it came
    with, else those it kept), kept, its events applied. Its events and their outcomes."""
    events = spec.parse(payload, headers or delivery.headers, settings.click_param)
    return events, ingest(session, settings, spec.name, events, delivery)


def ingest(
    session: Session,
    settings: Settings,
    source: str,
    events: Iterable[ShopEvent],
    delivery: Delivery | None = None,
) -> list[Outcome]:
    """Apply the events of one verified delivery, in order; one outcome per event, in
    the same order. The caller commits."""
    events = list(events)
    real = [e for e in events if not isinstance(e, IgnoredEvent)]
    done: dict[int, Outcome] = {}
    locked: set[str] = set()  # each order's lock is taken once per transaction
    delivery_id: str | None = None
    received_at = delivery.received_at if delivery is not None else None
    first = real[0] if real else None
    if isinstance(first, OrderEvent):
        done[id(first)], delivery_id = record_order(session, settings, source, first, delivery)
        locked.add(first.lock_key)
    elif delivery is not None:
        delivery_id = store_delivery(session, delivery)
    for event in real:
        if id(event) in done:
            continue
        if isinstance(event, OrderEvent):  # never in practice: one order per delivery
            done[id(event)] = record_order(session, settings, source, event, None)[0]
        else:
            if event.lock_key not in locked:
                lock_order(session, source, event.lock_key)
                locked.add(event.lock_key)
            done[id(event)] = record_event(session, source, event, delivery_id, received_at)
    return [
        Outcome("ignored", detail=e.reason) if isinstance(e, IgnoredEvent) else done[id(e)]
        for e in events
    ]


def replay(session: Session, settings: Settings, ident: str) -> list[str]:
    """Re-run a stored delivery (``whd_…``) or a conversion's attribution (``cnv_…``).
    Returns what happened, one line per fact. The caller commits."""
    if ident.startswith("cnv_"):
        conversion = session.get(Conversion, ident)
        if conversion is None:
            raise NotFound(f"no conversion {ident!r}")
        if conversion.delivery_id is None:
            lock_order(session, conversion.source, conversion.order_ref or conversion.order_id)
            return [reattribute(session, settings, conversion, None)]
        ident = conversion.delivery_id
    stored = session.get(WebhookDelivery, ident)
    if stored is None:
        raise NotFound(f"no stored delivery {ident!r}")
    spec = SOURCES[stored.source]
    secret = settings.webhook_secret_for(stored.source)
    if not secret:
        raise Unavailable(f"the {stored.source} webhook is not configured", code="source_disabled")
    spec.verify(stored.body, stored.headers, secret, int(stored.received_at.timestamp()))
    delivery = Delivery(stored.source, stored.body, stored.headers, stored.topic, stored.id)
    events, outcomes = _take(session, settings, spec, delivery, payload_of(spec, stored.body))
    report = [
        f"{o.status}: {o.conversion_id or '-'}{f' ({o.detail})' if o.detail else ''}"
        for o in outcomes
    ]
    for event in events:
        if isinstance(event, OrderEvent):
            conversion = session.scalar(
                select(Conversion).where(
                    Conversion.source == stored.source, Conversion.order_id == event.order_id
                )
            )
            if conversion is not None:
                report.append(reattribute(session, settings, conversion, event))
    return report
