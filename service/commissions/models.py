from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, JSONType, UTCDateTime, new_id, utcnow


class CommissionLine(Base):
    """One append-only ledger entry.

    Amounts are never updated; only ``status``/``export_id`` change, to record payment
    or rejection. ``recorded_at`` is when it was written, ``occurred_at`` when the
    event behind it happened, ``due_at`` when it becomes payable.
    """

    __tablename__ = "commission_lines"
    # Month-end settlement reads a month's true_up and cpc lines by kind.
    __table_args__ = (Index("ix_commission_lines_kind_occurred_at", "kind", "occurred_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cml"))
    # What makes a retried write land once: e.g. "sale:<conversion>:<rule index>".
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    influencer_id: Mapped[str] = mapped_column(ForeignKey("influencers.id"), index=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), index=True)
    partnership_id: Mapped[str | None] = mapped_column(ForeignKey("partnerships.id"))
    conversion_id: Mapped[str | None] = mapped_column(ForeignKey("conversions.id"), index=True)
    event_id: Mapped[str | None] = mapped_column(ForeignKey("conversion_events.id"))
    deliverable_id: Mapped[str | None] = mapped_column(ForeignKey("deliverables.id"))
    reverses_line_id: Mapped[str | None] = mapped_column(
        ForeignKey("commission_lines.id"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    rule: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    basis_minor: Mapped[int | None] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    export_id: Mapped[str | None] = mapped_column(ForeignKey("exports.id"), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_by_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"))


class _CommissionCounts:
    campaign_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    influencer_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    link_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    lines: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)


class CommissionDaily(_CommissionCounts, Base):
    """The ledger per campaign, influencer, link and UTC day of the line, as reports
    count it: ``lines`` the lines not rejected and ``amount_minor`` their sum, per
    currency. ``link_id`` is the link of the line's order, ``""`` for a line without
    one (adjustment, cpc, per-post, true-up, or an order attributed by promo code).

    Kept by the database (triggers on ``commission_lines``, migration 0008): lines are
    added as they are written and taken off when rejected; the ledger's other columns
    never change (the append-only trigger), so nothing else can move a line.
    """

    __tablename__ = "commission_daily"


class CommissionMonthly(_CommissionCounts, Base):
    """``CommissionDaily`` summed per UTC month (``day`` is the month's first day), kept
    by the same triggers, for the whole months of a report's range."""

    __tablename__ = "commission_monthly"
