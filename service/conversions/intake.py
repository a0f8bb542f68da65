"""Intake: one webhook delivery, received live, from the spool or replayed, goes the
same way — verified, its body parsed by its source, the delivery kept once, its events
applied in order (orders by service/conversions/orders.py, refunds and cancels by
service/conversions/status.py) — in the caller's transaction.

Verification lives here, once, for a live delivery (service/conversions/api.py, which
only speaks HTTP) and a replayed one: ``verifier`` (503 ``source_disabled`` while the
source has no secret), then ``Verifier.verified`` — the signature over the raw body
checked against that secret at the time the delivery was received (401), the body read
as a JSON object (400 ``malformed_json``) and its topic named. WooCommerce's unsigned
creation ping (``Verifier.is_ping``) is answered, never verified nor kept. A spooled
delivery was verified when it was received and is not verified again; its body is read
by the same rules (``receive_stored``).

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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.config import Settings
from service.conversions.events import IgnoredEvent, OrderEvent, Outcome, ShopEvent
from service.conversions.models import Conversion, WebhookDelivery
from service.conversions.orders import lock_order, reattribute, record_order
from service.conversions.received import Delivery, kept_headers, store_delivery
from service.conversions.status import record_event
from service.conversions.webhooks import SOURCES, Source, is_woocommerce_ping
from service.conversions.webhooks.fields import HeaderLookup
from service.errors import AfftrackError, NotFound, Unavailable
from service.json_body import parse_json_object


@dataclass(frozen=True)
class Verified:
    """A delivery whose signature checks out: its body as the JSON object its source
    parses, and the topic it names."""

    payload: dict[str, Any]
    topic: str


@dataclass(frozen=True)
class Verifier:
    """A source's deliveries checked with the secret configured for it now
    (``verifier``), the same for a live delivery and a replayed one."""

    spec: Source
    secret: str = field(repr=False)

    def is_ping(self, body: bytes, headers: HeaderLookup) -> bool:
        """Whether this is the platform's unsigned hello (WooCommerce's when a webhook is
        created), which carries no event and is not verified."""
        return self.spec.name == "woocommerce" and is_woocommerce_ping(body, headers)

    def verified(self, body: bytes, headers: HeaderLookup, received_at: datetime) -> Verified:
        """The delivery's body and topic once its signature over the raw ``body`` checks
        out at ``received_at`` (401 if it is missing, wrong or too old then); 400
        ``malformed_json`` for a body that is not a JSON object."""
        self.spec.verify(body, headers, self.secret, int(received_at.timestamp()))
        payload = _payload(self.spec, body)
        return Verified(payload, self.spec.topic(payload, headers))


def verifier(settings: Settings, spec: Source) -> Verifier:
    """How ``spec``'s deliveries are verified now; 503 ``source_disabled`` while no
    secret is configured for it — asked before the delivery is read, so a disabled
    source answers that whatever it is sent."""
    secret = settings.webhook_secret_for(spec.name)
    if not secret:
        raise Unavailable(f"the {spec.name} webhook is not configured", code="source_disabled")
    return Verifier(spec, secret)


def _payload(spec: Source, body: bytes) -> dict[str, Any]:
    """A body read as its source's parser wants it: a JSON object, by the rules for any
    raw JSON body (service/json_body.py), its numbers as their exact text for a source
    that writes money as JSON numbers."""
    if not body.lstrip().startswith(b"{"):
        # A platform's event is always an object; anything else is a broken delivery.
        raise AfftrackError("the body must be a JSON object", code="malformed_json")
    return parse_json_object(body, numbers_as_text=spec.numbers_as_text)


def receive_delivery(
    session: Session,
    settings: Settings,
    spec: Source,
    body: bytes,
    headers: HeaderLookup,
    verified: Verified,
) -> list[Outcome]:
    """Parse a delivery received now (``verified``: what ``Verifier.verified`` made of
    ``body``) and apply it. The caller commits."""
    delivery = Delivery(spec.name, body, kept_headers(spec, headers), verified.topic)
    return _take(session, settings, spec, delivery, verified.payload, headers)[1]


def receive_stored(session: Session, settings: Settings, delivery: Delivery) -> list[Outcome]:
    """Apply a delivery verified when it was received and kept since (the spool): its
    body read again and parsed with the headers it kept. The caller commits."""
    spec = SOURCES[delivery.source]
    return _take(session, settings, spec, delivery, _payload(spec, delivery.body))[1]


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
    verified = verifier(settings, spec).verified(stored.body, stored.headers, stored.received_at)
    delivery = Delivery(stored.source, stored.body, stored.headers, stored.topic, stored.id)
    events, outcomes = _take(session, settings, spec, delivery, verified.payload)
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
