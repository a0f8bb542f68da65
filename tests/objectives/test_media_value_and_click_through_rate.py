"""Media value and click-through-rate objectives, from the campaign's posts as the campaign
report counts them, for the campaign and per partner; a campaign whose currency has no
rates has no media value, and says why. Every expected value is worked out by hand in the
comments (docs/objectives.md "Media value"). On PostgreSQL and SQLite.

The story: campaign "autumn" (EUR, its own media-value rates for Instagram and TikTok)
from 1 October. anna posts on Instagram on 5 October, naming her tracked link; ben posts
on TikTok on 8 October, naming none. anna's link gets 30 clicks (and 3 bots) on 5 October
and 12 on 9 October. Today is 11 October, 12:00 UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from service.clicks.partitions import insert_clicks
from tests.support.app import Api
from tests.support.clicks import stored_click
from tests.support.media_value import EUR_RATES, record_post
from tests.support.objectives import progress, set_objective, shown

pytestmark = pytest.mark.frozen_at("2026-10-11T12:00:00Z")


def clicks(api: Api, link_id: str, day: int, n: int, bot: bool = False) -> None:
    rows = [
        stored_click(f"clk_{day:02d}{bot:d}{i:03d}", link_id, at, bot=bot)
        for i in range(n)
        for at in [datetime(2026, 10, day, 10, i, tzinfo=UTC)]
    ]
    with api.app.extensions["afftrack"].db.session() as session:
        insert_clicks(session, rows)


@pytest.fixture
def autumn(api: Api) -> dict[str, Any]:
    campaign = api.create_campaign(
        "autumn", goal="awareness", starts_on="2026-10-01", media_value_rates=EUR_RATES
    )
    anna, ben = api.create_influencer("anna"), api.create_influencer("ben")
    for person in (anna, ben):
        api.add_partner(campaign["id"], person["id"])
    link = api.create_link(campaign["id"], anna["id"])
    metrics = {"impressions": 20_004, "likes": 300, "comments": 60, "shares": 10, "saves": 25}
    record_post(api, campaign, anna, "instagram", 5, link_id=link["id"], metrics=metrics)
    record_post(
        api,
        campaign,
        ben,
        "tiktok",
        8,
        metrics={"impressions": 100_201, "likes": 4_000, "shares": 12},
    )
    clicks(api, link["id"], 5, 30)
    clicks(api, link["id"], 5, 3, bot=True)  # bots: never counted
    clicks(api, link["id"], 9, 12)
    return {"campaign": campaign, "anna": anna, "ben": ben, "link": link}


def partners(o: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(p["handle"], *shown(p)) for p in o["partners"]]


def test_media_value_sums_each_posts_value_at_the_campaigns_rates(
    api: Api, autumn: dict[str, Any]
) -> None:
    campaign = autumn["campaign"]
    whole = set_objective(api, campaign, kpi="media_value", target="1000.00")
    each = set_objective(api, campaign, kpi="media_value", target="300.00", scope="influencer")
    found = progress(api, campaign)

    # anna's Instagram post, in cents: 20,004 x 600 / 1,000 = 12,002.4; 300 likes x 20 =
    # 6,000; 60 comments x 100 = 6,000; 10 shares x 50 = 500; 25 saves x 40 = 1,000:
    # 25,502.4 -> 25,502 (255.02 EUR), rounded once for the post.
    # ben's TikTok post: 100,201 x 250 / 1,000 = 25,050.25; 4,000 likes x 1 = 4,000;
    # 12 shares x 25 = 300: 29,350.25 -> 29,350 (293.50 EUR).
    # The campaign: 25,502 + 29,350 = 54,852 (548.52 EUR; rounding the unrounded sum,
    # 54,852.65, would say 548.53). 54.852 % of 1,000.00 -> 54.9. Pace 100,000 x 10 / 30
    # = 33,333.3 -> 333.33: on track. The last 7 complete days (4 to 10 October) brought
    # 54,852, 20 days are left: forecast (54,852 x 7 + 54,852 x 20) / 7 = 211,572 exactly.
    o = found[whole]
    assert shown(o) == ("548.52", "54.9", "333.33", "2115.72", "on_track")
    assert o["reason"] is None
    assert o["forecast_method"] == (
        "actual + the mean of the last 7 complete days times 20 days left"
    )

    # As the campaign report counts it over the same days.
    r = api.get(
        f"/api/v1/reports/campaigns/{campaign['id']}?from=2026-10-01&to=2026-10-11"
        "&group_by=influencer"
    )
    assert r.json["totals"]["media_value"] == "548.52"

    # Each partner, 300.00 by 31 October: pace 30,000 x 10 / 30 = 100.00.
    # anna: 255.02, 85.006 % -> 85.0; forecast 25,502 x 27 / 7 = 98,364.86 -> 983.65.
    # ben: 293.50, 97.833 % -> 97.8; forecast 29,350 x 27 / 7 = 113,207.14 -> 1,132.07.
    o = found[each]
    assert (o["actual"], o["pace"], o["status"], o["partners_below_pace"]) == (
        None,
        "100.00",
        "on_track",
        0,
    )
    assert partners(o) == [
        ("anna", "255.02", "85.0", "100.00", "983.65", "on_track"),
        ("ben", "293.50", "97.8", "100.00", "1132.07", "on_track"),
    ]


def test_media_value_for_one_partner_counts_their_posts_only(
    api: Api, autumn: dict[str, Any]
) -> None:
    campaign, ben = autumn["campaign"], autumn["ben"]
    bens = set_objective(
        api,
        campaign,
        kpi="media_value",
        target="290.00",
        scope="influencer",
        influencer_id=ben["id"],
    )
    # ben's 293.50 meets 290.00: achieved, a total, as soon as it is met.
    o = progress(api, campaign)[bens]
    assert shown(o) == ("293.50", "101.2", "96.67", "1132.07", "achieved")
    assert partners(o) == [("ben", *shown(o))]


def test_click_through_rate_is_the_linked_posts_clicks_over_their_impressions(
    api: Api, autumn: dict[str, Any]
) -> None:
    campaign, anna, link = autumn["campaign"], autumn["anna"], autumn["link"]
    # A second post of anna's names the same link (YouTube: no rates, no media value).
    record_post(api, campaign, anna, "youtube", 9, link_id=link["id"], metrics={"impressions": 996})
    whole = set_objective(api, campaign, kpi="ctr", target="0.0010")
    later = set_objective(api, campaign, kpi="ctr", target="0.0010", starts_on="2026-10-07")
    each = set_objective(api, campaign, kpi="ctr", target="0.0010", scope="influencer")
    value = set_objective(api, campaign, kpi="media_value", target="1000.00")
    found = progress(api, campaign)

    # The link counts once for the two posts naming it: 30 + 12 non-bot clicks = 42, over
    # the impressions of the posts naming a link, 20,004 + 996 = 21,000 (ben's post names
    # none): 0.0020, 200.0 % of 0.0010. A rate's pace is its target: on track.
    assert shown(found[whole]) == ("0.0020", "200.0", "0.0010", "0.0020", "on_track")
    # From 7 October: the YouTube post only (996 impressions) and the link's clicks of 7
    # to 11 October (12): 12 / 996 = 0.012048 -> 0.0120.
    assert shown(found[later]) == ("0.0120", "1200.0", "0.0010", "0.0120", "on_track")
    # Per partner: ben names no link, so has no rate yet (behind); anna's is the campaign's.
    assert partners(found[each]) == [
        ("ben", None, None, "0.0010", None, "behind"),
        ("anna", "0.0020", "200.0", "0.0010", "0.0020", "on_track"),
    ]
    # The YouTube post has no rates: the media value stays the two other posts'.
    assert found[value]["actual"] == "548.52"


def test_a_currency_without_rates_has_no_media_value_and_says_why(api: Api) -> None:
    campaign = api.create_campaign("yen", currency="JPY", starts_on="2026-10-01")
    anna = api.create_influencer("anna")
    api.add_partner(campaign["id"], anna["id"])
    record_post(api, campaign, anna, "instagram", 5, metrics={"impressions": 50_000, "likes": 900})
    whole = set_objective(api, campaign, kpi="media_value", target="100000")
    each = set_objective(api, campaign, kpi="media_value", target="50000", scope="influencer")
    found = progress(api, campaign)

    o = found[whole]
    assert (o["actual"], o["percent_reached"], o["forecast"], o["status"]) == (
        None,
        None,
        None,
        None,
    )
    assert o["reason"] == (
        "media value needs rates in the campaign's currency: JPY has no default rates "
        "(they are in USD); set the campaign's media-value rates"
    )
    o = found[each]
    assert (o["actual"], o["status"], o["reason"]) == (None, None, found[whole]["reason"])
    assert [(p["handle"], p["actual"], p["status"]) for p in o["partners"]] == [
        ("anna", None, None)
    ]


def test_an_empty_rate_table_has_no_media_value_and_says_why(api: Api) -> None:
    """Rates of its own that price no platform: the report shows no media value, so the
    objective is not judged on a zero either."""
    campaign = api.create_campaign("usd", currency="USD", starts_on="2026-10-01")
    anna = api.create_influencer("anna")
    api.add_partner(campaign["id"], anna["id"])
    r = api.patch(f"/api/v1/campaigns/{campaign['id']}", {"media_value_rates": {}})
    assert r.status_code == 200, r.json
    record_post(api, campaign, anna, "instagram", 5, metrics={"impressions": 50_000, "likes": 900})
    whole = set_objective(api, campaign, kpi="media_value", target="1000.00")
    o = progress(api, campaign)[whole]
    assert (o["actual"], o["status"]) == (None, None)
    assert o["reason"] == (
        "the campaign's media-value rates price no platform; set them for its platforms"
    )
    report = api.get(
        f"/api/v1/reports/campaigns/{campaign['id']}?from=2026-10-01&to=2026-10-31"
    ).json["totals"]
    assert report["media_value"] is None
