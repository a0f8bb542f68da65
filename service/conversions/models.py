from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, JSONType, UTCDateTime, new_id, utcnow


class Conversion(Base):
    """One order from the shop, attributed or not, with its raw payload for audit."""

    __tablename__ = "conversions"
    __table_args__ = (UniqueConstraint("source", "order_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cnv"))
    source: Mapped[str] = mapped_column(String(20))
    order_id: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # attributable: subtotal - discount
    total_minor: Mapped[int | None] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(20), default="open")
    promo_codes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    click_id: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(128))
    landing_url: Mapped[str | None] = mapped_column(String(4096))
    # Attribution (SPEC §4); all null for an unattributed order.
    method: Mapped[str | None] = mapped_column(String(20))
    partnership_id: Mapped[str | None] = mapped_column(ForeignKey("partnerships.id"), index=True)
    campaign_id: Mapped[str | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    influencer_id: Mapped[str | None] = mapped_column(ForeignKey("influencers.id"), index=True)
    link_id: Mapped[str | None] = mapped_column(ForeignKey("links.id"))
    promo_code_id: Mapped[str | None] = mapped_column(ForeignKey("promo_codes.id"))
    attributed_promo_code: Mapped[str | None] = mapped_column(String(64))
    attributed_click_id: Mapped[str | None] = mapped_column(String(64))
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


class ConversionEvent(Base):
    """A refund or cancellation as the shop sent it: one row per (source, order, event).

    Kept even when its order has not arrived yet; applied when it does.
    """

    __tablename__ = "conversion_events"
    __table_args__ = (UniqueConstraint("source", "order_id", "kind", "external_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("evt"))
    source: Mapped[str] = mapped_column(String(20))
    order_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(10))  # refund | cancel
    external_id: Mapped[str] = mapped_column(String(128))
    conversion_id: Mapped[str | None] = mapped_column(ForeignKey("conversions.id"), index=True)
    # The refund amount as sent (a decimal string in the order's currency, or minor
    # units for sources that send integers); ``amount_minor`` is what was applied.
    amount_text: Mapped[str | None] = mapped_column(String(40))
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)
    note: Mapped[str | None] = mapped_column(Text)
