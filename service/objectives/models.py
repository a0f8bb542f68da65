"""A campaign's objectives: a target for one KPI by a deadline (docs/objectives.md)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.campaigns.models import Campaign
from service.db import Base, UTCDateTime, new_id, utcnow


class Objective(Base):
    """A target for ``kpi`` (an integer in the KPI's unit, ``service.vocabulary.KPI_UNITS``)
    from ``starts_on`` to ``deadline`` (UTC days, both included), for the whole campaign
    (``scope`` "campaign") or per influencer (``scope`` "influencer": the one partner
    ``influencer_id``, or each partner when it is null; ADR "objectives per influencer")."""

    __tablename__ = "objectives"
    __audit__ = "objective"
    __audit_names__ = ("kpi", "scope", "influencer_id")

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("obj"))
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), index=True)
    kpi: Mapped[str] = mapped_column(String(30))
    target: Mapped[int] = mapped_column(BigInteger)
    starts_on: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date)
    scope: Mapped[str] = mapped_column(String(20))
    influencer_id: Mapped[str | None] = mapped_column(ForeignKey("influencers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    campaign: Mapped[Campaign] = relationship(lazy="joined")

    def audit_subject(self) -> tuple[str, str]:
        """An objective's changes are listed with its campaign's."""
        return "campaign", self.campaign_id
