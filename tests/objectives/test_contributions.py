"""Each partner's contribution to each objective in the objectives report: for a total of
the whole campaign their own value and share of the campaign's, for a rate their own
value, for a per-influencer objective their own progress and whether they are below
target; the biggest contribution first, no value last. Worked by hand in the comments;
on PostgreSQL and SQLite.

The story (tests/support/contributions.py): anna, ben and cara are partners of "autumn"
from 1 October; on 5 October ben's link gets 6 clicks, cara's 3, anna's none. Today is
11 October: 10 of the 30 days from 1 to 31 October have passed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.app import Api
from tests.support.contributions import three_partners
from tests.support.objectives import set_objective

pytestmark = pytest.mark.frozen_at("2026-10-11T12:00:00Z")


def report(api: Api, campaign: dict[str, Any]) -> dict[str, dict[str, Any]]:
    r = api.get(f"/api/v1/reports/campaigns/{campaign['id']}/objectives?contributions=true")
    assert r.status_code == 200, r.json
    return {o["id"]: o for o in r.json["objectives"]}


def table(o: dict[str, Any], *fields: str) -> list[tuple[Any, ...]]:
    return [(c["handle"], *(c[f] for f in fields)) for c in o["contributions"]]


def test_a_campaign_total_gives_each_partner_a_share(api: Api) -> None:
    world = three_partners(api)
    campaign = world["campaign"]
    clicks = set_objective(api, campaign, kpi="clicks", target=100)
    o = report(api, campaign)[clicks]
    # 9 clicks in all: ben 6 / 9 = 66.666… → 66.7 %, cara 3 / 9 = 33.333… → 33.3 %,
    # anna 0 → 0.0 %; the biggest first.
    assert o["actual"] == 9
    assert table(o, "actual", "share", "below_target") == [
        ("ben", 6, "66.7", False),
        ("cara", 3, "33.3", False),
        ("anna", 0, "0.0", False),
    ]
    assert o["contributions"][0]["influencer_id"] == world["ben"]["id"]
    assert o["partners"] is None  # as before: no per-partner progress for the whole campaign


def test_a_campaign_with_nothing_yet_has_no_shares(api: Api) -> None:
    campaign = three_partners(api)["campaign"]
    revenue = set_objective(api, campaign, kpi="revenue", target="100.00")
    o = report(api, campaign)[revenue]
    # No revenue at all: nothing to take a share of; ties by handle.
    assert table(o, "actual", "share") == [
        ("anna", "0.00", None),
        ("ben", "0.00", None),
        ("cara", "0.00", None),
    ]


def test_a_rate_gives_each_partner_their_own_value(api: Api) -> None:
    campaign = three_partners(api)["campaign"]
    rate = set_objective(api, campaign, kpi="conversion_rate", target="0.05")
    o = report(api, campaign)[rate]
    # No orders: ben 0 / 6 and cara 0 / 3 unique clicks are 0.0000; anna has no click to
    # divide by: no value, last. A rate is no share of the campaign's.
    assert table(o, "actual", "share") == [
        ("ben", "0.0000", None),
        ("cara", "0.0000", None),
        ("anna", None, None),
    ]


def test_a_per_influencer_objective_gives_each_partner_their_progress(api: Api) -> None:
    world = three_partners(api)
    campaign = world["campaign"]
    each = set_objective(api, campaign, kpi="clicks", target=12, scope="influencer")
    mine = set_objective(
        api, campaign, kpi="clicks", target=2, scope="influencer", influencer_id=world["cara"]["id"]
    )
    found = report(api, campaign)
    # 12 clicks each by 31 October: pace 12 x 10 / 30 = 4. ben 6 (50.0 %) is on track;
    # cara 3 (25.0 %) and anna 0 are below it.
    assert table(found[each], "actual", "percent_reached", "status", "below_target", "share") == [
        ("ben", 6, "50.0", "on_track", False, None),
        ("cara", 3, "25.0", "behind", True, None),
        ("anna", 0, "0.0", "behind", True, None),
    ]
    # An objective for cara alone is hers only: 3 of 2 clicks, achieved.
    assert table(found[mine], "actual", "status", "below_target") == [
        ("cara", 3, "achieved", False)
    ]


def test_after_the_deadline_below_target_means_missed(api: Api, frozen: Any) -> None:
    campaign = three_partners(api)["campaign"]
    each = set_objective(
        api, campaign, kpi="clicks", target=4, scope="influencer", deadline="2026-10-08"
    )
    frozen.set("2026-10-20T09:00:00Z")
    # By 8 October: ben 6 and cara 3 of 4 each; cara and anna missed.
    assert table(report(api, campaign)[each], "status", "below_target") == [
        ("ben", "achieved", False),
        ("cara", "missed", True),
        ("anna", "missed", True),
    ]


def test_the_contributions_take_no_query_per_partner(api: Api, count_queries: Any) -> None:
    campaign = three_partners(api)["campaign"]
    set_objective(api, campaign, kpi="clicks", target=100)
    set_objective(api, campaign, kpi="clicks", target=12, scope="influencer")
    with count_queries(api.app) as few:
        report(api, campaign)
    for n in range(5):
        api.add_partner(campaign["id"], api.create_influencer(f"quiet{n}")["id"])
    with count_queries(api.app) as many:
        found = report(api, campaign)
    assert all(len(o["contributions"]) == 8 for o in found.values())
    assert len(many.statements) == len(few.statements)


def test_contributions_come_when_asked_for(api: Api) -> None:
    """Without ``?contributions=true`` every objective's ``contributions`` is null (a
    thousand partners times every objective is most of the answer); a bad value is a 422."""
    world = three_partners(api)
    campaign = world["campaign"]
    made = set_objective(api, campaign, kpi="clicks", target=9)
    base = f"/api/v1/reports/campaigns/{campaign['id']}/objectives"
    plain = api.get(base)
    assert plain.status_code == 200, plain.json
    [shown] = plain.json["objectives"]
    assert (shown["id"], shown["contributions"], shown["actual"]) == (made, None, 9)
    asked = report(api, campaign)[made]
    assert [c["actual"] for c in asked["contributions"]] == [6, 3, 0]
    bad = api.get(f"{base}?contributions=maybe")
    assert bad.status_code == 422
    assert "contributions" in bad.json["error"]["fields"]
