"""Media value, click-through rate and costs per result in the campaign report, and the
campaign's media value rates and a post's tracked link through the API. Expected values
are worked out by hand in the comments (docs/objectives.md "Media value")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from service.clicks.partitions import insert_clicks
from tests.support.app import Api
from tests.support.clicks import stored_click
from tests.support.media_value import EUR_RATES, record_post

pytestmark = pytest.mark.frozen_at("2026-10-20T09:00:00Z")

FEE = [{"type": "per_post", "amount": "100.00"}]


def clicks(api: Api, link_id: str, day: int, n: int, bot: bool = False) -> None:
    db = api.app.extensions["afftrack"].db
    with db.session() as session:
        insert_clicks(
            session,
            [
                stored_click(f"{link_id}-{day}-{bot}-{i}", link_id, at, bot=bot)
                for i in range(n)
                for at in [datetime(2026, 10, day, 10, i, tzinfo=UTC)]
            ],
        )


def report(api: Api, campaign: dict, group_by: str = "influencer") -> dict:
    r = api.get(
        f"/api/v1/reports/campaigns/{campaign['id']}?from=2026-10-02&to=2026-10-31"
        f"&group_by={group_by}"
    )
    assert r.status_code == 200, r.json
    return dict(r.json)


def eur_campaign(api: Api) -> dict[str, Any]:
    campaign = api.create_campaign("autumn", commission_rules=FEE, media_value_rates=EUR_RATES)
    anna, ben = api.create_influencer("anna"), api.create_influencer("ben")
    for person in (anna, ben):
        api.add_partner(campaign["id"], person["id"])
    link = api.create_link(campaign["id"], anna["id"])
    r = api.post(
        "/api/v1/promo-codes",
        {"campaign_id": campaign["id"], "influencer_id": anna["id"], "code": "ANNA10"},
    )
    assert r.status_code == 201, r.json
    ids = {
        "anna_ig": record_post(
            api,
            campaign,
            anna,
            "instagram",
            5,
            link_id=link["id"],
            metrics={
                "impressions": 20_000,
                "likes": 300,
                "comments": 60,
                "shares": 10,
                "saves": 25,
            },
        ),
        "anna_tt": record_post(
            api,
            campaign,
            anna,
            "tiktok",
            6,
            metrics={"impressions": 100_001, "likes": 4_000, "shares": 12},
        ),
        "anna_yt": record_post(
            api, campaign, anna, "youtube", 7, metrics={"impressions": 900, "likes": 50}
        ),
        "ben_ig": record_post(
            api,
            campaign,
            ben,
            "instagram",
            8,
            metrics={"impressions": 700, "likes": 10, "comments": 5},
        ),
    }
    for key in ("anna_ig", "anna_tt"):  # anna's fees: 2 * 100.00 EUR, on 20 October
        assert api.post(f"/api/v1/deliverables/{ids[key]}/approve").status_code == 200
    clicks(api, link["id"], 5, 5)  # counted
    clicks(api, link["id"], 5, 3, bot=True)  # bots: not counted
    clicks(api, link["id"], 1, 7)  # before the range
    order = {
        "type": "order",
        "order_id": "A-1",
        "occurred_at": "2026-10-09T12:00:00Z",
        "currency": "EUR",
        "subtotal": "80.00",
        "promo_codes": ["anna10"],
    }
    assert api.webhook(order).status_code == 200
    return {"campaign": campaign, "anna": anna, "ben": ben, "link": link, **ids}


def test_media_value_per_post_influencer_and_campaign_with_the_campaigns_rates(api: Api) -> None:
    s = eur_campaign(api)
    data = report(api, s["campaign"])
    assert data["media_value_rates"] == "campaign"
    rows = {row["key"]: row for row in data["rows"]}
    anna, ben = rows[s["anna"]["id"]], rows[s["ben"]["id"]]
    posts = {p["id"]: p for p in anna["posts"]}
    # 20,000 * 6.00 / 1,000 = 120.00; 300 * 0.20 = 60.00; 60 * 1.00 = 60.00;
    # 10 * 0.50 = 5.00; 25 * 0.40 = 10.00 → 255.00
    assert posts[s["anna_ig"]]["media_value"] == "255.00"
    # 100,001 * 2.50 / 1,000 = 250.0025; 4,000 * 0.01 = 40.00; 12 * 0.25 = 3.00
    # → 293.0025, rounded once → 293.00
    assert posts[s["anna_tt"]]["media_value"] == "293.00"
    assert posts[s["anna_yt"]]["media_value"] is None  # youtube has no rates
    # 700 * 6.00 / 1,000 = 4.20; 10 * 0.20 = 2.00; 5 * 1.00 = 5.00 → 11.20
    assert ben["posts"][0]["media_value"] == "11.20"
    assert anna["media_value"] == "548.00"  # 255.00 + 293.00
    assert ben["media_value"] == "11.20"
    assert data["totals"]["media_value"] == "559.20"  # the rows' sum

    # Value per cost: anna's cost is her two fees, 200.00; ben has none.
    assert anna["money"]["EUR"]["cost"] == "200.00"
    assert anna["media_value_per_cost"] == "2.7400"  # 548.00 / 200.00
    assert ben["media_value_per_cost"] is None
    assert data["totals"]["media_value_per_cost"] == "2.7960"  # 559.20 / 200.00


def test_click_through_rate_of_a_post_with_a_tracked_link(api: Api) -> None:
    s = eur_campaign(api)
    data = report(api, s["campaign"])
    anna = next(row for row in data["rows"] if row["key"] == s["anna"]["id"])
    posts = {p["id"]: p for p in anna["posts"]}
    linked = posts[s["anna_ig"]]
    assert linked["link_id"] == s["link"]["id"]
    # 5 non-bot clicks in the range (3 bots and the 7 of 1 October left out) over 20,000
    # impressions: 0.00025, half-even at 4 places → 0.0002.
    assert linked["link_clicks"] == 5
    assert linked["click_through_rate"] == "0.0002"
    assert posts[s["anna_tt"]]["click_through_rate"] is None  # names no link


def test_costs_per_result_per_currency(api: Api) -> None:
    s = eur_campaign(api)
    data = report(api, s["campaign"])
    anna = next(row for row in data["rows"] if row["key"] == s["anna"]["id"])
    # anna: cost 200.00; 5 clicks; engagements 395 + 4,012 + 50 = 4,457; impressions
    # 20,000 + 100,001 + 900 = 120,901; 1 order.
    assert anna["engagements"] == 4_457
    assert anna["money"]["EUR"]["costs_per_result"] == {
        "cost_per_click": "40.00",  # 200.00 / 5
        "cost_per_engagement": "0.04",  # 200.00 / 4,457 = 0.0448…
        "cost_per_mille": "1.65",  # 200.00 * 1,000 / 120,901 = 1.654…
        "cost_per_acquisition": "200.00",  # 200.00 / 1
    }
    totals = data["totals"]
    # + ben: engagements 15, impressions 700 → 4,472 and 121,601
    assert totals["engagements"] == 4_472
    assert totals["money"]["EUR"]["costs_per_result"] == {
        "cost_per_click": "40.00",
        "cost_per_engagement": "0.04",  # 200.00 / 4,472 = 0.0447…
        "cost_per_mille": "1.64",  # 200.00 * 1,000 / 121,601 = 1.6447…
        "cost_per_acquisition": "200.00",
    }
    # Other groupings keep them in the totals.
    by_day = report(api, s["campaign"], "day")
    assert by_day["totals"]["media_value"] == "559.20"
    assert by_day["totals"]["money"] == totals["money"]
    assert all("media_value" not in row for row in by_day["rows"])


def test_a_usd_campaign_without_rates_uses_the_defaults(api: Api) -> None:
    campaign = api.create_campaign("fall", currency="USD", commission_rules=FEE)
    shown = api.get(f"/api/v1/campaigns/{campaign['id']}").json
    assert shown["media_value_rates_are_defaults"] is True
    assert shown["media_value_rates"]["instagram"] == {
        "impressions": "5.00",
        "likes": "0.10",
        "comments": "0.50",
        "shares": "0.60",
        "saves": "0.60",
    }
    cara = api.create_influencer("cara")
    api.add_partner(campaign["id"], cara["id"])
    metrics = {"impressions": 61_000, "likes": 2_900, "comments": 180, "shares": 95, "saves": 410}
    post_id = record_post(api, campaign, cara, "instagram", 5, metrics=metrics)
    api.post(f"/api/v1/deliverables/{post_id}/approve")
    data = report(api, campaign)
    assert data["media_value_rates"] == "defaults"
    # 305.00 + 290.00 + 90.00 + 57.00 + 246.00 (docs/objectives.md's worked example)
    assert data["rows"][0]["posts"][0]["media_value"] == "988.00"
    assert data["rows"][0]["media_value"] == data["totals"]["media_value"] == "988.00"
    assert data["totals"]["media_value_per_cost"] == "9.8800"  # 988.00 / 100.00


def test_a_campaign_in_another_currency_has_no_default_rates(api: Api) -> None:
    campaign = api.create_campaign("winter")  # EUR, no rates of its own
    shown = api.get(f"/api/v1/campaigns/{campaign['id']}").json
    assert shown["media_value_rates"] is None
    assert shown["media_value_rates_are_defaults"] is False
    assert report(api, campaign)["totals"]["media_value"] is None


BAD_RATES = [
    ({"myspace": EUR_RATES["instagram"]}, "media_value_rates"),
    ({"instagram": {**EUR_RATES["instagram"], "likes": "-0.10"}}, "media_value_rates"),
    ({"instagram": {**EUR_RATES["instagram"], "likes": "0.105"}}, "media_value_rates"),
    ({"instagram": {"impressions": "5.00"}}, "media_value_rates"),
    ({"instagram": {**EUR_RATES["instagram"], "likes": 0.1}}, "media_value_rates"),
    ("5.00", "media_value_rates"),
]


@pytest.mark.parametrize(("rates", "field"), BAD_RATES)
def test_rates_that_do_not_fit_are_refused_and_nothing_changes(
    api: Api, rates: Any, field: str
) -> None:
    campaign = api.create_campaign("autumn", media_value_rates=EUR_RATES)
    r = api.patch(f"/api/v1/campaigns/{campaign['id']}", {"media_value_rates": rates})
    assert r.status_code == 422, r.json
    assert any(name.startswith(field) for name in r.json["error"]["fields"]), r.json
    shown = api.get(f"/api/v1/campaigns/{campaign['id']}").json
    assert shown["media_value_rates"] == EUR_RATES
    before = api.rows("campaigns")
    body = {**_campaign_body("other"), "media_value_rates": rates}
    assert api.post("/api/v1/campaigns", body).status_code == 422
    assert api.rows("campaigns") == before


def _campaign_body(slug: str) -> dict[str, Any]:
    return {
        "name": slug,
        "slug": slug,
        "goal": "awareness",
        "kind": "paid",
        "currency": "EUR",
        "starts_on": "2026-09-01",
        "allowed_domains": ["shop.example"],
        "fallback_url": "https://shop.example/",
        "commission_rules": [],
    }


def test_rates_follow_the_currency_and_reset_to_the_defaults(api: Api) -> None:
    campaign = api.create_campaign("autumn", currency="USD", media_value_rates=EUR_RATES)
    path = f"/api/v1/campaigns/{campaign['id']}"
    assert api.get(path).json["media_value_rates_are_defaults"] is False
    # JPY has no decimals: 0.20 per like does not fit, so the currency stays.
    r = api.patch(path, {"currency": "JPY"})
    assert r.status_code == 422
    assert [name.split(".")[0] for name in r.json["error"]["fields"]] == ["media_value_rates"]
    assert api.get(path).json["currency"] == "USD"
    r = api.patch(path, {"media_value_rates": {"tiktok": EUR_RATES["tiktok"]}})
    assert r.status_code == 200 and r.json["media_value_rates"] == {"tiktok": EUR_RATES["tiktok"]}
    r = api.patch(path, {"media_value_rates": None})  # back to the defaults
    assert r.json["media_value_rates_are_defaults"] is True
    assert r.json["media_value_rates"]["instagram"]["impressions"] == "5.00"
    # Rates of 0 and as many decimals as the currency has are fine; KWD has 3.
    kwd = api.create_campaign(
        "gulf",
        currency="KWD",
        media_value_rates={"blog": {**EUR_RATES["instagram"], "likes": "0.125", "saves": "0"}},
    )
    assert kwd["media_value_rates"]["blog"]["likes"] == "0.125"
    assert kwd["media_value_rates"]["blog"]["saves"] == "0.000"


def test_a_post_names_only_a_link_of_its_own_influencer_in_the_campaign(api: Api) -> None:
    campaign, other = api.create_campaign("autumn"), api.create_campaign("spring")
    anna, ben = api.create_influencer("anna"), api.create_influencer("ben")
    for c in (campaign, other):
        for person in (anna, ben):
            api.add_partner(c["id"], person["id"])
    own = api.create_link(campaign["id"], anna["id"])
    bens = api.create_link(campaign["id"], ben["id"])
    elsewhere = api.create_link(other["id"], anna["id"])
    before = api.rows("deliverables")
    for link in (bens, elsewhere, {"id": "lnk_nope"}):
        body = {
            "campaign_id": campaign["id"],
            "influencer_id": anna["id"],
            "platform": "instagram",
            "url": "https://instagram.example/p/1",
            "posted_at": "2026-10-05T12:00:00Z",
            "link_id": link["id"],
        }
        r = api.post("/api/v1/deliverables", body)
        assert r.status_code == 422 and "link_id" in r.json["error"]["fields"], r.json
    assert api.rows("deliverables") == before
    post_id = record_post(api, campaign, anna, "instagram", 5, link_id=own["id"])
    path = f"/api/v1/deliverables/{post_id}"
    assert api.get(path).json["link_id"] == own["id"]
    r = api.patch(path, {"link_id": bens["id"]})
    assert r.status_code == 422 and "link_id" in r.json["error"]["fields"]
    assert api.get(path).json["link_id"] == own["id"]
    r = api.patch(path, {"link_id": None})
    assert r.status_code == 200 and r.json["link_id"] is None
