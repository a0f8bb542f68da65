from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime


class Click(Base):
    """One request to a tracked link. The raw IP is never stored, only a keyed hash.

    On PostgreSQL the table is partitioned by month of ``occurred_at``
    (:mod:`service.clicks.partitions`), which is why the key includes it; the key's
    leading ``id`` still serves a lookup by click id alone.
    """

    __tablename__ = "clicks"
    __table_args__ = (
        Index("ix_clicks_link_id_occurred_at", "link_id", "occurred_at"),
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
