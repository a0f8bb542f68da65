"""Code → everything the redirect needs (a :class:`Target`), from the database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.campaigns.models import Campaign, Partnership
from service.influencers.models import Influencer
from service.links.destinations import ascii_url, tracked
from service.links.models import Link

# Stands for the click id while the tracked URL is built; it is then cut out, so that a
# request only has to glue ``head + click id + tail`` together.
_PLACEHOLDER = "AFFTRACKCLICKID0"


@dataclass(frozen=True, slots=True)
class Target:
    link_id: str
    head: str  # tracked URL (destination + UTM) up to and including "<click param>="
    tail: str  # what follows the click id: the destination's "#fragment", or ""
    fallback_url: str
    active: bool
    ends_on: str  # ISO date the campaign ends on (in its zone), "" for open-ended

    def live_on(self, day: str) -> bool:
        """Whether the link redirects to its destination on ``day`` (an ISO date)."""
        return self.active and (not self.ends_on or day <= self.ends_on)

    def location(self, click_id: str) -> str:
        return self.head + click_id + self.tail

    def to_fields(self) -> dict[str, str]:
        return {
            "link_id": self.link_id,
            "head": self.head,
            "tail": self.tail,
            "fallback": self.fallback_url,
            "active": "1" if self.active else "0",
            "ends_on": self.ends_on,
        }

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Target:
        return cls(
            fields["link_id"],
            fields["head"],
            fields["tail"],
            fields["fallback"],
            fields["active"] == "1",
            fields["ends_on"],
        )


def resolve(session: Session, code: str, click_param: str) -> Target | None:
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
    # A Location header is bytes: non-ASCII destinations go out percent-encoded.
    url = tracked(
        row.destination,
        platform=row.platform,
        medium=row.utm_medium,
        campaign_slug=row.slug,
        influencer_handle=row.handle,
        extra={click_param: _PLACEHOLDER},
    )
    head, _, tail = ascii_url(url).rpartition(_PLACEHOLDER)
    return Target(
        row.id,
        head,
        tail,
        ascii_url(row.fallback_url),
        row.status == "active",
        row.ends_on.isoformat() if row.ends_on else "",
    )
