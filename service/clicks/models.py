from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime
from service.vocabulary import CLICK_SOURCES, LINK_SOURCE


class Click(Base):
    """One request to a tracked link. The raw IP is never stored, only a keyed hash.

    On PostgreSQL the table is partitioned by month of ``occurred_at``
    (:mod:`service.clicks.partitions`), which is why the key includes it; the key's
    leading ``id`` still serves a lookup by click id alone.
    """

    __tablename__ = "clicks"
    __table_args__ = (
        Index("ix_clicks_link_id_occurred_at", "link_id", "occurred_at"),
        CheckConstraint(f"source IN ({', '.join(repr(s) for s in CLICK_SOURCES)})", name="source"),
        {"postgresql_partition_by": "RANGE (occurred_at)"},
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    link_id: Mapped[str] = mapped_column(ForeignKey("links.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    ip_hash: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(512))
    referrer: Mapped[str | None] = mapped_column(String(1024))
    country: Mapped[str | None] = mapped_column(String(2))
    is_bot: Mapped[bool] = mapped_column(Boolean)
    bot_reason: Mapped[str | None] = mapped_column(String(40))
    is_unique: Mapped[bool] = mapped_column(Boolean)
    # "fallback" when the link was paused or its campaign had ended.
    outcome: Mapped[str] = mapped_column(String(10), default="redirect")
    # "qr" when the visitor came through the link's QR code (migration 0013).
    source: Mapped[str] = mapped_column(String(4), default=LINK_SOURCE, server_default=LINK_SOURCE)


class _ClickCounts:
    link_id: Mapped[str] = mapped_column(ForeignKey("links.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # The link's campaign and influencer (a link never changes either), copied in so a
    # report groups by them without a join (migration 0008).
    campaign_id: Mapped[str] = mapped_column(String(40))
    influencer_id: Mapped[str] = mapped_column(String(40))
    clicks: Mapped[int] = mapped_column(BigInteger)
    unique_clicks: Mapped[int] = mapped_column(BigInteger)
    bot_clicks: Mapped[int] = mapped_column(BigInteger)
    # The part of ``clicks`` (non-bot) that came through the link's QR code (0013).
    qr_scans: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # The unique, non-bot clicks that were redirected (not sent to the fallback): what a
    # ``cpc`` rule pays for (0020; service/clicks/counts.py reads them).
    cpc_clicks: Mapped[int] = mapped_column(BigInteger, server_default="0")


class ClickDaily(_ClickCounts, Base):
    """Clicks per link and UTC day, as reports count them: ``clicks`` the non-bot ones,
    ``unique_clicks`` the unique ones among them, ``bot_clicks`` the rest, ``qr_scans``
    the non-bot ones that came through the link's QR code (part of ``clicks``),
    ``cpc_clicks`` the unique ones among them that were redirected (not to the fallback).

    Kept by the database as clicks are written (a trigger on ``clicks``, migrations 0007
    and 0008): exactly the rows an INSERT or COPY really inserted, in its transaction,
    so a retried batch adds nothing. A click whose ``is_unique`` changes afterwards (one
    counted unique twice across a Redis outage is demoted) moves ``unique_clicks`` with
    it (a trigger on UPDATE OF ``is_unique``, migration 0009). A report reads these
    instead of scanning clicks, and they outlive the monthly partitions that retention
    detaches.
    """

    __tablename__ = "click_daily"
    # A report reads one campaign's days: by campaign and day, without joining links.
    __table_args__ = (Index("ix_click_daily_campaign_id_day", "campaign_id", "day"),)


class ClickMonthly(_ClickCounts, Base):
    """``ClickDaily`` summed per UTC month (``day`` is the month's first day), kept by
    the same triggers (inserts, and a change of ``is_unique``): a report reads whole
    months of its range here, one row per link and month instead of one per day."""

    __tablename__ = "click_monthly"
    __table_args__ = (Index("ix_click_monthly_campaign_id_day", "campaign_id", "day"),)
