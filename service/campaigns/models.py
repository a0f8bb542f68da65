from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, JSONType, UTCDateTime, new_id, utcnow
from service.influencers.models import Influencer
from service.vocabulary import CODE_MAX_LENGTH


class Campaign(Base):
    __tablename__ = "campaigns"
    __audit__ = "campaign"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cmp"))
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(CODE_MAX_LENGTH), unique=True)
    goal: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    budget_minor: Mapped[int | None] = mapped_column(BigInteger)
    monthly_cap_minor: Mapped[int | None] = mapped_column(BigInteger)
    allowed_domains: Mapped[list[str]] = mapped_column(JSONType)
    fallback_url: Mapped[str] = mapped_column(String(2048))
    attribution_window_days: Mapped[int] = mapped_column(Integer, default=30)
    hold_days: Mapped[int] = mapped_column(Integer, default=30)
    utm_medium: Mapped[str] = mapped_column(String(CODE_MAX_LENGTH), default="influencer")
    commission_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    # Media value rates as typed ({platform: {metric: decimal string}}, in ``currency``);
    # ``None``: the defaults, where the currency has them (service.reports.media_value).
    media_value_rates: Mapped[dict[str, dict[str, str]] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Partnership(Base):
    """An influencer enrolled in a campaign; its own rules replace the campaign's."""

    __tablename__ = "partnerships"
    __table_args__ = (UniqueConstraint("campaign_id", "influencer_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("prt"))
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), index=True)
    influencer_id: Mapped[str] = mapped_column(ForeignKey("influencers.id"), index=True)
    commission_rules: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    campaign: Mapped[Campaign] = relationship(lazy="joined")
    influencer: Mapped[Influencer] = relationship(lazy="joined")

    __audit__ = "partnership"
    __audit_names__ = ("influencer_id",)

    def audit_subject(self) -> tuple[str, str]:
        return "campaign", self.campaign_id

    @property
    def effective_rules(self) -> list[dict[str, Any]]:
        if self.commission_rules is not None:
            return self.commission_rules
        return self.campaign.commission_rules
