"""``afftrack demo``: a campaign, influencers, links and codes to click straight away."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from service import clock
from service.campaigns.models import Campaign, Partnership
from service.campaigns.schemas import CampaignIn
from service.campaigns.service import add_partner, create_campaign
from service.config import Settings
from service.influencers.models import Influencer
from service.influencers.schemas import InfluencerIn
from service.influencers.service import create_influencer
from service.keys.service import create_key
from service.links.models import Link
from service.links.service import create_link
from service.promo_codes.models import PromoCode
from service.promo_codes.service import create_promo_code

DEMO_SLUG = "demo-spring"
DEMO_INFLUENCERS = (
    ("anna.styles", "Anna Styles", "instagram", 48_200),
    ("ben-cooks", "Ben Cooks", "tiktok", 212_000),
    ("clara_runs", "Clara Runs", "youtube", 6_400),
)


def create_demo(session: Session, settings: Settings) -> list[str]:
    """Create the demo data (once) and return the lines to print."""
    campaign = session.scalar(select(Campaign).where(Campaign.slug == DEMO_SLUG))
    out: list[str] = []
    if campaign is None:
        today = clock.now_utc().date()
        campaign = create_campaign(
            session,
            CampaignIn().load(
                {
                    "name": "Demo spring launch",
                    "slug": DEMO_SLUG,
                    "goal": "conversions",
                    "kind": "affiliate",
                    "currency": "EUR",
                    "starts_on": (today - timedelta(days=7)).isoformat(),
                    "allowed_domains": ["shop.example.com"],
                    "fallback_url": "https://shop.example.com/",
                    "hold_days": 30,
                    "commission_rules": [{"type": "percent", "rate": "10"}],
                }
            ),
        )
        for handle, name, platform, followers in DEMO_INFLUENCERS:
            influencer = session.scalar(select(Influencer).where(Influencer.handle == handle))
            if influencer is None:
                influencer = create_influencer(
                    session,
                    InfluencerIn().load(
                        {
                            "handle": handle,
                            "name": name,
                            "email": f"{handle}@example.com",
                            "platforms": [
                                {"platform": platform, "handle": handle, "followers": followers}
                            ],
                        }
                    ),
                )
            add_partner(session, campaign.id, {"influencer_id": influencer.id})
            create_link(
                session,
                settings,
                {
                    "campaign_id": campaign.id,
                    "influencer_id": influencer.id,
                    "destination": "https://shop.example.com/spring?ref=bio",
                    "platform": platform,
                },
            )
            create_promo_code(
                session,
                {
                    "campaign_id": campaign.id,
                    "influencer_id": influencer.id,
                    "code": handle.replace(".", "").replace("-", "").replace("_", "").upper()[:8]
                    + "15",
                },
            )
        key, token = create_key(session, "demo", "write")
        out.append(f"demo API key {key.id} (write scope, shown once): {token}")
    else:
        out.append(
            "the demo's API key was shown when the demo was created; make another with "
            "`afftrack keys create --name me --scope write` (`afftrack keys list` lists them)"
        )
    out.append(f"campaign {campaign.name} ({campaign.slug}), id {campaign.id}")
    partnerships = session.scalars(
        select(Partnership).where(Partnership.campaign_id == campaign.id).order_by(Partnership.id)
    ).all()
    for p in partnerships:
        links = session.scalars(select(Link).where(Link.partnership_id == p.id)).all()
        codes = session.scalars(select(PromoCode).where(PromoCode.partnership_id == p.id)).all()
        for link in links:
            out.append(
                f"  {p.influencer.handle:<12} {settings.public_url}/r/{link.code}"
                f"  ({link.platform})  promo code: {', '.join(c.code for c in codes)}"
            )
    return out
