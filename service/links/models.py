from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.campaigns.models import Partnership
from service.db import Base, UTCDateTime, new_id, utcnow
from service.vocabulary import CODE_MAX_LENGTH


class Link(Base):
    """A tracked link: a short code owned by one partnership, for one platform."""

    __tablename__ = "links"
    __audit__ = "link"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("lnk"))
    code: Mapped[str] = mapped_column(String(CODE_MAX_LENGTH), unique=True)
    partnership_id: Mapped[str] = mapped_column(ForeignKey("partnerships.id"), index=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), index=True)
    influencer_id: Mapped[str] = mapped_column(ForeignKey("influencers.id"), index=True)
    destination: Mapped[str] = mapped_column(String(2048))
    platform: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    partnership: Mapped[Partnership] = relationship(lazy="joined")
