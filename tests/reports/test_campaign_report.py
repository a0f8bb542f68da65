"""The campaign report per influencer: who they are (tier, followers per
platform), their posts in the range with each post's engagement rate ((likes +
comments) / followers of that platform), and impressions and reach summed from the
posts' metrics. Expected values are worked out here with exact fractions."""

from __future__ import annotations

from fractions import Fraction

from tests.support.app import Api


def rate(numerator: int, denominator: int) -> str:
    """4 places, half-even, written out by hand."""
    value = Fraction(numerator, denominator) * 10_000
    scaled = round(value)  # Python rounds a Fraction half-even
    return f"{scaled // 10_000}.{scaled % 10_000:04d}"


def post(api: Api, campaign: dict, person: dict, platform: str, day: str, **metrics: int) -> str:
    body = {
        "campaign_id": campaign["id"],
        "influencer_id": person["id"],
        "platform": platform,
        "url": f"https://{platform}.example/p/{person['handle']}-{day}",
        "posted_at": f"2026-10-{day}T12:00:00Z",
        "metrics": metrics,
    }
    r = api.post("/api/v1/deliverables", body)
    assert r.status_code == 201, r.json
    return str(r.json["id"])


def a_campaign_with_posts(api: Api) -> tuple[dict, dict, dict, dict[str, str]]:
    campaign = api.create_campaign("autumn")
    anna = api.create_influencer(
        "anna",
        platforms=[
            {"platform": "instagram", "handle": "anna", "followers": 12_000},
            {"platform": "tiktok", "handle": "anna.tt", "followers": 80_000},
        ],
    )
    ben = api.create_influencer("ben", followers=500)
    for person in (anna, ben):
        api.add_partner(campaign["id"], person["id"])
    ids = {
        "anna_ig": post(
            api,
            campaign,
            anna,
            "instagram",
            "05",
            likes=300,
            comments=60,
            impressions=20_000,
            reach=15_000,
        ),
        "anna_tt": post(
            api,
            campaign,
            anna,
            "tiktok",
            "06",
            likes=4_000,
            impressions=100_000,
            reach=70_000,
            shares=12,
        ),
        "anna_yt": post(
            api, campaign, anna, "youtube", "07", likes=50, comments=5, impressions=900, reach=800
        ),  # no youtube account: no rate
        "ben_ig": post(
            api, campaign, ben, "instagram", "08", likes=10, comments=5, impressions=700, reach=650
        ),
        "ben_old": post(
            api,
            campaign,
            ben,
            "instagram",
            "01",
            likes=999,
            comments=999,
            impressions=99_999,
            reach=99_999,
        ),  # before the range
    }
    return campaign, anna, ben, ids


def report(api: Api, campaign: dict, query: str) -> dict:
    r = api.get(f"/api/v1/reports/campaigns/{campaign['id']}?{query}")
    assert r.status_code == 200, r.json
    return dict(r.json)


def test_influencer_rows_carry_profile_posts_engagement_and_reach(api: Api) -> None:
    campaign, anna, ben, ids = a_campaign_with_posts(api)
    data = report(api, campaign, "from=2026-10-02&to=2026-10-31&group_by=influencer")
    rows = {row["key"]: row for row in data["rows"]}
    assert set(rows) == {anna["id"], ben["id"]}  # in the report by their posts alone

    a = rows[anna["id"]]
    assert a["influencer"] == {
        "handle": "anna",
        "name": "Anna",
        "tier": "micro",  # the largest account, 80,000
        "followers": {"instagram": 12_000, "tiktok": 80_000},
    }
    posts = {p["id"]: p for p in a["posts"]}
    assert list(posts) == [ids["anna_ig"], ids["anna_tt"], ids["anna_yt"]]  # by posting time
    assert posts[ids["anna_ig"]]["engagement_rate"] == rate(300 + 60, 12_000) == "0.0300"
    assert posts[ids["anna_tt"]]["engagement_rate"] == rate(4_000, 80_000) == "0.0500"
    assert posts[ids["anna_yt"]]["engagement_rate"] is None
    assert posts[ids["anna_yt"]]["followers"] is None
    assert posts[ids["anna_ig"]]["followers"] == 12_000
    assert posts[ids["anna_tt"]]["shares"] == 12 and posts[ids["anna_ig"]]["shares"] == 0
    assert (a["deliverables"], a["impressions"], a["reach"]) == (3, 120_900, 85_800)
    # The mean over the posts with a known rate: (0.03 + 0.05) / 2.
    assert a["engagement_rate"] == "0.0400"

    b = rows[ben["id"]]
    assert b["influencer"]["tier"] == "emerging"
    assert [p["id"] for p in b["posts"]] == [ids["ben_ig"]]  # the 1 October post is outside
    assert b["engagement_rate"] == rate(15, 500)
    assert (b["deliverables"], b["impressions"], b["reach"]) == (1, 700, 650)
    assert b["clicks"] == 0 and b["money"] == {}

    totals = data["totals"]
    assert (totals["deliverables"], totals["impressions"], totals["reach"]) == (4, 121_600, 86_450)


def test_other_groupings_keep_reach_in_the_totals_only(api: Api) -> None:
    campaign, _anna, _ben, _ids = a_campaign_with_posts(api)
    data = report(api, campaign, "from=2026-10-01&to=2026-10-31&group_by=day")
    assert all("posts" not in row and "influencer" not in row for row in data["rows"])
    totals = data["totals"]
    assert (totals["deliverables"], totals["impressions"], totals["reach"]) == (5, 221_599, 186_449)


def test_a_range_without_posts_has_no_reach(api: Api) -> None:
    campaign, anna, ben, _ids = a_campaign_with_posts(api)
    data = report(api, campaign, "from=2026-11-01&to=2026-11-30&group_by=influencer")
    # Both partners are still listed, with nothing in the range.
    assert {row["key"] for row in data["rows"]} == {anna["id"], ben["id"]}
    for row in data["rows"]:
        assert (row["deliverables"], row["impressions"], row["reach"], row["posts"]) == (
            0,
            0,
            0,
            [],
        )
        assert row["engagement_rate"] is None
    assert (data["totals"]["deliverables"], data["totals"]["impressions"]) == (0, 0)


def test_metrics_as_large_as_the_api_accepts_are_summed_exactly(api: Api) -> None:
    """Metrics go up to 10^13 (the deliverables schema): past 32 bits, no overflow."""
    campaign = api.create_campaign("bigreach")
    star = api.create_influencer("bigstar", followers=900_000_000)
    api.add_partner(campaign["id"], star["id"])
    huge = 10**13
    for day in ("05", "06"):
        post(api, campaign, star, "instagram", day, impressions=huge, reach=huge - 1, likes=huge)
    for group_by in ("influencer", "day"):
        data = report(api, campaign, f"from=2026-10-01&to=2026-10-31&group_by={group_by}")
        totals = data["totals"]
        assert (totals["impressions"], totals["reach"]) == (2 * huge, 2 * (huge - 1))
    (row,) = report(api, campaign, "from=2026-10-01&to=2026-10-31&group_by=influencer")["rows"]
    assert [p["likes"] for p in row["posts"]] == [huge, huge]
    assert row["posts"][0]["engagement_rate"] == rate(huge, 900_000_000)
