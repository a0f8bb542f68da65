"""Database look-ups that feed the pure attribution decision."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.campaigns.models import Campaign, Partnership
from service.clicks.models import Click
from service.conversions.attribution import Candidate, ClickFact
from service.conversions.models import Conversion
from service.influencers.models import Influencer
from service.links.models import Link
from service.promo_codes.service import active_codes


def _candidate(p: Partnership, **extra: object) -> Candidate:
    c: Campaign = p.campaign
    return Candidate(
        partnership_id=p.id,
        campaign_id=c.id,
        influencer_id=p.influencer_id,
        campaign_starts_on=c.starts_on,
        campaign_ends_on=c.ends_on,
        attribution_window_days=c.attribution_window_days,
        **extra,  # type: ignore[arg-type]
    )


def promo_candidates(session: Session, codes: Sequence[str]) -> list[Candidate]:
    out = []
    for promo in active_codes(session, codes):
        uses_left = None
        if promo.max_uses is not None:
            used = session.scalar(
                select(func.count())
                .select_from(Conversion)
                .where(Conversion.promo_code_id == promo.id)
            )
            uses_left = promo.max_uses - int(used or 0)
        out.append(
            _candidate(
                promo.partnership,
                promo_code_id=promo.id,
                promo_code=promo.code,
                promo_starts_at=promo.starts_at,
                promo_ends_at=promo.ends_at,
                promo_uses_left=uses_left,
            )
        )
    return out


def click_fact(session: Session, click_id: str) -> ClickFact | None:
    if len(click_id) > 40:
        return None
    # By id alone: the table is keyed (and partitioned) by (id, occurred_at).
    click = session.scalars(select(Click).where(Click.id == click_id).limit(1)).first()
    if click is None:
        return None
    link = session.get(Link, click.link_id)
    assert link is not None
    return ClickFact(
        click_id=click.id,
        occurred_at=click.occurred_at,
        is_bot=click.is_bot,
        candidate=_candidate(link.partnership, link_id=link.id),
    )


def utm_candidate(session: Session, campaign_slug: str, handle: str) -> Candidate | None:
    partnership = session.scalar(
        select(Partnership)
        .join(Campaign, Campaign.id == Partnership.campaign_id)
        .join(Influencer, Influencer.id == Partnership.influencer_id)
        .where(Campaign.slug == campaign_slug, Influencer.handle == handle)
    )
    return _candidate(partnership) if partnership else None
