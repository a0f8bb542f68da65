"""Verified webhook deliveries kept in the local spool while the database cannot take
them, and applied from it once it can (docs/adr/0007-webhooks-while-the-database-is-down.md).

A delivery whose signature checks out but whose transaction fails because the database
is unreachable is appended to the ``webhooks`` spool (service/spool.py) and answered
``202 queued``; so is every delivery that arrives while any is still waiting there, so
that no delivery of an order overtakes an earlier one. ``drain_deliveries`` applies
them oldest first, one transaction each, through the same ingestion as a delivery
applied on arrival, with the delivery id given in the ``202`` and the time it was
received. Ingestion is idempotent (one conversion per (source, order id), one event per
refund id, one stored delivery per body), so a record applied twice — a drain stopped
half way and run again — changes nothing the second time.

A record, one JSON line: ``at`` (epoch seconds of receipt: the order of application),
``v`` (1), ``id`` (``whd_…``), ``source``, ``topic``, ``received_at`` (ISO 8601, UTC),
``headers`` (the source's ``kept_headers``: enough to parse it now and to verify it again
later with ``afftrack conversions replay``) and ``body`` (base64 of the exact bytes).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError

from service import metrics
from service.config import Settings
from service.conversions.events import Outcome
from service.conversions.intake import receive_stored
from service.conversions.orders import attribute_received_late
from service.conversions.received import Delivery, kept_headers
from service.conversions.webhooks import SOURCES, Source
from service.conversions.webhooks.fields import HeaderLookup
from service.db import LOCK_NOT_AVAILABLE, Database, new_id
from service.errors import AfftrackError
from service.spool import Record, Spool

log = logging.getLogger(__name__)

FORMAT = 1
# Deliveries that failed for a reason a retry would not change, kept for an operator.
REFUSED_KIND = "refused-webhooks"
BATCH = 50  # records per drain batch: a crash re-applies at most this many (harmlessly)

# What the answer's ``detail`` says (docs/webhooks/README.md, "What afftrack answers").
QUEUED_DATABASE_DOWN = (
    "The database is unavailable; this delivery is kept and will be applied when it is back."
)
QUEUED_BEHIND_OTHERS = (
    "Deliveries received while the database was unavailable are still being applied; "
    "this one is kept and will be applied after them."
)

# SQLSTATEs of a database that answers but is busy (contention): the sender retries, as
# for any busy order (503 retry). Anything else an operational error carries — no
# connection, the server shutting down or starting up, out of disk, read-only — means
# the delivery cannot be written now and is kept.
_BUSY_STATES = {LOCK_NOT_AVAILABLE, "40001", "40P01", "57014"}


def database_unreachable(exc: BaseException) -> bool:
    """Whether a failed webhook transaction failed because the database cannot take
    writes now (kept in the spool), rather than because a row or lock was busy."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    orig = exc.orig
    state = getattr(orig, "sqlstate", None)
    if state in _BUSY_STATES:
        return False
    # SQLite: "database is locked" after its 30 s busy timeout is contention too.
    return "database is locked" not in str(orig)


def spool_delivery(
    spool: Spool,
    spec: Source,
    body: bytes,
    headers: HeaderLookup,
    topic: str,
    received_at: datetime,
) -> str:
    """Keep a verified delivery in ``spool``; its delivery id (``whd_…``). Raises
    :class:`service.spool.SpoolError` if it cannot be kept."""
    delivery_id = new_id("whd")
    spool.append(
        {
            "at": received_at.timestamp(),
            "v": FORMAT,
            "id": delivery_id,
            "source": spec.name,
            "topic": topic,
            "received_at": received_at.isoformat(),
            "headers": kept_headers(spec, headers),
            "body": base64.b64encode(body).decode("ascii"),
        }
    )
    return delivery_id


def delivery_of(record: Record) -> Delivery:
    """The delivery a spool record holds (raises KeyError, TypeError or ValueError for
    a record that is not one)."""
    source = record["source"]
    if source not in SOURCES:
        raise ValueError(f"unknown webhook source {source!r}")
    received_at = datetime.fromisoformat(record["received_at"])
    if received_at.tzinfo is None:
        raise ValueError("received_at has no time zone")
    headers = record["headers"]
    if not isinstance(headers, dict):
        raise TypeError("headers is not an object")
    return Delivery(
        source,
        base64.b64decode(record["body"], validate=True),
        {str(k): str(v) for k, v in headers.items()},
        record.get("topic"),
        str(record["id"]),
        received_at,
    )


def apply_record(
    db: Database, settings: Settings, record: Record, refused: Spool | None = None
) -> list[Outcome]:
    """Apply one spooled delivery in a transaction of its own; its outcomes. A record
    that cannot be read, or whose delivery is refused as a live one would be (a 4xx),
    is logged and skipped (``[]``): it can never be applied. A database that is still
    unavailable, or an order still busy, raises: the drain stops and is tried again.
    Anything else that fails it (a value the database refuses, a fault of afftrack's)
    would fail it again and hold every later delivery back: it is set aside in
    ``refused`` (the ``refused-webhooks`` spool files, kept for an operator), logged
    and counted, and the drain goes on."""
    try:
        return _apply(db, settings, record)
    except (OperationalError, InterfaceError, SATimeoutError, AfftrackError):
        raise  # (the database away or busy, an order busy: a later drain applies it)
    except Exception as exc:
        log.exception(
            "spooled webhook delivery failed; set aside",
            extra={"delivery_id": record.get("id"), "error_type": type(exc).__name__},
        )
        metrics.WEBHOOKS_UNSPOOLED.labels(str(record.get("source"))[:20], "set_aside").inc()
        if refused is not None:
            refused.append(record)
        return []


def _apply(db: Database, settings: Settings, record: Record) -> list[Outcome]:
    try:
        delivery = delivery_of(record)
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        log.error(
            "unreadable webhook spool record skipped",
            extra={"delivery_id": record.get("id"), "error": str(exc)[:200]},
        )
        metrics.WEBHOOKS_UNSPOOLED.labels(str(record.get("source"))[:20], "unreadable").inc()
        return []
    spec = SOURCES[delivery.source]
    try:
        with db.session() as session:
            outcomes = receive_stored(session, settings, delivery)
    except AfftrackError as exc:
        if exc.status >= 500:
            raise  # an order busy: tried again with the rest of the spool
        # Verified at receipt, but refused as a live delivery would have been (its refund
        # in a form this order cannot take): applying it again would refuse it again.
        log.error(
            "spooled webhook delivery refused; skipped",
            extra={"source": spec.name, "delivery_id": delivery.id, "code": exc.code},
        )
        metrics.WEBHOOKS_UNSPOOLED.labels(spec.name, exc.code).inc()
        return []
    for outcome in outcomes:
        metrics.WEBHOOKS_UNSPOOLED.labels(spec.name, outcome.status).inc()
        log.info(
            "webhook applied from the spool",
            extra={
                "source": spec.name,
                "topic": delivery.topic,
                "delivery_id": delivery.id,
                "outcome": outcome.status,
                "conversion_id": outcome.conversion_id,
                "detail": outcome.detail,
            },
        )
    return outcomes


def drain_deliveries(db: Database, settings: Settings, spool: Spool) -> int:
    """Apply every delivery waiting in ``spool``, oldest first, each exactly once in
    effect; how many were applied (0 if another drain is running). Raises what stopped
    it (the database still down, an order busy): what was applied stays applied, the
    rest waits for the next drain."""

    refused = Spool(spool.directory, REFUSED_KIND, fsync=spool.fsync)

    def apply(records: list[Record]) -> None:
        created: list[str] = []
        try:
            for record in records:
                created += [
                    o.conversion_id
                    for o in apply_record(db, settings, record, refused)
                    if o.status == "created" and o.conversion_id
                ]
        finally:
            with contextlib.suppress(OperationalError, InterfaceError, AfftrackError):
                attribute_received_late(db, settings, created)

    return spool.drain(apply, batch=BATCH)


def waiting_by_source(spool: Spool) -> Counter[str]:
    """How many deliveries wait in ``spool``, per source."""
    return Counter(str(record.get("source")) for record in spool.records() if record)


class DrainJob:
    """The spool mover's job (service.spool.Mover) for webhook deliveries: drain while
    any wait; after a failure (the database still down) wait a little longer before
    each new try, up to ``max_pause`` seconds, and log it once per outage."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        spool: Spool,
        *,
        max_pause: float = 5.0,
        drain: Callable[[Database, Settings, Spool], int] = drain_deliveries,
    ) -> None:
        self.db, self.settings, self.spool = db, settings, spool
        self.max_pause = max_pause
        self._drain = drain
        self._pause = 0.0
        self._next_try = 0.0
        self._failing = False

    def __call__(self) -> bool:
        if not self.spool.waiting():
            return False
        if time.monotonic() < self._next_try:
            return True
        try:
            applied = self._drain(self.db, self.settings, self.spool)
        except Exception as exc:
            self._pause = min(max(self._pause * 2, 0.25), self.max_pause)
            self._next_try = time.monotonic() + self._pause
            if not self._failing:
                self._failing = True
                log.warning(
                    "spooled webhook deliveries wait: the database cannot take them yet",
                    extra={"error_type": type(exc).__name__},
                )
            return True
        if self._failing:
            self._failing = False
            log.info("spooled webhook deliveries are being applied again")
        self._pause = 0.0
        if applied:
            log.info("webhook spool drained", extra={"applied": applied})
        return self.spool.waiting()


def drain_job(db: Database, settings: Settings, spool: Spool) -> Callable[[], bool]:
    """The job :class:`service.spool.Mover` runs for the webhook spool."""
    return DrainJob(db, settings, spool)
