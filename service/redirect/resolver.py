"""Code → everything the redirect needs, in one query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.campaigns.models import Campaign, Partnership
from service.influencers.models import Influencer
from service.links.destinations import merge_query, utm_params
from service.links.models import Link


@dataclass(frozen=True, slots=True)
class Target:
    link_id: str
    tracked_url: str  # destination with UTM merged; the click id is added per request
    fallback_url: str
    active: bool
    ends_on: date | None

    def live_on(self, day: date) -> bool:
        return self.active and (self.ends_on is None or day <= self.ends_on)


def resolve(session: Session, code: str) -> Target | None:
    row = session.execute(
        select(
            Link.id,
            Link.destination,
            Link.platform,
            Link.status,
            Campaign.slug,
            Campaign.utm_medium,
            Campaign.fallback_url,
            Campaign.ends_on,
            Influencer.handle,
        )
        .join(Partnership, Partnership.id == Link.partnership_id)
        .join(Campaign, Campaign.id == Partnership.campaign_id)
        .join(Influencer, Influencer.id == Partnership.influencer_id)
        .where(Link.code == code)
    ).first()
    if row is None:
        return None
    tracked = merge_query(
        row.destination,
        utm_params(
            platform=row.platform,
            medium=row.utm_medium,
            campaign_slug=row.slug,
            influencer_handle=row.handle,
        ),
    )
    return Target(row.id, tracked, row.fallback_url, row.status == "active", row.ends_on)
