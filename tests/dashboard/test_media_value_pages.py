"""Media value in the dashboard: the campaign settings' rates form (prefilled with the
rates that apply, refusals beside their inputs and nothing saved, reset to the
defaults), the campaign page's media value, value per cost, CTR per post and costs per
result with what each means, and a post's tracked link (only the influencer's links in
the campaign). On PostgreSQL and SQLite, through the Flask client."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reports.test_media_value_report import EUR_RATES, eur_campaign
from tests.support.app import Api
from tests.support.dashboard_session import csrf, field_errors, log_in

pytestmark = pytest.mark.frozen_at("2026-10-20T09:00:00Z")


def settings_page(api: Api, campaign: dict) -> Any:
    page = api.client.get(f"/dashboard/campaigns/{campaign['id']}/settings")
    assert page.status_code == 200
    return page


def send_rates(api: Api, campaign: dict, **fields: str) -> Any:
    page = settings_page(api, campaign)
    return api.client.post(
        f"/dashboard/campaigns/{campaign['id']}/media-value-rates",
        data={"csrf": csrf(page.text), **fields},
    )


def rate_inputs(platform: str, rates: dict[str, str]) -> dict[str, str]:
    return {f"media_value_rates-{platform}-{metric}": value for metric, value in rates.items()}


def test_the_rates_form_shows_the_defaults_then_saves_and_resets(api: Api) -> None:
    campaign = api.create_campaign("fall", currency="USD")
    log_in(api, "write")
    page = settings_page(api, campaign).text
    assert 'name="media_value_rates-instagram-impressions" value="5.00"' in page
    assert "illustrative defaults" in page and "not revenue" in page

    r = send_rates(api, campaign, action="save", **rate_inputs("tiktok", EUR_RATES["tiktok"]))
    assert r.status_code == 303
    shown = api.get(f"/api/v1/campaigns/{campaign['id']}").json
    assert shown["media_value_rates"] == {"tiktok": EUR_RATES["tiktok"]}
    page = settings_page(api, campaign).text
    assert 'name="media_value_rates-tiktok-impressions" value="2.50"' in page
    assert 'name="media_value_rates-instagram-impressions" value=""' in page
    assert "the campaign&#39;s own rates" in page or "campaign's own rates" in page

    r = send_rates(api, campaign, action="reset")
    assert r.status_code == 303
    assert api.get(f"/api/v1/campaigns/{campaign['id']}").json["media_value_rates_are_defaults"]


def test_rates_that_do_not_fit_are_refused_beside_their_input(api: Api) -> None:
    campaign = api.create_campaign("autumn", media_value_rates=EUR_RATES)
    log_in(api, "write")
    typed = {
        **rate_inputs("instagram", {**EUR_RATES["instagram"], "likes": "0.205"}),
        **rate_inputs("tiktok", {**EUR_RATES["tiktok"], "saves": ""}),
    }
    r = send_rates(api, campaign, action="save", **typed)
    assert r.status_code == 422
    errors = field_errors(r.text)
    assert "media_value_rates-tiktok-saves" in errors
    assert 'value="0.205"' in r.text  # what was typed stays
    assert api.get(f"/api/v1/campaigns/{campaign['id']}").json["media_value_rates"] == EUR_RATES
    r = send_rates(api, campaign, action="save", **rate_inputs("instagram", typed_ig(EUR_RATES)))
    assert r.status_code == 422
    assert "media_value_rates-instagram-likes" in field_errors(r.text)


def typed_ig(rates: dict[str, dict[str, str]]) -> dict[str, str]:
    return {**rates["instagram"], "likes": "-1"}


def test_the_campaign_page_shows_media_value_ctr_and_costs_per_result(api: Api) -> None:
    s = eur_campaign(api)
    log_in(api)
    page = api.client.get(
        f"/dashboard/campaigns/{s['campaign']['id']}?from=2026-10-02&to=2026-10-31"
    )
    assert page.status_code == 200
    html = page.text
    assert 'data-kpi="media_value">EUR 559.20<' in html
    assert 'data-kpi="media_value_per_cost">2.7960<' in html
    assert 'data-kpi="cost_per_click" data-currency="EUR">EUR 40.00<' in html
    assert 'data-kpi="cost_per_mille" data-currency="EUR">EUR 1.64<' in html
    assert 'data-col="click_through_rate">0.02 %<' in html
    assert "A media-value estimate, not revenue" in html
    assert "the campaign's own rates" in html or "the campaign&#39;s own rates" in html


def test_a_post_names_a_link_of_its_influencer_or_is_refused_beside_the_field(api: Api) -> None:
    campaign = api.create_campaign("autumn")
    anna, ben = api.create_influencer("anna"), api.create_influencer("ben")
    for person in (anna, ben):
        api.add_partner(campaign["id"], person["id"])
    own = api.create_link(campaign["id"], anna["id"])
    bens = api.create_link(campaign["id"], ben["id"])
    log_in(api, "write")
    page = api.client.get(
        f"/dashboard/posts/new?campaign_id={campaign['id']}&influencer_id={anna['id']}"
    ).text
    assert f'value="{own["id"]}"' in page and bens["id"] not in page  # only anna's links
    body = {
        "csrf": csrf(page),
        "campaign_id": campaign["id"],
        "influencer_id": anna["id"],
        "platform": "instagram",
        "url": "https://www.instagram.com/p/C9x2kQ/",
        "posted_at": "2026-10-05T17:00",
        "action": "save",
    }
    before = api.rows("deliverables")
    r = api.client.post("/dashboard/posts", data={**body, "link_id": bens["id"]})
    assert r.status_code == 422
    assert field_errors(r.text)["link_id"] == [
        "Not one of this influencer's links in the campaign."
    ]
    assert api.rows("deliverables") == before
    r = api.client.post("/dashboard/posts", data={**body, "link_id": own["id"]})
    assert r.status_code == 303
    post_id = r.headers["Location"].rsplit("/", 1)[-1]
    assert api.get(f"/api/v1/deliverables/{post_id}").json["link_id"] == own["id"]
    post_page = api.client.get(f"/dashboard/posts/{post_id}").text
    assert f'<option value="{own["id"]}" selected>' in post_page
