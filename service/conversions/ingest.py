"""The webhook transaction: record an order once, attribute it, append its lines; record
a refund or cancel once and reverse the refunded share.

Idempotent under redelivery in any order and concurrently: one conversion per
(source, order id) and one event per (source, order id, kind, refund id), both by
insert-or-ignore on a unique key, with every event of one order serialised by a lock.
A refund or cancel that arrives before its order is kept and applied when it arrives.

A new order on PostgreSQL costs two statements and the commit: :func:`gather` takes the
order's lock and reads every fact attribution needs; :func:`write_order` inserts the
delivery, the conversion and its ledger lines and asks whether refunds were waiting.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import exists, or_, select, text
from sqlalchemy.orm import Session

from service import clock, metrics
from service.commissions.ledger import (
    PG_INSERT_LINES,
    insert_order_lines,
    order_sale_rows,
    record_reversal,
)
from service.config import Settings
from service.conversions.attribution import Attribution, click_id_from, utm_from
from service.conversions.candidates import Facts, attribute_order, gather
from service.conversions.events import CancelEvent, IgnoredEvent, OrderEvent, RefundEvent, ShopEvent
from service.conversions.models import Conversion, ConversionEvent, WebhookDelivery
from service.conversions.refunds import OrderBasis, share_of
from service.db import advisory_key, advisory_lock, insert_ignore, new_id, utcnow
from service.errors import InvalidInput, Unavailable
from service.money import MoneyError, parse_amount

log = logging.getLogger(__name__)

LOCK_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class Outcome:
    status: str  # created | duplicate | applied | not_applied | pending_order | ignored
    conversion_id: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Delivery:
    """A verified body as received, and the headers needed to verify it again.

    ``received_at``: when afftrack received it, for a delivery kept in the spool while
    the database was down and applied later (service/conversions/spooled.py); None for
    one applied as it arrives, received now."""

    source: str
    body: bytes
    headers: Mapping[str, str]
    topic: str | None = None
    id: str = field(default_factory=lambda: new_id("whd"))
    received_at: datetime | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "body_sha256": self.sha256,
            "body": self.body,
            "headers": dict(self.headers),
            "topic": (self.topic or "")[:80] or None,
            "received_at": self.received_at or utcnow(),
        }


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
        done[id(first)], delivery_id = _order(session, settings, source, first, delivery)
        locked.add(first.lock_key)
    elif delivery is not None:
        delivery_id = store_delivery(session, delivery)
    for event in real:
        if id(event) in done:
            continue
        if isinstance(event, OrderEvent):  # never in practice: one order per delivery
            done[id(event)] = _order(session, settings, source, event, None)[0]
        else:
            if event.lock_key not in locked:
                lock_order(session, source, event.lock_key)
                locked.add(event.lock_key)
            done[id(event)] = _refund_or_cancel(session, source, event, delivery_id, received_at)
    return [
        Outcome("ignored", detail=e.reason) if isinstance(e, IgnoredEvent) else done[id(e)]
        for e in events
    ]


# Locks -------------------------------------------------------------------------------


def lock_key(source: str, key: str) -> int:
    return advisory_key(f"{source}:{key}")


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def lock_order(session: Session, source: str, key: str) -> None:
    """Serialise every event of one order, so an order and its early refund cannot
    miss each other. PostgreSQL: a transaction-scoped advisory lock, waited for at most
    LOCK_WAIT_SECONDS (then 503: the platform retries); SQLite's BEGIN IMMEDIATE
    already serialises writers."""
    if not advisory_lock(session, f"{source}:{key}", LOCK_WAIT_SECONDS):
        raise Unavailable("this order is busy; retry later", code="retry")


# Deliveries --------------------------------------------------------------------------


def _delivery_id_expr(delivery: Delivery) -> Any:
    return (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.source == delivery.source,
            WebhookDelivery.body_sha256 == delivery.sha256,
        )
        .scalar_subquery()
    )


def store_delivery(session: Session, delivery: Delivery) -> str:
    """Keep the delivery (once per identical body); its id."""
    inserted = insert_ignore(
        session,
        WebhookDelivery.__table__,
        delivery.row(),
        ["source", "body_sha256"],
        returning=WebhookDelivery.id,
    )
    if inserted:
        return str(inserted[0])
    return str(session.scalar(select(_delivery_id_expr(delivery))))


# Orders ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    inserted: bool
    conversion_id: str
    lines: int
    waiting: bool
    delivery_id: str | None


def _order(
    session: Session,
    settings: Settings,
    source: str,
    order: OrderEvent,
    delivery: Delivery | None,
) -> tuple[Outcome, str | None]:
    click_id = click_id_from(order.click_id, order.landing_url, settings.click_param)
    utm = order.utm or utm_from(order.landing_url)
    pg = _postgres(session)
    facts = gather(
        session,
        order.promo_codes,
        click_id,
        utm,
        lock_key(source, order.lock_key) if pg else None,
    )
    if not facts.locked:
        lock_order(session, source, order.lock_key)
        facts = gather(session, order.promo_codes, click_id, utm)
    found = attribute_order(session, facts, order.occurred_at)
    conversion_id = new_id("cnv")
    lines = _sale_rows(session, settings, facts, found, conversion_id, order)
    # Received once the sale rows hold the partnership's tiered lock: orders of one
    # second are received in the order they took their brackets.
    values = _conversion_row(conversion_id, source, order, click_id, found, delivery is not None)
    if delivery is not None and delivery.received_at is not None:
        values["received_at"] = delivery.received_at  # kept while the database was down
    written = write_order(session, values, lines, delivery, order)
    if not written.inserted:
        return Outcome("duplicate", written.conversion_id), written.delivery_id
    if written.lines:
        metrics.COMMISSION_LINES.labels("sale").inc(written.lines)
    if written.waiting:
        conversion = session.get(Conversion, conversion_id, with_for_update=True)
        assert conversion is not None
        waiting = session.scalars(
            select(ConversionEvent)
            .where(
                ConversionEvent.source == source,
                ConversionEvent.order_id.in_(_refs(order)),
                ConversionEvent.applied_at.is_(None),
            )
            .order_by(ConversionEvent.occurred_at, ConversionEvent.id)
        ).all()
        for event in waiting:
            _apply(session, conversion, event)
    return Outcome("created", conversion_id), written.delivery_id


def _refs(order: OrderEvent) -> list[str]:
    return [order.order_id] + ([order.order_ref] if order.order_ref else [])


def _conversion_row(
    conversion_id: str,
    source: str,
    order: OrderEvent,
    click_id: str | None,
    found: Attribution | None,
    delivery_stored: bool,
) -> dict[str, Any]:
    cand = found.candidate if found else None
    by_promo = found is not None and found.method == "promo_code"
    return {
        "id": conversion_id,
        "source": source,
        "order_id": order.order_id,
        "order_ref": order.order_ref,
        "occurred_at": order.occurred_at,
        "received_at": utcnow(),
        "currency": order.currency,
        "amount_minor": order.amount_minor,
        "total_minor": order.total_minor,
        "tax_minor": order.tax_minor,
        "prices_include_tax": order.prices_include_tax,
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
        "promo_code_id": cand.promo_code_id if cand and by_promo else None,
        "attributed_promo_code": cand.promo_code if cand and by_promo else None,
        "attributed_click_id": found.click_id if found else None,
        # The exact body is kept with its delivery (delivery_id); the parsed payload is
        # kept here only for orders that come without one.
        "raw": {} if delivery_stored else order.raw,
    }


def _sale_rows(
    session: Session,
    settings: Settings,
    facts: Facts,
    found: Attribution | None,
    conversion_id: str,
    order: OrderEvent,
) -> list[dict[str, Any]]:
    if found is None:
        return []
    return order_sale_rows(
        session,
        facts.terms[found.candidate.partnership_id],
        conversion_id=conversion_id,
        occurred_at=order.occurred_at,
        basis_minor=order.amount_minor,
        currency=order.currency,
        zone_name=settings.timezone,
    )


def write_order(
    session: Session,
    conversion: dict[str, Any],
    lines: list[dict[str, Any]],
    delivery: Delivery | None,
    order: OrderEvent,
) -> Written:
    """Insert the delivery, the conversion (unless the order is known) and its lines,
    and say whether refunds were waiting for it. One statement on PostgreSQL."""
    source = conversion["source"]
    if _postgres(session):
        return _write_order_pg(session, conversion, lines, delivery, order)
    waiting_q = exists().where(
        ConversionEvent.source == source,
        ConversionEvent.order_id.in_(_refs(order)),
        ConversionEvent.applied_at.is_(None),
    )
    existing_q = (
        select(Conversion.id)
        .where(Conversion.source == source, Conversion.order_id == conversion["order_id"])
        .scalar_subquery()
    )
    delivery_id = store_delivery(session, delivery) if delivery else None
    conversion["delivery_id"] = delivery_id
    inserted = insert_ignore(
        session,
        Conversion.__table__,
        conversion,
        ["source", "order_id"],
        returning=Conversion.id,
    )
    if not inserted:
        return Written(False, str(session.scalar(select(existing_q))), 0, False, delivery_id)
    count = insert_order_lines(session, lines)
    waiting = bool(session.scalar(select(waiting_q)))
    return Written(True, conversion["id"], count, waiting, delivery_id)


def _write_order_pg(
    session: Session,
    conversion: dict[str, Any],
    lines: list[dict[str, Any]],
    delivery: Delivery | None,
    order: OrderEvent,
) -> Written:
    source = conversion["source"]
    row = session.execute(
        _PG_WRITE_ORDER,
        {
            "source": source,
            "order_id": conversion["order_id"],
            "refs": _refs(order),
            "conversion": json.dumps(conversion, default=_json_default),
            "lines": json.dumps(lines, default=_json_default),
            **_delivery_params(delivery),
        },
    ).one()
    if row.new_id is None:
        return Written(False, str(row.existing_id), 0, False, row.delivery_id)
    return Written(True, str(row.new_id), int(row.lines), bool(row.waiting), row.delivery_id)


# One fixed statement on PostgreSQL (see module docstring): the rows travel as JSON and
# become table rows with jsonb_populate_record, so the text never changes, SQLAlchemy
# compiles it once and psycopg prepares it. Every column is given in the JSON (no
# server defaults apply this way).
_PG_WRITE_ORDER = text(
    """
WITH d AS (
  INSERT INTO webhook_deliveries (id, source, body_sha256, body, headers, topic, received_at)
  SELECT CAST(:d_id AS varchar), :source, :d_sha, :d_body, CAST(:d_headers AS jsonb),
         :d_topic, CAST(:d_received_at AS timestamptz)
  WHERE CAST(:d_id AS varchar) IS NOT NULL
  ON CONFLICT (source, body_sha256) DO NOTHING
  RETURNING id
), delivery AS (
  SELECT COALESCE(
    (SELECT id FROM d),
    (SELECT id FROM webhook_deliveries WHERE source = :source AND body_sha256 = :d_sha)
  ) AS id
), c AS (
  INSERT INTO conversions
  SELECT r.* FROM jsonb_populate_record(
    NULL::conversions,
    CAST(:conversion AS jsonb) || jsonb_build_object('delivery_id', (SELECT id FROM delivery))
  ) AS r
  ON CONFLICT (source, order_id) DO NOTHING
  RETURNING id
), l AS (
  {ledger_lines}
)
SELECT
  (SELECT id FROM c) AS new_id,
  (SELECT id FROM conversions WHERE source = :source AND order_id = :order_id) AS existing_id,
  (SELECT count(*) FROM l) AS lines,
  EXISTS (
    SELECT 1 FROM conversion_events
    WHERE source = :source AND order_id = ANY(CAST(:refs AS varchar[])) AND applied_at IS NULL
  ) AS waiting,
  (SELECT id FROM delivery) AS delivery_id
""".replace("{ledger_lines}", PG_INSERT_LINES.format(when="EXISTS (SELECT 1 FROM c)"))
)


def _delivery_params(delivery: Delivery | None) -> dict[str, Any]:
    if delivery is None:
        return dict.fromkeys(("d_id", "d_sha", "d_body", "d_headers", "d_topic", "d_received_at"))
    row = delivery.row()
    return {
        "d_id": row["id"],
        "d_sha": row["body_sha256"],
        "d_body": row["body"],
        "d_headers": json.dumps(row["headers"]),
        "d_topic": row["topic"],
        "d_received_at": row["received_at"],
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


# Refunds and cancellations -----------------------------------------------------------


def _refund_or_cancel(
    session: Session,
    source: str,
    event: RefundEvent | CancelEvent,
    delivery_id: str | None,
    received_at: datetime | None = None,
) -> Outcome:
    if isinstance(event, RefundEvent):
        claim = event.claim
        kind, external_id = "refund", event.refund_id
        basis, amount_text, tax_text = claim.basis, claim.amount, claim.tax
        currency, paid_text = claim.currency, claim.paid
    else:
        kind, external_id = "cancel", "cancel"
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
        ConversionEvent.__table__,
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
    _apply(session, conversion, stored)
    if stored.note and stored.note.startswith("not applied"):
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
            or_(ConversionEvent.note.is_(None), ~ConversionEvent.note.startswith("not applied")),
        )
    ).all()
    total = 0
    for amount in rows:
        try:
            total += parse_amount(amount or "0", conversion.currency)
        except MoneyError:
            continue
    return total


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
        share = share_of(
            event.basis or "attributable",
            event.amount_text or "",
            event.tax_text,
            event.currency,
            OrderBasis(
                currency=conversion.currency,
                attributable_minor=conversion.amount_minor,
                tax_minor=conversion.tax_minor,
                prices_include_tax=conversion.prices_include_tax,
                remaining_minor=remaining,
                gross_refunded_minor=_gross_applied(session, conversion, event.id)
                if event.basis == "gross"
                else 0,
            ),
            event.paid_text,
        )
        amount, event.note = share.amount_minor, share.note
        if share.note and share.note.startswith("not applied"):
            log.warning("refund not applied to its order", extra={"event_id": event.id})
    event.amount_minor = amount
    if amount == 0 and event.kind != "cancel":
        return
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
