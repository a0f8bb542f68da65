"""``afftrack demo``: a realistic programme, so a fresh install shows a working dashboard.

Five influencers of different tiers, two campaigns (one with tiered and per-post
commission rules, one with a percentage and a cost per click), their links and promo
codes, six weeks of clicks (bots and repeat visitors among them), orders attributed by
promo code and by click id with one refund and one cancellation, approved posts with
their figures, and the previous calendar month closed.

Everything goes through the domain services the API, the redirect and the webhooks use
— clicks through the direct writer (service/clicks/recorder.py), orders, refunds and
cancels through the intake of the generic webhook format — with the clock
(service.clock) standing at each event's moment while it is applied, so every row
carries the time it would have had.

The programme is planned from one seeded random generator and one moment, the demo's
start (the first campaign's ``created_at``), so running the demo again plans exactly
the same clicks, orders and posts, and every step of it is idempotent: a second run
changes nothing.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import clock
from service.campaigns.models import Campaign, Partnership
from service.campaigns.schemas import CampaignIn
from service.campaigns.service import add_partner, create_campaign
from service.clicks.bots import bot_reason
from service.clicks.identity import visitor_keys
from service.clicks.models import Click
from service.clicks.recorder import ClickRecord, CountedClicks, write_direct_many
from service.config import DEFAULT_PUBLIC_URL, SERVE_HOST, SERVE_PORT, Settings
from service.conversions.intake import receive_stored
from service.conversions.models import Conversion
from service.conversions.received import Delivery
from service.db import Database
from service.deliverables.models import Deliverable
from service.deliverables.schemas import DeliverableIn
from service.deliverables.service import approve, create_deliverable
from service.errors import Conflict
from service.exports.models import Export
from service.exports.service import close
from service.influencers.models import Influencer
from service.influencers.schemas import InfluencerIn
from service.influencers.service import create_influencer
from service.keys.service import create_key
from service.links.models import Link
from service.links.service import create_link
from service.objectives.schemas import ObjectiveIn
from service.objectives.service import create_objective
from service.periods import period_bounds, period_of
from service.promo_codes.models import PromoCode
from service.promo_codes.service import create_promo_code

DAYS = 45  # the demo's history: a month and a half, ending when it is first run
OBJECTIVE_DAYS = 75  # its objectives' deadline, from the first day: a month after "now"
SEED = 2026
SHOP = "shop.example.com"

# handle, name, platform accounts (platform, handle, followers): nano to mega
INFLUENCERS: tuple[tuple[str, str, tuple[tuple[str, str, int], ...]], ...] = (
    ("anna.styles", "Anna Styles",
     (("instagram", "anna.styles", 48_200), ("tiktok", "annastyles", 9_100))),
    ("ben-cooks", "Ben Cooks",
     (("tiktok", "ben-cooks", 212_000), ("youtube", "BenCooksAtHome", 35_400))),
    ("clara_runs", "Clara Runs",
     (("youtube", "clara_runs", 6_400), ("instagram", "clara.runs", 2_100))),
    ("dani.travels", "Dani Travels", (("instagram", "dani.travels", 1_250_000),)),
    ("eli.bakes", "Eli Bakes", (("pinterest", "elibakes", 830),)),
)  # fmt: skip


@dataclass(frozen=True)
class CampaignPlan:
    slug: str
    name: str
    goal: str
    kind: str
    path: str  # the shop page its links lead to
    code_suffix: str  # promo codes: the handle's letters + this (the discount they give)
    rules: list[dict[str, Any]]
    # partner handle → (the platforms of its links, human clicks a day on each link)
    partners: dict[str, tuple[tuple[str, float], ...]]
    # Its objectives: (KPI, target as typed, scope), each due 75 days after the start.
    objectives: tuple[tuple[str, str, str], ...] = ()


CAMPAIGNS = (
    CampaignPlan(
        slug="demo-winter",
        name="Demo winter glow launch",
        goal="conversions",
        kind="multichannel",
        path="/winter",
        code_suffix="15",
        rules=[
            {
                "type": "tiered_percent",
                "tiers": [
                    {"up_to": "300.00", "rate": "8"},
                    {"up_to": "1000.00", "rate": "12"},
                    {"up_to": None, "rate": "15"},
                ],
            },
            {"type": "per_post", "amount": "150.00"},
        ],
        objectives=(
            ("revenue", "12000.00", "campaign"),
            ("conversions", "20", "influencer"),
            ("reach", "600000", "campaign"),
        ),
        partners={
            "anna.styles": (("instagram", 9.0), ("tiktok", 4.0)),
            "ben-cooks": (("tiktok", 16.0),),
            "clara_runs": (("youtube", 3.5),),
            "dani.travels": (("instagram", 15.0),),
        },
    ),
    CampaignPlan(
        slug="demo-always-on",
        name="Demo always-on affiliate",
        goal="traffic",
        kind="affiliate",
        path="/bestsellers",
        code_suffix="10",
        rules=[{"type": "percent", "rate": "10"}, {"type": "cpc", "amount": "0.05"}],
        objectives=(("clicks", "900", "campaign"), ("conversion_rate", "0.03", "campaign")),
        partners={
            "ben-cooks": (("youtube", 6.0),),
            "clara_runs": (("instagram", 2.5),),
            "eli.bakes": (("pinterest", 2.0),),
        },
    ),
)

_WEBKIT = "AppleWebKit/605.1.15 (KHTML, like Gecko)"
_BLINK = "AppleWebKit/537.36 (KHTML, like Gecko)"
HUMAN_AGENTS = (  # in-app browsers of Instagram and TikTok are people, as are the rest
    f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) {_WEBKIT} Mobile/15E148"
    " Instagram 334.0.4.32.98",
    f"Mozilla/5.0 (Linux; Android 14; Pixel 8) {_BLINK} Chrome/126.0 Mobile Safari/537.36"
    " musical_ly_2023508030",
    f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) {_WEBKIT} Version/17.5"
    " Mobile/15E148 Safari/604.1",
    f"Mozilla/5.0 (Linux; Android 13; SM-S911B) {_BLINK} Chrome/125.0 Mobile Safari/537.36",
    f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_BLINK} Chrome/126.0 Safari/537.36",
    f"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) {_WEBKIT} Version/17.5 Safari/605.1.15",
)
BOT_AGENTS = (
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "WhatsApp/2.24.12.78 A",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.5.0",
)
REFERRERS = {
    "instagram": "https://l.instagram.com/",
    "tiktok": "https://www.tiktok.com/",
    "youtube": "https://www.youtube.com/",
    "pinterest": "https://www.pinterest.com/",
}
COUNTRIES = ("DE", "DE", "DE", "AT", "NL", "FR", "CH", "ES")
# Documentation address ranges: hashed like any address, never contacted.
NETWORKS = ("192.0.2", "198.51.100", "203.0.113")


def create_demo(db: Database, settings: Settings, *, new_key: bool = False) -> list[str]:
    """Create the demo programme (what is missing of it) and return the lines to print."""
    out: list[str] = []
    with db.session() as session:
        start = _start(session)
        created = start is None
    if start is None:
        # The campaigns, partners, links and codes exist from the first day of the history.
        start = _whole_minute(clock.now_utc()) - timedelta(days=DAYS)
        with clock.freeze(start), db.session() as session:
            _create_programme(session, settings, start)
    end = start + timedelta(days=DAYS)  # the demo's "now": its history ends here
    plan = _plan(db, settings, start, end)
    _write_clicks(db, plan.clicks)
    for at, step in plan.events:
        with clock.freeze(at), db.session() as session:
            step(session)
    with db.session() as session:
        if created or new_key:
            key, token = create_key(session, "demo", "write")
            out.append(f"demo API key {key.id} (write scope, shown once): {token}")
        else:
            out.append(
                "the demo's API key was shown when the demo was created; "
                "`afftrack demo --new-key` makes another (`afftrack keys list` lists them)"
            )
        out.extend(_summary(session, settings))
    return out


def _whole_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _start(session: Session) -> datetime | None:
    first = session.scalar(select(Campaign).where(Campaign.slug == CAMPAIGNS[0].slug))
    return None if first is None else _whole_minute(first.created_at.astimezone(UTC))


# --- the programme: influencers, campaigns, partners, links, codes ---------------------


def _create_programme(session: Session, settings: Settings, start: datetime) -> None:
    influencers: dict[str, Influencer] = {}
    for handle, name, accounts in INFLUENCERS:
        found = session.scalar(select(Influencer).where(Influencer.handle == handle))
        influencers[handle] = found or create_influencer(
            session,
            InfluencerIn().load(
                {
                    "handle": handle,
                    "name": name,
                    "email": f"{_letters(handle)}@example.com",
                    "payout_email": f"payouts+{_letters(handle)}@example.com",
                    "platforms": [
                        {"platform": p, "handle": h, "followers": n} for p, h, n in accounts
                    ],
                }
            ),
        )
    for plan in CAMPAIGNS:
        if session.scalar(select(Campaign.id).where(Campaign.slug == plan.slug)):
            continue
        campaign = create_campaign(
            session,
            CampaignIn().load(
                {
                    "name": plan.name,
                    "slug": plan.slug,
                    "goal": plan.goal,
                    "kind": plan.kind,
                    "currency": "EUR",
                    "starts_on": start.date().isoformat(),
                    "allowed_domains": [SHOP],
                    "fallback_url": f"https://{SHOP}/",
                    "hold_days": 14,
                    "commission_rules": plan.rules,
                }
            ),
        )
        deadline = (start + timedelta(days=OBJECTIVE_DAYS)).date().isoformat()
        for kpi, target, scope in plan.objectives:
            wanted = {"kpi": kpi, "target": target, "scope": scope, "deadline": deadline}
            create_objective(session, campaign.id, ObjectiveIn().load(wanted))
        for handle, links in plan.partners.items():
            influencer = influencers[handle]
            add_partner(session, campaign.id, {"influencer_id": influencer.id})
            for platform, _rate in links:
                create_link(
                    session,
                    settings,
                    {
                        "campaign_id": campaign.id,
                        "influencer_id": influencer.id,
                        "destination": f"https://{SHOP}{plan.path}?ref={platform}",
                        "platform": platform,
                    },
                )
            code = {"campaign_id": campaign.id, "influencer_id": influencer.id}
            try:
                create_promo_code(
                    session, {**code, "code": _letters(handle).upper()[:8] + plan.code_suffix}
                )
            except Conflict:  # the code is someone's already (an older demo's): suggest one
                create_promo_code(session, code)


def _letters(handle: str) -> str:
    return "".join(c for c in handle if c.isalnum())


# --- the history: clicks, orders, refunds, posts, the closed month ---------------------


@dataclass
class Plan:
    clicks: list[tuple[ClickRecord, tuple[str, ...]]]
    events: list[tuple[datetime, Callable[[Session], Any]]]


@dataclass(frozen=True)
class DemoLink:
    link: Link
    campaign: Campaign
    influencer: Influencer
    rate: float
    code: str


def _demo_links(session: Session) -> list[DemoLink]:
    found = []
    for plan in CAMPAIGNS:
        campaign = session.scalar(select(Campaign).where(Campaign.slug == plan.slug))
        if campaign is None:
            continue
        for handle, links in plan.partners.items():
            for platform, rate in links:
                row = session.execute(
                    select(Link, Influencer, PromoCode.code)
                    .join(Partnership, Partnership.id == Link.partnership_id)
                    .join(Influencer, Influencer.id == Partnership.influencer_id)
                    .join(PromoCode, PromoCode.partnership_id == Partnership.id)
                    .where(
                        Partnership.campaign_id == campaign.id,
                        Influencer.handle == handle,
                        Link.platform == platform,
                    )
                    .order_by(Link.id, PromoCode.id)
                    .limit(1)
                ).first()
                if row is not None:
                    found.append(DemoLink(row[0], campaign, row[1], rate, row[2]))
    return found


def _plan(db: Database, settings: Settings, start: datetime, end: datetime) -> Plan:
    rng = random.Random(SEED)  # noqa: S311 - made-up figures, the same every run
    with db.session() as session:
        links = _demo_links(session)
        for demo in links:
            demo.influencer.platforms  # noqa: B018 - loaded now, read after the session
        session.expunge_all()
    posts = _posts(links, start)
    clicks: list[tuple[ClickRecord, tuple[str, ...]]] = []
    humans: list[tuple[ClickRecord, DemoLink]] = []
    for day_index in range(DAYS + 1):
        day = (start + timedelta(days=day_index)).date()
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        weekend = day.weekday() >= 5
        for demo in links:
            # A gentle rise over the weeks, more at weekends, a burst after each post.
            boost = sum(
                3.0 / (1 + (day - p.date()).days)
                for _, d, p, _ in posts
                if d is demo and p.date() <= day
            )
            rate = demo.rate * (0.6 + 0.8 * day_index / DAYS) * (1.3 if weekend else 1.0)
            rate *= 1 + boost
            count = max(0, round(rng.gauss(rate, rate**0.5)))
            seen_today: list[tuple[str, str, str]] = []
            for _ in range(count):
                at = midnight + timedelta(seconds=_second_of_day(rng))
                if seen_today and rng.random() < 0.18:  # the same person, again
                    address, agent, country = rng.choice(seen_today)
                else:
                    address = f"{rng.choice(NETWORKS)}.{rng.randint(1, 254)}"
                    agent = rng.choice(HUMAN_AGENTS)
                    country = rng.choice(COUNTRIES)
                    seen_today.append((address, agent, country))
                clicks.append(_click(rng, settings, demo, at, address, agent, country))
            for _ in range(round(count * 0.12 + rng.random())):  # previews and crawlers
                at = midnight + timedelta(seconds=rng.randrange(86_400))
                address = f"{rng.choice(NETWORKS)}.{rng.randint(1, 254)}"
                clicks.append(_click(rng, settings, demo, at, address, rng.choice(BOT_AGENTS)))
    clicks = sorted((c for c in clicks if c[0].occurred_at < end), key=lambda c: c[0].occurred_at)
    by_link = {d.link.id: d for d in links}
    humans = [(c, by_link[c.link_id]) for c, _ in clicks if not c.is_bot]
    return Plan(clicks, _events(rng, settings, links, humans, posts, start, end))


def _second_of_day(rng: random.Random) -> int:
    """Most clicks come in the evening."""
    hour = min(23, max(0, round(rng.gauss(19, 3.5))))
    return hour * 3600 + rng.randrange(3600)


def _click(
    rng: random.Random,
    settings: Settings,
    demo: DemoLink,
    at: datetime,
    address: str,
    agent: str,
    country: str | None = None,
) -> tuple[ClickRecord, tuple[str, ...]]:
    """A click as the redirect records it (service/redirect/service.py): the same bot
    rule, the same daily address hash, and the visitor's hashes of today and yesterday."""
    reason = bot_reason(agent)
    today, yesterday, _, _ = visitor_keys(settings.ip_hash_key, address, agent, at.date())
    record = ClickRecord(
        id=base64.urlsafe_b64encode(rng.randbytes(12)).decode(),
        link_id=demo.link.id,
        occurred_at=at,
        ip_hash=today,
        user_agent=agent,
        referrer=None if reason else REFERRERS.get(demo.link.platform or ""),
        country=country,
        is_bot=reason is not None,
        bot_reason=reason,
        outcome="redirect",
    )
    return record, (today, yesterday)


def _posts(links: Sequence[DemoLink], start: datetime) -> list[tuple[str, DemoLink, datetime, int]]:
    """The approved posts: (url, link, posted at, approved how many hours later)."""
    wanted = (
        ("anna.styles", "instagram", 12, 30),
        ("ben-cooks", "tiktok", 25, 20),
        ("dani.travels", "instagram", 41, 26),
    )
    posts = []
    for handle, platform, day, hours in wanted:
        demo = next(
            (
                d
                for d in links
                if d.influencer.handle == handle
                and d.link.platform == platform
                and d.campaign.slug == CAMPAIGNS[0].slug
            ),
            None,
        )
        if demo is not None:
            at = start + timedelta(days=day, hours=9)
            posts.append((f"https://www.{platform}.com/{handle}/p/demo-{day}", demo, at, hours))
    return posts


def _events(
    rng: random.Random,
    settings: Settings,
    links: Sequence[DemoLink],
    humans: Sequence[tuple[ClickRecord, DemoLink]],
    posts: Sequence[tuple[str, DemoLink, datetime, int]],
    start: datetime,
    end: datetime,
) -> list[tuple[datetime, Callable[[Session], Any]]]:
    events: list[tuple[datetime, Callable[[Session], Any]]] = []
    orders: list[tuple[datetime, dict[str, Any]]] = []
    # Orders after a click, carrying its id back (a checkout that read aff_click) ...
    for click, _demo in humans:
        if rng.random() < 0.022:
            at = click.occurred_at + timedelta(minutes=rng.randint(3, 90))
            orders.append((at, {"click_id": click.id}))
    # ... and orders with a promo code, typed at checkout without a click.
    for _ in range(len(orders) // 2):
        demo = rng.choice(links)
        at = start + timedelta(days=1 + rng.random() * (DAYS - 1))
        orders.append((at, {"promo_codes": [demo.code]}))
    orders = sorted((o for o in orders if o[0] < end - timedelta(minutes=1)), key=lambda o: o[0])
    payloads = []
    for number, (at, attributed) in enumerate(orders, start=1001):
        subtotal = rng.randint(1990, 18900)
        discount = subtotal * 15 // 100 if "promo_codes" in attributed else 0
        payload = {
            "type": "order",
            "order_id": f"DEMO-{number}",
            "occurred_at": at.isoformat(),
            "currency": "EUR",
            "subtotal": _eur(subtotal),
            "discount": _eur(discount),
            "shipping": "4.90",
            "tax": _eur((subtotal - discount) * 19 // 100),
            "customer_id": f"demo-customer-{rng.randint(1, 400)}",
            **attributed,
        }
        payloads.append((at, payload))
        events.append((at + timedelta(seconds=2), _intake(settings, payload)))
    month = period_of(end, settings.timezone)
    month_start = period_bounds(month, settings.timezone)[0]
    before = [p for at, p in payloads if at < month_start - timedelta(days=5)]
    this_month = [p for at, p in payloads if at >= month_start and at < end - timedelta(days=1)]
    if before:  # a partial refund, in the previous month
        order = before[len(before) // 2]
        at = datetime.fromisoformat(order["occurred_at"]) + timedelta(days=3)
        refund = {
            "type": "refund",
            "order_id": order["order_id"],
            "refund_id": f"{order['order_id']}-R1",
            "occurred_at": at.isoformat(),
            "amount": "20.00",
        }
        events.append((at + timedelta(seconds=2), _intake(settings, refund)))
    if this_month:  # a cancellation, this month
        order = this_month[0]
        at = datetime.fromisoformat(order["occurred_at"]) + timedelta(hours=20)
        cancel = {"type": "cancel", "order_id": order["order_id"], "occurred_at": at.isoformat()}
        events.append((at + timedelta(seconds=2), _intake(settings, cancel)))
    for url, demo, posted_at, hours in posts:
        metrics = _metrics(rng, demo.influencer)
        events.append((posted_at + timedelta(hours=hours), _post(demo, url, posted_at, metrics)))
    # Finance closes the previous month on the morning of the 1st.
    previous = period_of(month_start - timedelta(days=1), settings.timezone)
    events.append((min(month_start + timedelta(hours=9), end), _close(previous, settings)))
    return sorted((e for e in events if e[0] <= end), key=lambda e: e[0])


def _eur(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def _intake(settings: Settings, payload: dict[str, Any]) -> Callable[[Session], Any]:
    """A delivery of the generic webhook format, through the one intake every delivery
    takes (service/conversions/intake.py), as received at the frozen clock's moment."""

    def apply(session: Session) -> Any:
        body = json.dumps(payload, separators=(",", ":")).encode()
        delivery = Delivery("generic", body, {}, payload["type"], received_at=clock.now_utc())
        return receive_stored(session, settings, delivery)

    return apply


def _metrics(rng: random.Random, influencer: Influencer) -> dict[str, int]:
    audience = max(p.followers for p in influencer.platforms)
    reach = int(audience * rng.uniform(0.18, 0.35))
    impressions = int(reach * rng.uniform(1.2, 1.6))
    likes = int(reach * rng.uniform(0.03, 0.06))
    return {
        "impressions": impressions,
        "reach": reach,
        "views": int(impressions * 0.8),
        "likes": likes,
        "comments": likes // 25,
        "shares": likes // 12,
        "saves": likes // 9,
    }


def _post(
    demo: DemoLink, url: str, posted_at: datetime, metrics: dict[str, int]
) -> Callable[[Session], Any]:
    """A post recorded and approved, as the deliverables API does (once per URL)."""

    def apply(session: Session) -> Any:
        found = session.scalar(
            select(Deliverable).where(
                Deliverable.campaign_id == demo.campaign.id, Deliverable.url == url
            )
        )
        if found is None:
            data = DeliverableIn().load(
                {
                    "campaign_id": demo.campaign.id,
                    "influencer_id": demo.influencer.id,
                    "platform": demo.link.platform,
                    "url": url,
                    "posted_at": posted_at.isoformat(),
                    "metrics": metrics,
                }
            )
            found = create_deliverable(session, data)
        return approve(session, found.id)

    return apply


def _close(period: str, settings: Settings) -> Callable[[Session], Any]:
    """Close ``period`` as finance does (service/exports/service.py), once, and only in a
    database that holds nothing but the demo: closing pays every line due."""

    def apply(session: Session) -> Any:
        if session.scalar(select(Export.id).where(Export.period == period)):
            return None
        others = session.scalar(
            select(func.count())
            .select_from(Campaign)
            .where(Campaign.slug.not_in([p.slug for p in CAMPAIGNS]))
        )
        if others:
            return None
        return close(session, period, settings.timezone)

    return apply


def _write_clicks(db: Database, clicks: Sequence[tuple[ClickRecord, tuple[str, ...]]]) -> None:
    """Through the writer the redirect uses without Redis, in time order: uniqueness is
    decided there (24 h per visitor), the daily and monthly roll-ups kept by the
    database's triggers; a click already written is left as it is."""
    known = CountedClicks()
    for first in range(0, len(clicks), 1000):
        write_direct_many(db, clicks[first : first + 1000], known=known)


# --- what is printed -------------------------------------------------------------------


def _summary(session: Session, settings: Settings) -> list[str]:
    out = []
    for plan in CAMPAIGNS:
        campaign = session.scalar(select(Campaign).where(Campaign.slug == plan.slug))
        if campaign is None:
            continue
        out.append(f"campaign {campaign.name} ({campaign.slug}), id {campaign.id}")
        for handle in plan.partners:
            partnership = session.scalar(
                select(Partnership)
                .join(Influencer, Influencer.id == Partnership.influencer_id)
                .where(Partnership.campaign_id == campaign.id, Influencer.handle == handle)
            )
            if partnership is None:
                continue
            links = session.scalars(
                select(Link).where(Link.partnership_id == partnership.id).order_by(Link.id)
            ).all()
            codes = session.scalars(
                select(PromoCode.code).where(PromoCode.partnership_id == partnership.id)
            ).all()
            planned = [platform for platform, _ in plan.partners[handle]]
            for link in sorted(links, key=lambda link: _place(planned, link.platform)):
                out.append(
                    f"  {handle:<13} {settings.public_url}/r/{link.code}"
                    f"  ({link.platform})  promo code: {', '.join(codes)}"
                )
    ids = [
        c
        for c in session.scalars(
            select(Campaign.id).where(Campaign.slug.in_([p.slug for p in CAMPAIGNS]))
        )
    ]
    clicks = session.scalar(
        select(func.count()).select_from(Click).join(Link).where(Link.campaign_id.in_(ids))
    )
    orders = session.scalar(
        select(func.count()).select_from(Conversion).where(Conversion.campaign_id.in_(ids))
    )
    closed = session.scalars(select(Export.period).order_by(Export.period)).all()
    out.append(
        f"history: {clicks} clicks and {orders} attributed orders over {DAYS} days"
        + (f"; closed month(s): {', '.join(closed)}" if closed else "")
    )
    out.extend(serve_lines(settings))
    return out


def _place(planned: list[str], platform: str | None) -> int:
    return planned.index(platform) if platform in planned else len(planned)


def serve_lines(settings: Settings) -> list[str]:
    """Where to find it: `afftrack serve` listens on its defaults, and short URLs and the
    dashboard are at AFFTRACK_PUBLIC_URL."""
    served = f"http://{SERVE_HOST}:{SERVE_PORT}"
    if settings.public_url == DEFAULT_PUBLIC_URL:
        return [
            f"next: `afftrack serve` (it serves on {served}), then open "
            f"{served}/dashboard/ and log in with a write or read API key"
        ]
    return [
        f"next: `afftrack serve` serves on {served} (`--host`/`--port` choose another "
        f"address); short URLs and the dashboard are at AFFTRACK_PUBLIC_URL, "
        f"{settings.public_url}: serve where that address reaches, then open "
        f"{settings.public_url}/dashboard/ and log in with a write or read API key"
    ]
