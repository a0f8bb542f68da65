"""Setting a campaign's objectives through the API: created, listed with the goal's
suggested KPIs, changed and deleted; a bad objective is refused with the field named and
nothing changes. On PostgreSQL and SQLite."""

from __future__ import annotations

from typing import Any

import pytest

from service.audit.service import entries_for
from tests.support.app import Api

pytestmark = pytest.mark.frozen_at("2026-10-01T09:00:00Z")


def objectives_of(api: Api, campaign: dict) -> Any:
    r = api.get(f"/api/v1/campaigns/{campaign['id']}/objectives")
    assert r.status_code == 200, r.json
    return r.json


def test_an_objective_is_set_listed_changed_and_deleted(api: Api) -> None:
    campaign = api.create_campaign("autumn", starts_on="2026-10-01")
    base = f"/api/v1/campaigns/{campaign['id']}/objectives"
    r = api.post(base, {"kpi": "revenue", "target": "10000.00", "deadline": "2026-10-31"})
    assert r.status_code == 201, r.json
    made = r.json
    assert made["id"].startswith("obj_")
    assert (made["kpi"], made["target"], made["starts_on"], made["deadline"]) == (
        "revenue",
        "10000.00",
        "2026-10-01",  # the campaign's first day
        "2026-10-31",
    )
    assert (made["scope"], made["influencer_id"]) == ("campaign", None)

    listed = objectives_of(api, campaign)
    assert [o["id"] for o in listed["items"]] == [made["id"]]
    # A conversions campaign: its goal suggests these KPIs.
    assert listed["suggested_kpis"] == ["conversions", "revenue", "roi", "cost_per_acquisition"]

    r = api.patch(f"{base}/{made['id']}", {"target": "12000.5", "deadline": "2026-11-15"})
    assert r.status_code == 200, r.json
    assert (r.json["target"], r.json["deadline"]) == ("12000.50", "2026-11-15")
    # A new KPI keeps the figure when it fits: 12000.50 is no count.
    r = api.patch(f"{base}/{made['id']}", {"kpi": "clicks"})
    assert r.status_code == 422
    assert "target" in r.json["error"]["fields"]
    r = api.patch(f"{base}/{made['id']}", {"kpi": "clicks", "target": 5000})
    assert r.status_code == 200, r.json
    assert (r.json["kpi"], r.json["target"]) == ("clicks", 5000)

    r = api.client.delete(f"{base}/{made['id']}", headers=api.headers(api.write_key))
    assert r.status_code == 204
    assert objectives_of(api, campaign)["items"] == []
    r = api.client.delete(f"{base}/{made['id']}", headers=api.headers(api.write_key))
    assert r.status_code == 404

    # Each change is in the campaign's history, by the key that made it.
    with api.app.extensions["afftrack"].db.session() as session:
        entries = entries_for(session, "campaign", campaign["id"])
        trail = [(e.kind, e.action) for e in entries if e.kind == "objective"]
        target = next(
            e.changes["target"] for e in entries if e.action == "created" and e.kind == "objective"
        )
    # (the clock is frozen: the entries share their time, so their order is not told)
    assert sorted(trail) == [
        ("objective", "changed"),
        ("objective", "changed"),
        ("objective", "created"),
        ("objective", "deleted"),
    ]
    assert target == [None, 1_000_000]  # stored in cents


def test_a_target_follows_the_unit_of_its_kpi_and_the_campaigns_currency(api: Api) -> None:
    campaign = api.create_campaign("yen", currency="JPY", goal="awareness")
    base = f"/api/v1/campaigns/{campaign['id']}/objectives"
    for kpi, target, shown in (
        ("reach", 250000, 250000),
        ("reach", "250000", 250000),
        ("revenue", "500000", "500000"),
        ("conversion_rate", "0.025", "0.0250"),
        ("roi", "-0.5", "-0.5000"),
        ("cost_per_click", "12", "12"),
    ):
        r = api.post(base, {"kpi": kpi, "target": target, "deadline": "2026-12-31"})
        assert r.status_code == 201, (kpi, r.json)
        assert r.json["target"] == shown
    assert objectives_of(api, campaign)["suggested_kpis"] == ["reach", "impressions", "media_value"]


def test_an_objective_per_influencer_names_a_partner_or_none(api: Api) -> None:
    campaign = api.create_campaign("autumn")
    anna = api.create_influencer("anna")
    api.add_partner(campaign["id"], anna["id"])
    base = f"/api/v1/campaigns/{campaign['id']}/objectives"
    body = {"kpi": "conversions", "target": 20, "deadline": "2026-10-31", "scope": "influencer"}
    r = api.post(base, {**body, "influencer_id": anna["id"]})
    assert r.status_code == 201, r.json
    assert r.json["influencer_id"] == anna["id"]
    r = api.post(base, body)  # each partner
    assert r.status_code == 201, r.json
    assert r.json["influencer_id"] is None


def test_a_partner_with_an_objective_of_their_own_is_not_removed(api: Api) -> None:
    """Removing anna would leave her objective judging someone outside the campaign:
    refused (409, nothing changed) until the objective goes."""
    campaign = api.create_campaign("autumn")
    anna = api.create_influencer("anna")
    api.add_partner(campaign["id"], anna["id"])
    base = f"/api/v1/campaigns/{campaign['id']}/objectives"
    body = {"kpi": "conversions", "target": 20, "deadline": "2026-10-31", "scope": "influencer"}
    made = api.post(base, {**body, "influencer_id": anna["id"]}).json
    partner = f"/api/v1/campaigns/{campaign['id']}/partners/{anna['id']}"
    r = api.client.delete(partner, headers=api.headers(api.write_key))
    assert r.status_code == 409, r.json
    assert r.json["error"]["code"] == "in_use"
    assert "1 objective is set for them" in r.json["error"]["message"]
    listed = api.get(f"/api/v1/campaigns/{campaign['id']}/partners").json["items"]
    assert [p["influencer_id"] for p in listed] == [anna["id"]]
    assert [o["id"] for o in objectives_of(api, campaign)["items"]] == [made["id"]]

    r = api.client.delete(f"{base}/{made['id']}", headers=api.headers(api.write_key))
    assert r.status_code == 204
    r = api.client.delete(partner, headers=api.headers(api.write_key))
    assert r.status_code == 204, r.text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kpi": "likes"}, "kpi"),
        ({"target": "12.345"}, "target"),  # EUR has 2 decimals
        ({"kpi": "clicks", "target": "10.5"}, "target"),  # no fraction of a click
        ({"kpi": "conversion_rate", "target": "0.12345"}, "target"),  # 4 decimals at most
        ({"target": "-5.00"}, "target"),  # only ROI may be negative
        ({"target": "lots"}, "target"),
        ({"target": True}, "target"),
        ({"deadline": "2026-09-30"}, "deadline"),  # before the campaign's start
        ({"starts_on": "2026-10-10", "deadline": "2026-10-09"}, "deadline"),
        ({"deadline": "1999-12-31"}, "deadline"),
        ({"deadline": None}, "deadline"),
        ({"scope": "team"}, "scope"),
        ({"influencer_id": "inf_nobody"}, "influencer_id"),  # scope campaign
        ({"scope": "influencer", "influencer_id": "inf_nobody"}, "influencer_id"),
    ],
)
def test_a_bad_objective_is_refused_and_nothing_changes(
    api: Api, change: dict[str, Any], field: str
) -> None:
    campaign = api.create_campaign("autumn", starts_on="2026-10-01")
    stranger = api.create_influencer("stranger")  # not a partner
    if change.get("influencer_id") == "inf_nobody" and change.get("scope"):
        change = {**change, "influencer_id": stranger["id"]}
    base = f"/api/v1/campaigns/{campaign['id']}/objectives"
    good = {"kpi": "revenue", "target": "100.00", "deadline": "2026-10-31"}
    r = api.post(base, {**good, **change})
    assert r.status_code == 422, r.json
    assert field in r.json["error"]["fields"], r.json
    assert api.rows("objectives") == 0

    made = api.post(base, good).json
    r = api.patch(f"{base}/{made['id']}", change)
    assert r.status_code == 422, r.json
    assert field in r.json["error"]["fields"], r.json
    assert objectives_of(api, campaign)["items"] == [made]


def test_objectives_of_an_unknown_campaign_or_another_campaign_are_not_found(api: Api) -> None:
    one = api.create_campaign("one")
    two = api.create_campaign("two")
    made = api.post(
        f"/api/v1/campaigns/{one['id']}/objectives",
        {"kpi": "clicks", "target": 10, "deadline": "2026-10-31"},
    ).json
    assert api.get("/api/v1/campaigns/cmp_nothing/objectives").status_code == 404
    r = api.patch(f"/api/v1/campaigns/{two['id']}/objectives/{made['id']}", {"target": 5})
    assert r.status_code == 404
    r = api.post(
        "/api/v1/campaigns/cmp_nothing/objectives",
        {"kpi": "clicks", "target": 10, "deadline": "2026-10-31"},
    )
    assert r.status_code == 404


def test_a_read_key_cannot_set_objectives(api: Api) -> None:
    campaign = api.create_campaign("autumn")
    r = api.post(
        f"/api/v1/campaigns/{campaign['id']}/objectives",
        {"kpi": "clicks", "target": 10, "deadline": "2026-10-31"},
        key="read",
    )
    assert r.status_code == 403
    assert api.rows("objectives") == 0
