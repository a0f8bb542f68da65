"""A campaign with two weeks of results, for the dashboard's tests (HTML and browser).

Everything goes in through the service's own paths: the API for the campaign, people,
links, promo code and posts; ``insert_clicks`` (the worker's write, with the database's
roll-up trigger) for the clicks; signed webhooks for the orders, a refund and a cancel.
The data is drawn from a seeded generator, so it is the same on every run, and nothing
here knows what the report will say about it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from service.clicks.partitions import insert_clicks
from tests.support.app import Api
from tests.support.clicks import stored_click

START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 14
NOW = "2026-10-15T12:00:00Z"


@dataclass
class Seeded:
    campaign: dict[str, Any]
    people: dict[str, dict[str, Any]]
    links: dict[str, dict[str, Any]]


def seed_campaign(api: Api, frozen: Any, slug: str = "dash") -> Seeded:
    frozen.set(START + timedelta(hours=8))
    rng = random.Random(20261001)
    campaign = api.create_campaign(slug, name="Autumn <launch> & co", starts_on="2026-10-01")
    cid = campaign["id"]
    people = {
        "anna": api.create_influencer(
            "anna",
            platforms=[
                {"platform": "instagram", "handle": "anna", "followers": 12_000},
                {"platform": "tiktok", "handle": "anna.tt", "followers": 80_000},
            ],
        ),
        "ben": api.create_influencer(
            "ben", platforms=[{"platform": "youtube", "handle": "ben", "followers": 500}]
        ),
        "clara": api.create_influencer("clara", followers=3_000),
    }
    for person in people.values():
        api.add_partner(cid, person["id"])
    links = {
        "anna_ig": api.create_link(cid, people["anna"]["id"], platform="instagram"),
        "anna_tt": api.create_link(cid, people["anna"]["id"], platform="tiktok"),
        "ben_yt": api.create_link(cid, people["ben"]["id"], platform="youtube"),
        "clara_ig": api.create_link(cid, people["clara"]["id"], platform="instagram"),
    }
    api.create_promo_code(cid, people["anna"]["id"], "ANNA10")

    # Clicks: each link its own daily volume, some bots, some repeat visitors.
    db = api.app.extensions["afftrack"].db
    clicks: list[dict[str, Any]] = []
    volume = {"anna_ig": 40, "anna_tt": 25, "ben_yt": 12, "clara_ig": 6}
    for day in range(DAYS):
        for name, link in links.items():
            for _ in range(rng.randint(volume[name] // 2, volume[name])):
                bot = rng.random() < 0.1
                clicks.append(
                    stored_click(
                        f"clk_{len(clicks):026d}",
                        link["id"],
                        START + timedelta(days=day, seconds=rng.randrange(86_400)),
                        bot=bot,
                        unique=not bot and rng.random() < 0.8,
                        ip_hash=f"{rng.getrandbits(128):032x}",
                        source="qr" if len(clicks) % 7 == 0 else "link",  # (rng untouched)
                    )
                )
    with db.session() as session:
        insert_clicks(session, clicks)

    # Orders: some of the unique human clicks buy (attributed by the click id on the
    # landing URL), a few more come with Anna's promo code.
    buyers = [c for c in clicks if c["is_unique"] and rng.random() < 0.06]
    orders = []
    for n, c in enumerate(buyers):
        amount = rng.randrange(1_500, 25_000)
        orders.append(
            {
                "type": "order",
                "order_id": f"D{n:04d}",
                "occurred_at": (c["occurred_at"] + timedelta(minutes=20)).isoformat(),
                "currency": "EUR",
                "subtotal": f"{amount / 100:.2f}",
                "total": f"{amount / 100:.2f}",
                "landing_url": f"https://shop.example/p?aff_click={c['id']}",
            }
        )
    for n in range(5):
        amount = rng.randrange(2_000, 9_000)
        orders.append(
            {
                "type": "order",
                "order_id": f"P{n:04d}",
                "occurred_at": (START + timedelta(days=2 * n, hours=15)).isoformat(),
                "currency": "EUR",
                "subtotal": f"{amount / 100:.2f}",
                "total": f"{amount / 100:.2f}",
                "promo_codes": ["anna10"],
            }
        )
    frozen.set(NOW)
    for order in orders:
        r = api.webhook(order)
        assert r.status_code == 200 and r.json["status"] == "created", r.json
    first, second = orders[0], orders[1]
    refund = {
        "type": "refund",
        "order_id": first["order_id"],
        "refund_id": "R1",
        "occurred_at": "2026-10-12T08:00:00Z",
        "amount": "5.00",
    }
    cancel = {
        "type": "cancel",
        "order_id": second["order_id"],
        "occurred_at": "2026-10-12T09:00:00Z",
    }
    for event in (refund, cancel):
        r = api.webhook(event)
        assert r.status_code == 200 and r.json["status"] == "applied", r.json

    posts = (
        ("anna", "instagram", "03", (9_000, 7_000, 420, 31)),
        ("anna", "tiktok", "08", (30_000, 21_000, 2_400, 90)),
        ("ben", "youtube", "05", (1_200, 900, 40, 12)),
    )
    for person, platform, day, (impressions, reach, likes, comments) in posts:
        r = api.post(
            "/api/v1/deliverables",
            {
                "campaign_id": cid,
                "influencer_id": people[person]["id"],
                "platform": platform,
                "url": f"https://{platform}.example/p/{person}-{day}",
                "posted_at": f"2026-10-{day}T12:00:00Z",
                "metrics": {
                    "impressions": impressions,
                    "reach": reach,
                    "likes": likes,
                    "comments": comments,
                },
            },
        )
        assert r.status_code == 201, r.json
    return Seeded(campaign, people, links)
