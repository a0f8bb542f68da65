from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.commissions.models import one_of
from service.db import Base, JSONType, UTCDateTime, new_id, utcnow
from service.vocabulary import CODE_MAX_LENGTH


class ConversionStatus(StrEnum):
    """Where an order stands after its refunds and cancellation."""

    OPEN = "open"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


class EventKind(StrEnum):
    """What a shop's event does to its order (``conversion_events.kind``)."""

    REFUND = "refund"
    CANCEL = "cancel"


class EventOutcome(StrEnum):
    """What a refund or cancel came to once applied to its order (None while it waits
    for the order): its ``note`` says why, in words, for people."""

    APPLIED = "applied"  # reversed its share, or found nothing left to reverse
    NOT_APPLIED = "not_applied"  # refused: another currency, an amount or basis unread


class Conversion(Base):
    """One order from the shop, attributed or not, with its raw payload for audit."""

    __tablename__ = "conversions"
    __table_args__ = (
        UniqueConstraint("source", "order_id"),
        Index(
            "ix_conversions_source_order_ref",
            "source",
            "order_ref",
            postgresql_where=text("order_ref IS NOT NULL"),
            sqlite_where=text("order_ref IS NOT NULL"),
        ),
        CheckConstraint(one_of("status", ConversionStatus), name="status"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cnv"))
    source: Mapped[str] = mapped_column(String(20))
    order_id: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # attributable: subtotal - discount
    total_minor: Mapped[int | None] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # Tax on the attributable items: what a gross refund is shared against (docs/product.md §2).
    tax_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    prices_include_tax: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The platform's second reference for the order, used by its refunds (Stripe's
    # payment intent).
    order_ref: Mapped[str | None] = mapped_column(String(128))
    # The stored delivery that created it (None for orders older than deliveries).
    delivery_id: Mapped[str | None] = mapped_column(ForeignKey("webhook_deliveries.id"))
    status: Mapped[str] = mapped_column(String(20), default=ConversionStatus.OPEN)
    promo_codes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    click_id: Mapped[str | None] = mapped_column(String(CODE_MAX_LENGTH), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(128))
    landing_url: Mapped[str | None] = mapped_column(String(4096))
    # Attribution (docs/product.md §4); all null for an unattributed order.
    method: Mapped[str | None] = mapped_column(String(20))
    partnership_id: Mapped[str | None] = mapped_column(ForeignKey("partnerships.id"), index=True)
    campaign_id: Mapped[str | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    influencer_id: Mapped[str | None] = mapped_column(ForeignKey("influencers.id"), index=True)
    link_id: Mapped[str | None] = mapped_column(ForeignKey("links.id"))
    promo_code_id: Mapped[str | None] = mapped_column(ForeignKey("promo_codes.id"), index=True)
    attributed_promo_code: Mapped[str | None] = mapped_column(String(CODE_MAX_LENGTH))
    attributed_click_id: Mapped[str | None] = mapped_column(String(CODE_MAX_LENGTH))
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


class ConversionEvent(Base):
    """A refund or cancellation as the shop sent it: one row per (source, order, event).

    Kept even when its order has not arrived yet; applied when it does.
    """

    __tablename__ = "conversion_events"
    __table_args__ = (
        UniqueConstraint("source", "order_id", "kind", "external_id"),
        CheckConstraint(one_of("outcome", EventOutcome), name="outcome"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("evt"))
    source: Mapped[str] = mapped_column(String(20))
    order_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(10))  # EventKind
    external_id: Mapped[str] = mapped_column(String(128))
    conversion_id: Mapped[str | None] = mapped_column(ForeignKey("conversions.id"), index=True)
    # The refund as the platform put it (events.RefundClaim): ``basis`` attributable,
    # items or gross; ``amount_text``/``tax_text`` decimal strings in ``currency`` (None:
    # the order's). ``amount_minor`` is what was applied.
    basis: Mapped[str | None] = mapped_column(String(12))
    amount_text: Mapped[str | None] = mapped_column(String(40))
    tax_text: Mapped[str | None] = mapped_column(String(40))
    paid_text: Mapped[str | None] = mapped_column(String(40))
    currency: Mapped[str | None] = mapped_column(String(3))
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)
    note: Mapped[str | None] = mapped_column(Text)
    # Set with ``applied_at`` (refunds.next_status); None while the event waits.
    outcome: Mapped[str | None] = mapped_column(String(12))
    delivery_id: Mapped[str | None] = mapped_column(ForeignKey("webhook_deliveries.id"))


class WebhookDelivery(Base):
    """A verified webhook body exactly as received, with the headers needed to verify
    it again; identical redeliveries are stored once (by body digest)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("source", "body_sha256"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("whd"))
    source: Mapped[str] = mapped_column(String(20))
    body_sha256: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, str]] = mapped_column(JSONType)
    topic: Mapped[str | None] = mapped_column(String(80))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class _ConversionCounts:
    campaign_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    influencer_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    link_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    conversions: Mapped[int] = mapped_column(BigInteger)
    revenue_minor: Mapped[int] = mapped_column(BigInteger)
    # The part of ``conversions`` attributed by each method (attribution.METHODS;
    # migration 0021): a report's conversion rate counts the click ones only.
    click_conversions: Mapped[int] = mapped_column(BigInteger, server_default="0")
    promo_code_conversions: Mapped[int] = mapped_column(BigInteger, server_default="0")
    utm_conversions: Mapped[int] = mapped_column(BigInteger, server_default="0")


class ConversionDaily(_ConversionCounts, Base):
    """Attributed orders per campaign, influencer, link and UTC day of the order, as
    reports count them: ``conversions`` the orders not cancelled (and how many of them
    each attribution method brought), ``revenue_minor`` their attributable amount net of
    refunds, per currency. ``link_id`` is ``""`` for an order
    attributed without a link (by promo code).

    Kept by the database as conversions change (triggers on ``conversions``, migration
    0008; the counts per method since 0021): an order's contribution is added when it is
    written, and taken off and added again under its new key or figures when a refund, a
    cancel or a late attribution changes it, in the same transaction.
    """

    __tablename__ = "conversion_daily"


class ConversionMonthly(_ConversionCounts, Base):
    """``ConversionDaily`` summed per UTC month (``day`` is the month's first day), kept
    by the same triggers, for the whole months of a report's range."""

    __tablename__ = "conversion_monthly"
