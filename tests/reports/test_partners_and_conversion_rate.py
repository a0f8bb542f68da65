"""The campaign report lists every partner (and every link and platform of the
campaign) with zeros where nothing happened, and its conversion rate counts the orders
the clicks brought over the unique clicks, with promo-code and UTM orders beside it
(``conversions_by_method``). On PostgreSQL and SQLite; expected values worked by hand.

The story (tests/support/report_story.py): three partners, Anna with every kind of
order, Ben with nothing, Cleo with a link nobody clicked.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.app import Api
from tests.support.report_story import story

pytestmark = pytest.mark.frozen_at("2026-10-08T09:00:00Z")

RANGE = "from=2026-10-01&to=2026-10-31"
ZERO_BY_METHOD = {"click": 0, "promo_code": 0, "utm": 0}


def report(api: Api, campaign: dict, group_by: str) -> dict:
    r = api.get(f"/api/v1/reports/campaigns/{campaign['id']}?{RANGE}&group_by={group_by}")
    assert r.status_code == 200, r.json
    return dict(r.json)


def attributed(api: Api) -> dict[str, str]:
    r = api.get("/api/v1/conversions")
    return {c["order_id"]: c["attribution"]["method"] for c in r.json["items"]}


def test_every_partner_is_ranked_the_quiet_ones_with_zeros(api: Api) -> None:
    world = story(api)
    assert attributed(api) == {"rk-click": "click", "rk-code": "promo_code", "rk-utm": "utm"}
    people = world["people"]
    data = report(api, world["campaign"], "influencer")
    rows = {row["key"]: row for row in data["rows"]}
    assert set(rows) == {people[h]["id"] for h in ("anna", "ben", "cleo")}

    anna = rows[people["anna"]["id"]]
    assert (anna["clicks"], anna["unique_clicks"], anna["bot_clicks"]) == (3, 2, 1)
    assert anna["conversions"] == 3
    assert anna["conversions_by_method"] == {"click": 1, "promo_code": 1, "utm": 1}
    # One order through a click over two unique clicks (counting all three would say
    # 3 / 2 = 150 %).
    assert anna["conversion_rate"] == "0.5000"
    assert anna["money"]["EUR"]["revenue"] == "165.00"
    assert anna["money"]["EUR"]["commission"] == "16.50"

    for handle in ("ben", "cleo"):
        quiet = rows[people[handle]["id"]]
        assert quiet["influencer"]["handle"] == handle
        assert quiet["influencer"]["followers"] == {"instagram": 5000}
        assert (quiet["clicks"], quiet["unique_clicks"], quiet["conversions"]) == (0, 0, 0)
        assert quiet["conversions_by_method"] == ZERO_BY_METHOD
        assert quiet["conversion_rate"] is None  # no unique clicks: no rate
        assert quiet["money"] == {}
        assert (quiet["deliverables"], quiet["posts"]) == (0, [])

    totals = data["totals"]
    assert (totals["clicks"], totals["unique_clicks"], totals["conversions"]) == (3, 2, 3)
    assert totals["conversions_by_method"] == {"click": 1, "promo_code": 1, "utm": 1}
    assert totals["conversion_rate"] == "0.5000"
    assert totals["money"]["EUR"]["revenue"] == "165.00"


@pytest.mark.parametrize("group_by", ["influencer", "link", "platform", "day"])
def test_the_rows_sum_to_the_totals(api: Api, group_by: str) -> None:
    world = story(api)
    data = report(api, world["campaign"], group_by)
    totals = data["totals"]
    for name in ("clicks", "unique_clicks", "bot_clicks", "qr_scans", "conversions"):
        assert sum(row[name] for row in data["rows"]) == totals[name], name
    for method, n in totals["conversions_by_method"].items():
        assert sum(row["conversions_by_method"][method] for row in data["rows"]) == n, method
    revenue = sum(
        int(row["money"]["EUR"]["revenue"].replace(".", ""))
        for row in data["rows"]
        if "EUR" in row["money"]
    )
    assert revenue == 16_500


def test_every_link_and_platform_has_its_row(api: Api) -> None:
    world = story(api)
    anna_link, cleo_link = world["links"]
    by_link = {row["key"]: row for row in report(api, world["campaign"], "link")["rows"]}
    # Promo-code and UTM orders have no link: the row without a key.
    assert set(by_link) == {anna_link["id"], cleo_link["id"], None}
    assert by_link[anna_link["id"]]["conversions_by_method"] == {
        "click": 1,
        "promo_code": 0,
        "utm": 0,
    }
    assert by_link[anna_link["id"]]["conversion_rate"] == "0.5000"
    cleo = by_link[cleo_link["id"]]
    assert (cleo["clicks"], cleo["conversions"], cleo["conversion_rate"]) == (0, 0, None)
    assert cleo["conversions_by_method"] == ZERO_BY_METHOD
    linkless = by_link[None]
    assert (linkless["clicks"], linkless["conversions"]) == (0, 2)
    assert linkless["conversions_by_method"] == {"click": 0, "promo_code": 1, "utm": 1}
    assert linkless["conversion_rate"] is None

    by_platform = {row["key"]: row for row in report(api, world["campaign"], "platform")["rows"]}
    assert set(by_platform) == {"instagram", "tiktok", None}
    assert by_platform["tiktok"]["clicks"] == 0
    assert by_platform["instagram"]["conversion_rate"] == "0.5000"

    # Days stay those with something in them.
    assert [row["key"] for row in report(api, world["campaign"], "day")["rows"]] == ["2026-10-02"]


def test_a_cancelled_order_leaves_its_methods_count(api: Api) -> None:
    world = story(api)
    r = api.webhook(
        {"type": "cancel", "order_id": "rk-click", "occurred_at": "2026-10-03T10:00:00Z"}
    )
    assert r.status_code == 200, r.json
    totals = report(api, world["campaign"], "influencer")["totals"]
    assert totals["conversions"] == 2
    assert totals["conversions_by_method"] == {"click": 0, "promo_code": 1, "utm": 1}
    assert totals["conversion_rate"] == "0.0000"  # two unique clicks, no order through them


def test_the_partner_list_costs_the_same_whatever_the_partners(
    api: Api, count_queries: Any
) -> None:
    world = story(api)
    campaign = world["campaign"]
    with count_queries(api.app) as few:
        report(api, campaign, "influencer")
    for n in range(12):
        api.add_partner(campaign["id"], api.create_influencer(f"quiet{n}")["id"])
    with count_queries(api.app) as many:
        rows = report(api, campaign, "influencer")["rows"]
    assert len(rows) == 15
    assert len(many.statements) == len(few.statements)
