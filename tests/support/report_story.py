"""A campaign whose report is worked out by hand: three partners, one with activity.

Campaign "ranked" (EUR, 10 % commission). Anna has an Instagram link with three clicks
(two unique, one repeat) and a bot's on 2 October, and three orders that day: one
through her first click (EUR 40.00), one with her promo code ANNA10 (EUR 100.00), one by
UTM (EUR 25.00). Ben has nothing. Cleo has a TikTok link nobody clicked. So: clicks 3,
unique clicks 2, conversions 3 (one per method), conversion rate 1 / 2 = 0.5000 (all
three orders over the unique clicks would read 150 %), revenue EUR 165.00, commission
EUR 16.50. Orders go in by signed webhook, clicks by ``insert_clicks`` (the worker's
write).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from service.clicks.partitions import insert_clicks
from tests.support.app import Api
from tests.support.clicks import stored_click


def order(api: Api, order_id: str, amount: str, **attribution: Any) -> None:
    body = {
        "type": "order",
        "order_id": order_id,
        "occurred_at": "2026-10-02T12:00:00Z",
        "currency": "EUR",
        "subtotal": amount,
        "total": amount,
        **attribution,
    }
    r = api.webhook(body)
    assert r.status_code == 200, r.json


def story(api: Api) -> dict[str, Any]:
    campaign = api.create_campaign("ranked")
    people = {handle: api.create_influencer(handle) for handle in ("anna", "ben", "cleo")}
    for person in people.values():
        api.add_partner(campaign["id"], person["id"])
    anna_link = api.create_link(campaign["id"], people["anna"]["id"], platform="instagram")
    cleo_link = api.create_link(campaign["id"], people["cleo"]["id"], platform="tiktok")
    api.create_promo_code(campaign["id"], people["anna"]["id"], "ANNA10")
    at = datetime(2026, 10, 2, 11, 50, tzinfo=UTC)
    link_id = anna_link["id"]
    with api.app.extensions["afftrack"].db.session() as session:
        insert_clicks(
            session,
            [
                stored_click("rk-1", link_id, at),
                stored_click("rk-2", link_id, at),
                stored_click("rk-3", link_id, at, unique=False),
                stored_click("rk-bot", link_id, at, bot=True),
            ],
        )
    order(api, "rk-click", "40.00", landing_url="https://shop.example/p?aff_click=rk-1")
    order(api, "rk-code", "100.00", promo_codes=["ANNA10"])
    order(
        api,
        "rk-utm",
        "25.00",
        landing_url="https://shop.example/p?utm_campaign=ranked&utm_content=anna",
    )
    return {"campaign": campaign, "people": people, "links": (anna_link, cleo_link)}
