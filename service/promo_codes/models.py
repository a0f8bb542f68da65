from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.campaigns.models import Partnership
from service.db import Base, UTCDateTime, new_id, utcnow
from service.vocabulary import CODE_MAX_LENGTH


def normalize_code(code: str) -> str:
    """Promo codes match case-insensitively after trimming."""
    return code.strip().upper()


class PromoCode(Base):
    __tablename__ = "promo_codes"
    __audit__ = "promo_code"
    __table_args__ = (
        # Unique among active codes: a retired code may be issued again.
        Index(
            "uq_promo_codes_active_normalized",
            "normalized",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("pc"))
    code: Mapped[str] = mapped_column(String(CODE_MAX_LENGTH))
    normalized: Mapped[str] = mapped_column(String(CODE_MAX_LENGTH), index=True)
    partnership_id: Mapped[str] = mapped_column(ForeignKey("partnerships.id"), index=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), index=True)
    influencer_id: Mapped[str] = mapped_column(ForeignKey("influencers.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="active")
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_uses: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    partnership: Mapped[Partnership] = relationship(lazy="joined")
