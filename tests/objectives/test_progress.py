"""An objective's progress from the roll-ups, on a day frozen in time: actual, percent
reached, pace, forecast (and how it was made) and status, for the campaign and per
partner; an objective that has closed keeps its final status. Every expected value is
worked out by hand in the comments. On PostgreSQL and SQLite.

The story: campaign "autumn" (EUR, 10 % of each order) from 1 October; anna's link
gets 40 clicks a day from 4 to 10 October and 5 more on the 11th; anna's promo code
brings an order of 100.00 on the 5th and one of 50.00 on the 9th; ben brings nothing.
Today is 11 October, 12:00 UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.clicks.partitions import insert_clicks
from tests.support.app import Api
from tests.support.clicks import stored_click
from tests.support.objectives import progress, set_objective, shown

pytestmark = pytest.mark.frozen_at("2026-10-01T09:00:00Z")

TODAY = "2026-10-11T12:00:00Z"


def clicks_on(api: Api, link_id: str, day: int, n: int, month: int = 10) -> None:
    rows = [
        stored_click(
            f"clk_{month:02d}{day:02d}{i:020d}",
            link_id,
            datetime(2026, month, day, 8, tzinfo=UTC) + timedelta(minutes=i),
            ip_hash=f"{month:02d}{day:02d}{i:060d}",
        )
        for i in range(n)
    ]
    with api.app.extensions["afftrack"].db.session() as session:
        insert_clicks(session, rows)


def order(api: Api, frozen: Any, order_id: str, at: str, subtotal: str, **via: Any) -> None:
    """An order, by anna's promo code unless ``via`` says otherwise (a landing URL)."""
    frozen.set(at)
    body = {
        "type": "order",
        "order_id": order_id,
        "occurred_at": at,
        "currency": "EUR",
        "subtotal": subtotal,
        "total": subtotal,
        **(via or {"promo_codes": ["ANNA10"]}),
    }
    r = api.webhook(body)
    assert r.status_code == 200 and r.json["status"] == "created", r.json


@pytest.fixture
def autumn(api: Api, frozen: Any) -> dict[str, Any]:
    campaign = api.create_campaign("autumn", starts_on="2026-10-01")
    anna = api.create_influencer("anna")
    ben = api.create_influencer("ben")
    api.add_partner(campaign["id"], anna["id"])
    api.add_partner(campaign["id"], ben["id"])
    link = api.create_link(campaign["id"], anna["id"])
    api.create_promo_code(campaign["id"], anna["id"], "ANNA10")
    for day in range(4, 11):
        clicks_on(api, link["id"], day, 40)
    clicks_on(api, link["id"], 11, 5)
    order(api, frozen, "o-1", "2026-10-05T10:00:00Z", "100.00")
    order(api, frozen, "o-2", "2026-10-09T10:00:00Z", "50.00")
    frozen.set(TODAY)
    return {"campaign": campaign, "anna": anna, "ben": ben, "link": link}


def test_totals_rates_and_costs_on_a_day(api: Api, autumn: dict[str, Any]) -> None:
    campaign = autumn["campaign"]
    ids = {
        "clicks": set_objective(api, campaign, kpi="clicks", target=1000),
        "revenue": set_objective(api, campaign, kpi="revenue", target="1000.00"),
        "roi": set_objective(api, campaign, kpi="roi", target="5"),
        "cpa": set_objective(api, campaign, kpi="cost_per_acquisition", target="10.00"),
        "cpc": set_objective(api, campaign, kpi="cost_per_click", target="0.01"),
        "rate": set_objective(api, campaign, kpi="conversion_rate", target="0.01"),
        "ctr": set_objective(api, campaign, kpi="ctr", target="0.02"),
    }
    found = progress(api, campaign)

    # Clicks: 7 days x 40 + 5 today = 285 of 1,000: 28.5 %. 10 of the 30 days from
    # 1 to 31 October have passed: pace 1,000 x 10 / 30 = 333.33 -> 333. The last 7
    # complete days (4 to 10 October) brought 40 a day; 20 days are left (12 to 31):
    # forecast 285 + 40 x 20 = 1,085. 285 < 333: behind.
    clicks = found[ids["clicks"]]
    assert shown(clicks) == (285, "28.5", 333, 1085, "behind")
    assert clicks["forecast_method"] == (
        "actual + the mean of the last 7 complete days times 20 days left"
    )
    assert clicks["target"] == 1000 and clicks["partners"] is None and clicks["reason"] is None

    # Revenue: 100.00 + 50.00 = 150.00 of 1,000.00: 15.0 %. Pace 100,000 cents x 10 / 30
    # = 33,333.3 -> 333.33. The last 7 days brought 15,000 cents: forecast
    # (15,000 x 7 + 15,000 x 20) / 7 = 405,000 / 7 = 57,857.14 -> 578.57. Behind.
    assert shown(found[ids["revenue"]]) == ("150.00", "15.0", "333.33", "578.57", "behind")

    # The cost is the commission lines: 10 % of each order, 10.00 + 5.00 = 15.00.
    # ROI: (150.00 - 15.00) / 15.00 = 9 -> "9.0000", over a target of 5: 180.0 %. A rate's
    # pace is its target and its forecast its value; 9 >= 5: on track (judged at the
    # deadline only).
    roi = found[ids["roi"]]
    assert shown(roi) == ("9.0000", "180.0", "5.0000", "9.0000", "on_track")
    assert roi["forecast_method"] == "a rate or cost per result is forecast as its current value"
    # Cost per acquisition: 15.00 / 2 = 7.50 under a ceiling of 10.00: 10 / 7.5 = 133.3 %.
    assert shown(found[ids["cpa"]]) == ("7.50", "133.3", "10.00", "7.50", "on_track")
    # Cost per click: 1,500 cents / 285 clicks = 5.26 -> 0.05, over the ceiling 0.01:
    # 1 / 5 = 20.0 %: behind.
    assert shown(found[ids["cpc"]]) == ("0.05", "20.0", "0.01", "0.05", "behind")
    # Conversion rate: the orders the clicks brought / unique clicks. Both orders came by
    # anna's promo code, not through a click: 0 / 285 = 0.0000, 0.0 % of 0.0100.
    assert shown(found[ids["rate"]]) == ("0.0000", "0.0", "0.0100", "0.0000", "behind")
    # No post names a tracked link: no impressions to divide by, no click-through rate
    # yet, which is behind (a rate with no value).
    ctr = found[ids["ctr"]]
    assert shown(ctr) == (None, None, "0.0200", None, "behind")
    assert ctr["reason"] is None


def test_the_conversion_rate_counts_the_orders_the_clicks_brought(
    api: Api, autumn: dict[str, Any], frozen: Any
) -> None:
    campaign = autumn["campaign"]
    rate = set_objective(api, campaign, kpi="conversion_rate", target="0.0050")
    # An order through anna's first click of 10 October (clicked at 08:00).
    first_click = f"clk_1010{0:020d}"
    order(
        api,
        frozen,
        "o-3",
        "2026-10-10T12:00:00Z",
        "20.00",
        landing_url=f"https://shop.example/p?aff_click={first_click}",
    )
    frozen.set(TODAY)
    # 1 order through a click / 285 unique clicks = 0.00350877 -> 0.0035: 70.0 % of
    # 0.0050 (the two promo-code orders are not in it).
    assert shown(progress(api, campaign)[rate]) == ("0.0035", "70.0", "0.0050", "0.0035", "behind")

    # One more promo-code order raises the conversions, not the rate.
    order(api, frozen, "o-4", "2026-10-11T10:00:00Z", "30.00")
    frozen.set(TODAY)
    assert shown(progress(api, campaign)[rate])[0] == "0.0035"


def test_per_influencer_objectives_list_who_is_below_pace(api: Api, autumn: dict[str, Any]) -> None:
    campaign, anna, ben = autumn["campaign"], autumn["anna"], autumn["ben"]
    each = set_objective(api, campaign, kpi="conversions", target=4, scope="influencer")
    annas = set_objective(
        api, campaign, kpi="clicks", target=300, scope="influencer", influencer_id=anna["id"]
    )
    found = progress(api, campaign)

    # 4 conversions each by 31 October: pace 4 x 10 / 30 = 1.33 -> 1. anna has 2 (on
    # track; forecast (2 x 7 + 2 x 20) / 7 = 54 / 7 = 7.71 -> 8); ben has none (behind).
    o = found[each]
    assert (o["actual"], o["pace"], o["status"], o["partners_below_pace"]) == (
        None,
        1,
        "behind",  # the worst of the partners'
        1,
    )
    rows = [
        (p["handle"], p["actual"], p["pace"], p["forecast"], p["status"], p["below_pace"])
        for p in o["partners"]
    ]
    assert rows == [
        ("ben", 0, 1, 0, "behind", True),  # below pace first
        ("anna", 2, 1, 8, "on_track", False),
    ]
    assert o["partners"][0]["influencer_id"] == ben["id"]

    # anna's clicks: 285 of 300 (95.0 %), pace 300 x 10 / 30 = 100: on track.
    mine = found[annas]
    assert shown(mine) == (285, "95.0", 100, 1085, "on_track")
    assert [(p["handle"], p["below_pace"]) for p in mine["partners"]] == [("anna", False)]


def test_before_its_start_an_objective_has_nothing_yet(api: Api, autumn: dict[str, Any]) -> None:
    campaign = autumn["campaign"]
    later = set_objective(api, campaign, kpi="clicks", target=100, starts_on="2026-10-20")
    o = progress(api, campaign)[later]
    # Nothing counted yet, pace 0, no complete day to forecast from.
    assert shown(o) == (0, "0.0", 0, None, "on_track")
    assert o["forecast_method"] == "no complete day yet: no forecast"


def test_a_closed_objective_keeps_its_final_status(
    api: Api, autumn: dict[str, Any], frozen: Any
) -> None:
    campaign, link = autumn["campaign"], autumn["link"]
    # By its deadline, 8 October: 5 days x 40 = 200 clicks, short of 250.
    short = set_objective(api, campaign, kpi="clicks", target=250, deadline="2026-10-08")
    # By 8 October: 100.00 of revenue, over 80.00.
    met = set_objective(api, campaign, kpi="revenue", target="80.00", deadline="2026-10-08")
    first = progress(api, campaign)
    # Judged at the deadline: pace is the target, the forecast the final value.
    assert shown(first[short]) == (200, "80.0", 250, 200, "missed")
    assert first[short]["forecast_method"] == "the deadline has passed: the value at the deadline"
    assert shown(first[met]) == ("100.00", "125.0", "80.00", "100.00", "achieved")

    # Clicks after the deadline do not move it, however many.
    clicks_on(api, link["id"], 12, 100)
    frozen.set("2026-11-20T09:00:00Z")
    later = progress(api, campaign)
    assert shown(later[short]) == shown(first[short])
    assert shown(later[met]) == shown(first[met])


def test_an_ended_campaign_judges_its_objectives_on_its_last_day(
    api: Api, autumn: dict[str, Any], frozen: Any
) -> None:
    campaign, link = autumn["campaign"], autumn["link"]
    goal = set_objective(api, campaign, kpi="clicks", target=400, deadline="2026-10-31")
    r = api.patch(f"/api/v1/campaigns/{campaign['id']}", {"ends_on": "2026-10-11"})
    assert r.status_code == 200, r.json
    clicks_on(api, link["id"], 15, 200)  # after the campaign's end
    frozen.set("2026-10-20T09:00:00Z")
    # Closed on 11 October with 285 clicks: missed, for good.
    assert shown(progress(api, campaign)[goal]) == (
        285,
        "71.2",
        400,
        285,
        "missed",
    )  # 71.25, half-even
