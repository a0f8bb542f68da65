"""Two influencers of one campaign, as their portals see them: anna and ben partner in
"autumn" (10 % of each order, 14 days' hold), ben also in "solo". Each has a link, a
promo code, a post, clicks and orders. September is closed paying both; anna's
September order is then refunded in full, so October (closed too) nets negative for her
and carries that balance forward; an October order of hers is rejected, another is
still pending. Built through the management API and the webhooks; the clicks are
written to the database as the worker writes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.clicks.partitions import insert_clicks
from tests.support.app import Api
from tests.support.clicks import stored_click

FROZEN_AT = pytest.mark.frozen_at("2026-09-01T09:00:00Z")
NOW = "2026-11-02T09:00:00Z"  # where the story leaves the clock
REJECT_REASON = "the order was a test purchase"


@dataclass
class Person:
    id: str
    link_id: str
    code_id: str
    post_id: str
    line_ids: list[str] = field(default_factory=list)
    clicks: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Story:
    campaign_id: str
    solo_id: str
    anna: Person
    ben: Person
    rejected_line_id: str


def db(api: Api) -> Any:
    return api.app.extensions["afftrack"].db


def settings(api: Api) -> Any:
    return api.app.extensions["afftrack"].settings


def _order(api: Api, frozen: Any, order_id: str, at: str, subtotal: str, code: str) -> None:
    frozen.set(at)
    body = {
        "type": "order",
        "order_id": order_id,
        "occurred_at": at,
        "currency": "EUR",
        "subtotal": subtotal,
        "promo_codes": [code],
        "customer_id": f"cust-{order_id}",
        "landing_url": "https://shop.example/?secret=customer",
    }
    r = api.webhook(body)
    assert r.status_code in (200, 201), r.json


def _clicks(link_id: str, tag: str, start: datetime) -> list[dict[str, Any]]:
    """Clicks over three UTC days around midnight: people (unique and repeat), QR scans
    and bots."""
    rows = []
    for n in range(24):
        at = start + timedelta(hours=5 * n, minutes=7)
        rows.append(
            stored_click(
                f"clk_{tag}_{n:020d}",
                link_id,
                at,
                bot=n % 5 == 0,
                unique=n % 3 != 0,
                source="qr" if n % 4 == 1 else "link",
            )
        )
    return rows


def _person(api: Api, handle: str, campaign_id: str, code: str, followers: int) -> Person:
    who = api.create_influencer(handle, followers=followers)
    api.add_partner(campaign_id, who["id"])
    link = api.create_link(campaign_id, who["id"])
    promo = api.create_promo_code(campaign_id, who["id"], code)
    r = api.post(
        "/api/v1/deliverables",
        {
            "campaign_id": campaign_id,
            "influencer_id": who["id"],
            "platform": "instagram",
            "url": f"https://instagram.example/p/{handle}",
            "posted_at": "2026-09-02T12:00:00Z",
            "metrics": {"impressions": 9000, "reach": 7000, "likes": 100, "comments": 50},
        },
    )
    assert r.status_code == 201, r.json
    return Person(who["id"], link["id"], promo["id"], r.json["id"])


def build(api: Api, frozen: Any) -> Story:
    campaign = api.create_campaign("autumn", hold_days=14)
    anna = _person(api, "anna", campaign["id"], "ANNA15", followers=5000)
    ben = _person(api, "ben", campaign["id"], "BEN10", followers=20000)
    solo = api.create_campaign("solo", hold_days=14)
    api.add_partner(solo["id"], ben.id)
    api.create_link(solo["id"], ben.id)

    anna.clicks = _clicks(anna.link_id, "anna", datetime(2026, 9, 3, 1, 0, tzinfo=UTC))
    ben.clicks = _clicks(ben.link_id, "ben", datetime(2026, 9, 3, 2, 0, tzinfo=UTC))
    with db(api).session() as session:
        insert_clicks(session, anna.clicks + ben.clicks)

    _order(api, frozen, "A-100001", "2026-09-05T10:00:00Z", "100.00", "ANNA15")
    _order(api, frozen, "B-200001", "2026-09-05T11:00:00Z", "200.00", "BEN10")
    frozen.set("2026-10-01T08:00:00Z")
    r = api.post("/api/v1/exports/commissions/2026-09/close")
    assert r.status_code == 200, r.json

    # anna's paid September order comes back in full: clawed back in October.
    frozen.set("2026-10-02T10:00:00Z")
    refund = {
        "type": "refund",
        "order_id": "A-100001",
        "refund_id": "r-1",
        "occurred_at": "2026-10-02T10:00:00Z",
        "amount": "100.00",
    }
    assert api.webhook(refund).json["status"] == "applied"
    _order(api, frozen, "A-100002", "2026-10-10T10:00:00Z", "50.00", "ANNA15")
    _order(api, frozen, "B-200002", "2026-10-10T11:00:00Z", "80.00", "BEN10")
    lines = api.get(f"/api/v1/commissions?influencer_id={anna.id}&limit=200").json["items"]
    rejected = next(line for line in lines if line["amount"] == "5.00")
    r = api.post(f"/api/v1/commissions/{rejected['id']}/reject", {"reason": REJECT_REASON})
    assert r.status_code == 200, r.json
    _order(api, frozen, "A-100003", "2026-10-20T10:00:00Z", "30.00", "ANNA15")  # due 3 Nov
    frozen.set("2026-11-01T08:00:00Z")
    r = api.post("/api/v1/exports/commissions/2026-10/close")
    assert r.status_code == 200, r.json
    frozen.set(NOW)
    for person in (anna, ben):
        items = api.get(f"/api/v1/commissions?influencer_id={person.id}&limit=200").json["items"]
        # The zero-sum record of a rejection is no line of theirs: the rejected line
        # carries its reason.
        person.line_ids = [
            line["id"]
            for line in items
            if not (line["kind"] == "adjustment" and line["reverses_line_id"] == rejected["id"])
        ]
    return Story(campaign["id"], solo["id"], anna, ben, rejected["id"])
