"""A campaign's page leads with its objectives' cards; the objective form sets, changes
and deletes one through the API's schemas (refusals next to their inputs, nothing saved),
with the goal's suggested KPIs first, and only with a write key. Through the Flask client,
on PostgreSQL and SQLite."""

from __future__ import annotations

import re

import pytest

from tests.support.app import Api
from tests.support.dashboard_session import csrf, field_errors, log_in

pytestmark = pytest.mark.frozen_at("2026-10-11T12:00:00Z")


def test_the_campaign_page_leads_with_the_objective_cards(api: Api) -> None:
    campaign = api.create_campaign("autumn", starts_on="2026-10-01")
    r = api.post(
        f"/api/v1/campaigns/{campaign['id']}/objectives",
        {"kpi": "revenue", "target": "900.00", "deadline": "2026-10-31"},
    )
    assert r.status_code == 201, r.json
    log_in(api, "read")
    page = api.client.get(f"/dashboard/campaigns/{campaign['id']}")
    assert page.status_code == 200
    html = page.text
    assert html.index('id="objectives"') < html.index('id="kpis"')  # first of the figures
    card = html.split(f'data-objective-id="{r.json["id"]}"', 1)[1].split("</article>", 1)[0]
    # Nothing yet; 10 of 30 days gone: pace 900.00 x 10 / 30 = 300.00; behind.
    assert '<span data-field="actual">0.00</span>' in card
    assert '<span data-field="target">900.00</span>' in card
    assert '<dd data-field="pace">300.00</dd>' in card
    assert 'data-status="behind"' in card
    assert "Change or delete" not in card  # a read key changes nothing
    assert 'id="add-objective"' not in html


def test_the_form_sets_changes_and_deletes_an_objective(api: Api) -> None:
    campaign = api.create_campaign("autumn", starts_on="2026-10-01", goal="traffic")
    log_in(api, "write")
    form = api.client.get(f"/dashboard/campaigns/{campaign['id']}/objectives/new")
    assert form.status_code == 200
    kpis = re.findall(r'<option value="([a-z_]+)"', form.text.split('id="f-kpi"', 1)[1])
    assert kpis[:2] == ["clicks", "ctr"]  # the traffic goal's suggestions first
    base = f"/dashboard/campaigns/{campaign['id']}/objectives"
    good = {
        "csrf": csrf(form.text),
        "kpi": "clicks",
        "target": "5000",
        "starts_on": "",
        "deadline": "2026-10-31",
        "scope": "campaign",
        "influencer_id": "",
    }

    refused = api.client.post(base, data={**good, "target": "12.5", "deadline": "2026-09-01"})
    assert refused.status_code == 422
    # No fraction of a click, and no deadline before the campaign's first day.
    assert set(field_errors(refused.text)) == {"target", "deadline"}
    assert 'value="12.5"' in refused.text  # what was typed stays
    assert api.rows("objectives") == 0

    r = api.client.post(base, data=good)
    assert r.status_code == 303
    made = api.get(f"/api/v1/campaigns/{campaign['id']}/objectives").json["items"]
    assert [(o["kpi"], o["target"], o["starts_on"]) for o in made] == [
        ("clicks", 5000, "2026-10-01")
    ]
    page = f"{base}/{made[0]['id']}"
    edit = api.client.get(page)
    assert 'value="5000"' in edit.text
    r = api.client.post(page, data={**good, "csrf": csrf(edit.text), "target": "6000"})
    assert r.status_code == 303
    assert (
        api.get(f"/api/v1/campaigns/{campaign['id']}/objectives").json["items"][0]["target"] == 6000
    )

    r = api.client.post(f"{page}/delete", data={"csrf": csrf(edit.text)})
    assert r.status_code == 303
    assert api.rows("objectives") == 0


def test_a_read_key_cannot_set_an_objective(api: Api) -> None:
    campaign = api.create_campaign("autumn")
    log_in(api, "read")
    form = api.client.get(f"/dashboard/campaigns/{campaign['id']}/objectives/new")
    r = api.client.post(
        f"/dashboard/campaigns/{campaign['id']}/objectives",
        data={"csrf": csrf(form.text), "kpi": "clicks", "target": "5", "deadline": "2026-10-31"},
    )
    assert r.status_code == 403
    assert api.rows("objectives") == 0
