"""Orders: gather what attribution needs, attribute, write the order once with its
ledger lines; and attribute later an order that came before its click.

A new order on PostgreSQL costs two statements and the commit: :func:`gather` takes the
order's lock and reads every fact attribution needs; :func:`write_order` inserts the
delivery, the conversion and its ledger lines and asks whether refunds were waiting
(then applied, service/conversions/status.py). Where the two flavours differ (the lock
taken with the read, the write in one statement) the variant is picked by
:data:`ORDERS` (the dialect seam, service/db.py).

Late attribution: an order whose click had not reached the database yet (or whose
promo code was created late) is attributed when the click arrives, by the worker's
batch, its minutely sweep or ``afftrack conversions replay``; an order already
attributed stays as it is (docs/product.md §4: attributed once).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, or_, select, text
from sqlalchemy.orm import Session

from service import clock, metrics
from service.clicks.models import Click
from service.commissions.ledger import (
    PG_INSERT_LINES,
    insert_order_lines,
    order_sale_rows,
    record_reversal,
    record_sale,
)
from service.config import Settings
from service.conversions.attribution import Attribution, click_id_from, utm_from
from service.conversions.candidates import Facts, attribute_order, gather
from service.conversions.events import OrderEvent, Outcome
from service.conversions.models import Conversion, ConversionEvent, ConversionStatus, EventKind
from service.conversions.received import Delivery, store_delivery
from service.conversions.status import apply_event
from service.db import (
    Database,
    Variants,
    advisory_key,
    advisory_lock,
    insert_ignore,
    new_id,
    table_of,
    utcnow,
)
from service.errors import Unavailable

log = logging.getLogger(__name__)

LOCK_WAIT_SECONDS = 5.0


# Locks -------------------------------------------------------------------------------


def lock_key(source: str, key: str) -> int:
    return advisory_key(f"{source}:{key}")


def lock_order(session: Session, source: str, key: str) -> None:
    """Serialise every event of one order, so an order and its early refund cannot
    miss each other. PostgreSQL: a transaction-scoped advisory lock, waited for at most
    LOCK_WAIT_SECONDS (then 503: the platform retries); SQLite's BEGIN IMMEDIATE
    already serialises writers."""
    if not advisory_lock(session, f"{source}:{key}", LOCK_WAIT_SECONDS):
        raise Unavailable("this order is busy; retry later", code="retry")


# Orders ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    inserted: bool
    conversion_id: str
    lines: int
    waiting: bool
    delivery_id: str | None


def record_order(
    session: Session,
    settings: Settings,
    source: str,
    order: OrderEvent,
    delivery: Delivery | None,
) -> tuple[Outcome, str | None]:
    """Record an order once (with ``delivery``, stored in the same write), attribute
    it, write its sale lines and apply the refunds that waited for it; its outcome and
    the delivery's id. Takes the order's lock."""
    click_id = click_id_from(order.click_id, order.landing_url, settings.click_param)
    utm = order.utm or utm_from(order.landing_url)
    facts = gather(
        session,
        order.promo_codes,
        click_id,
        utm,
        ORDERS.of(session).gather_lock(source, order.lock_key),
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
            apply_event(session, conversion, event)
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
        "status": ConversionStatus.OPEN,
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
    return ORDERS.of(session).write_order(session, conversion, lines, delivery, order)


def _write_order_sqlite(
    session: Session,
    conversion: dict[str, Any],
    lines: list[dict[str, Any]],
    delivery: Delivery | None,
    order: OrderEvent,
) -> Written:
    source = conversion["source"]
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
        table_of(Conversion),
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


class PostgresOrders:
    @staticmethod
    def gather_lock(source: str, key: str) -> int | None:
        """The order's advisory lock, tried by the same statement as the read."""
        return lock_key(source, key)

    write_order = staticmethod(_write_order_pg)


class SqliteOrders:
    @staticmethod
    def gather_lock(source: str, key: str) -> int | None:
        """None: writers are serialised already (BEGIN IMMEDIATE)."""
        return None

    write_order = staticmethod(_write_order_sqlite)


ORDERS: Variants[PostgresOrders | SqliteOrders] = Variants(
    postgresql=PostgresOrders(), sqlite=SqliteOrders()
)


# Late attribution --------------------------------------------------------------------


def attribute_late(db: Database, settings: Settings, click_ids: Sequence[str]) -> int:
    """Attribute the orders that arrived while their click was still queued: called by
    the worker with each batch of clicks it wrote. Returns how many it attributed."""
    if not click_ids:
        return 0
    return _attribute_waiting(
        db,
        settings,
        Conversion.click_id.in_(list(click_ids)),
    )


def attribute_received_late(db: Database, settings: Settings, conversion_ids: Sequence[str]) -> int:
    """Attribute the orders just applied from the webhook spool whose click is in the
    database now: their ``received_at`` is when the delivery came, maybe longer ago than
    the sweep looks back, so a click batch written while one was applied (the two
    transactions crossed) is caught here. Returns how many it attributed."""
    if not conversion_ids:
        return 0
    return _attribute_waiting(
        db,
        settings,
        Conversion.id.in_(list(conversion_ids)),
        exists().where(Click.id == Conversion.click_id),
    )


SWEEP_WINDOW = timedelta(hours=1)
SWEEP_LIMIT = 500


def sweep_unattributed(db: Database, settings: Settings) -> int:
    """The worker's minutely sweep: an order committed just after its click's batch was
    written (the two transactions crossed) is found here — any unattributed order of
    the last hour whose click is now in the database."""
    since = clock.now_utc() - SWEEP_WINDOW
    return _attribute_waiting(
        db,
        settings,
        Conversion.received_at >= since,
        exists().where(Click.id == Conversion.click_id),
    )


def _attribute_waiting(db: Database, settings: Settings, *where: Any) -> int:
    with db.read_session() as reader:
        waiting = reader.execute(
            select(Conversion.id, Conversion.source, Conversion.order_id, Conversion.order_ref)
            .where(
                Conversion.partnership_id.is_(None),
                Conversion.click_id.is_not(None),
                *where,
            )
            .order_by(Conversion.id)
            .limit(SWEEP_LIMIT)
        ).all()
    done = 0
    for conversion_id, source, order_id, order_ref in waiting:
        try:
            with db.session() as session:
                lock_order(session, source, order_ref or order_id)
                conversion = session.get(Conversion, conversion_id)
                if conversion is None or conversion.partnership_id:
                    continue
                line = reattribute(session, settings, conversion, None)
        except Unavailable:
            # Its order, tiered sales or caps are busy: the next batch or sweep retries
            # it; the orders after it are not held up.
            log.warning("late attribution busy", extra={"conversion_id": conversion_id})
            continue
        if "attributed by" in line:
            done += 1
            log.info("late attribution", extra={"conversion_id": conversion_id})
    return done


def reattribute(
    session: Session, settings: Settings, conversion: Conversion, order: OrderEvent | None
) -> str:
    session.refresh(conversion, with_for_update=True)
    if conversion.partnership_id:
        return f"{conversion.id}: already attributed ({conversion.method}); unchanged"
    codes = order.promo_codes if order else list(conversion.promo_codes or [])
    landing = order.landing_url if order else conversion.landing_url
    click_id = click_id_from(
        order.click_id if order else conversion.click_id, landing, settings.click_param
    )
    utm = (order.utm if order else None) or utm_from(landing)
    facts = gather(session, codes, click_id, utm)
    found = attribute_order(session, facts, conversion.occurred_at)
    if found is None:
        return f"{conversion.id}: still unattributed"
    cand = found.candidate
    by_promo = found.method == "promo_code"
    conversion.method = found.method
    conversion.partnership_id = cand.partnership_id
    conversion.campaign_id = cand.campaign_id
    conversion.influencer_id = cand.influencer_id
    conversion.link_id = cand.link_id
    conversion.promo_code_id = cand.promo_code_id if by_promo else None
    conversion.attributed_promo_code = cand.promo_code if by_promo else None
    conversion.attributed_click_id = found.click_id
    conversion.click_id = conversion.click_id or click_id
    session.flush()
    lines = record_sale(session, conversion, settings.timezone)
    # Refunds and a cancel applied while it was unattributed reverse its new lines.
    before = 0
    applied = session.scalars(
        select(ConversionEvent)
        .where(
            ConversionEvent.conversion_id == conversion.id,
            or_(ConversionEvent.amount_minor > 0, ConversionEvent.kind == EventKind.CANCEL),
        )
        .order_by(ConversionEvent.applied_at, ConversionEvent.id)
    ).all()
    for event in applied:
        amount = int(event.amount_minor or 0)
        lines += record_reversal(
            session, conversion, event, before, amount, event.applied_at or conversion.received_at
        )
        before += amount
    return (
        f"{conversion.id}: attributed by {found.method} to influencer {cand.influencer_id}, "
        f"{lines} ledger line(s) written"
    )
