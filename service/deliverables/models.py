from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, JSONType, UTCDateTime, new_id, utcnow


class Deliverable(Base):
    """A post an influencer published, with its metrics; approval may carry a fee."""

    __tablename__ = "deliverables"
    __audit__ = "deliverable"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("dlv"))
    partnership_id: Mapped[str] = mapped_column(ForeignKey("partnerships.id"), index=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), index=True)
    influencer_id: Mapped[str] = mapped_column(ForeignKey("influencers.id"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(String(2048))
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The tracked link the post promotes (the same partnership's), for its click-through rate.
    link_id: Mapped[str | None] = mapped_column(ForeignKey("links.id"))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(10), default="submitted")
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejection_reason: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A post submitted at the portal: the SHA-256 of its form's one-time token and the
    # influencer's id, so the same form sent twice records one post (null: the API's).
    submission_key: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
