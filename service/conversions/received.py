"""A verified webhook delivery as received, kept once per identical body: what the
intake stores (service/conversions/intake.py) and an order's write inserts with it
(service/conversions/orders.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.conversions.models import WebhookDelivery
from service.conversions.webhooks import Source
from service.conversions.webhooks.fields import HeaderLookup
from service.db import insert_ignore, new_id, table_of, utcnow


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


def kept_headers(spec: Source, headers: HeaderLookup) -> dict[str, str]:
    """The headers a stored delivery keeps: enough to parse it and verify it again."""
    return {name: headers[name] for name in spec.kept_headers if headers.get(name)}


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
        table_of(WebhookDelivery),
        delivery.row(),
        ["source", "body_sha256"],
        returning=WebhookDelivery.id,
    )
    if inserted:
        return str(inserted[0])
    return str(session.scalar(select(_delivery_id_expr(delivery))))
