from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, UTCDateTime, new_id, utcnow


class Influencer(Base):
    __tablename__ = "influencers"
    __audit__ = "influencer"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("inf"))
    handle: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    payout_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    platforms: Mapped[list[PlatformAccount]] = relationship(
        back_populates="influencer",
        cascade="all, delete-orphan",
        order_by="PlatformAccount.id",
        lazy="selectin",
    )


class PlatformAccount(Base):
    __tablename__ = "platform_accounts"
    __table_args__ = (UniqueConstraint("influencer_id", "platform", "handle"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    influencer_id: Mapped[str] = mapped_column(ForeignKey("influencers.id"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    handle: Mapped[str] = mapped_column(String(100))
    followers: Mapped[int] = mapped_column(BigInteger)

    influencer: Mapped[Influencer] = relationship(back_populates="platforms")

    __audit__ = "platform_account"
    __audit_names__ = ("platform",)

    def audit_subject(self) -> tuple[str, str]:
        return "influencer", self.influencer_id
