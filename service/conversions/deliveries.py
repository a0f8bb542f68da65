"""One verified webhook delivery → events → the ledger; and replaying a stored one.

``afftrack conversions replay --id <delivery or conversion id>`` verifies a stored
delivery again (against the secret configured now, at the time it was received), runs
it through the same ingestion (idempotent: nothing already recorded changes), and
attributes an order that was left unattributed if it can be attributed now — e.g. its
click had not reached the database yet, or its promo code was created late. An order
already attributed stays as it is (docs/product.md §4: attributed once).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from service import clock
from service.clicks.models import Click
from service.commissions.ledger import record_reversal, record_sale
from service.config import Settings
from service.conversions.attribution import click_id_from, utm_from
from service.conversions.candidates import attribute_order, gather
from service.conversions.events import OrderEvent
from service.conversions.ingest import Delivery, Outcome, ingest, lock_order
from service.conversions.models import Conversion, ConversionEvent, WebhookDelivery
from service.conversions.webhooks import SOURCES, Source
from service.db import Database
from service.errors import AfftrackError, NotFound, Unavailable

log = logging.getLogger(__name__)


def receive_delivery(
    session: Session,
    settings: Settings,
    spec: Source,
    body: bytes,
    headers: Mapping[str, str],
    payload: dict[str, Any],
    topic: str,
) -> list[Outcome]:
    """Parse a verified body (its ``topic`` as ``spec.topic`` names it) and apply it.
    The caller commits."""
    events = spec.parse(payload, headers, settings.click_param)
    kept = {name: headers[name] for name in spec.kept_headers if headers.get(name)}
    delivery = Delivery(spec.name, body, kept, topic)
    return ingest(session, settings, spec.name, events, delivery)


def replay(session: Session, settings: Settings, ident: str) -> list[str]:
    """Re-run a stored delivery (``whd_…``) or a conversion's attribution (``cnv_…``).
    Returns what happened, one line per fact. The caller commits."""
    if ident.startswith("cnv_"):
        conversion = session.get(Conversion, ident)
        if conversion is None:
            raise NotFound(f"no conversion {ident!r}")
        if conversion.delivery_id is None:
            lock_order(session, conversion.source, conversion.order_ref or conversion.order_id)
            return [_reattribute(session, settings, conversion, None)]
        ident = conversion.delivery_id
    stored = session.get(WebhookDelivery, ident)
    if stored is None:
        raise NotFound(f"no stored delivery {ident!r}")
    spec = SOURCES[stored.source]
    secret = settings.webhook_secret_for(stored.source)
    if not secret:
        raise Unavailable(f"the {stored.source} webhook is not configured", code="source_disabled")
    spec.verify(stored.body, stored.headers, secret, int(stored.received_at.timestamp()))
    try:
        payload = (
            json.loads(stored.body, parse_float=str)
            if spec.numbers_as_text
            else json.loads(stored.body)
        )
    except ValueError:
        raise AfftrackError("the stored body is not JSON", code="malformed_json") from None
    events = spec.parse(payload, stored.headers, settings.click_param)
    delivery = Delivery(stored.source, stored.body, stored.headers, stored.topic, stored.id)
    report = [
        f"{o.status}: {o.conversion_id or '-'}{f' ({o.detail})' if o.detail else ''}"
        for o in ingest(session, settings, stored.source, events, delivery)
    ]
    for event in events:
        if isinstance(event, OrderEvent):
            conversion = session.scalar(
                select(Conversion).where(
                    Conversion.source == stored.source, Conversion.order_id == event.order_id
                )
            )
            if conversion is not None:
                report.append(_reattribute(session, settings, conversion, event))
    return report


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
                line = _reattribute(session, settings, conversion, None)
        except Unavailable:
            # Its order, tiered sales or caps are busy: the next batch or sweep retries
            # it; the orders after it are not held up.
            log.warning("late attribution busy", extra={"conversion_id": conversion_id})
            continue
        if "attributed by" in line:
            done += 1
            log.info("late attribution", extra={"conversion_id": conversion_id})
    return done


def _reattribute(
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
            or_(ConversionEvent.amount_minor > 0, ConversionEvent.kind == "cancel"),
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
