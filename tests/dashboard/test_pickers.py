"""Choosing an influencer or a campaign in the dashboard: a text input that takes a
handle (a slug or a name for a campaign, or an id), resolved by the server in any case;
one that names nobody, or several, is refused beside the input and nothing changes.
No list caps what can be chosen: the 501st influencer is chosen as the first. The
suggestions' search answers the matches (handles starting with the text first), for a
logged-in session only; the ledger's filter keeps the chosen value in its URL. On
PostgreSQL and SQLite."""

from __future__ import annotations

from typing import Any

import pytest

from service.dashboard.pickers import SUGGESTIONS
from service.influencers.service import create_influencer
from tests.dashboard.test_money_pages import api_lines, shown_lines
from tests.dashboard.test_post_pages import filled, partners, record
from tests.support.app import Api
from tests.support.dashboard_session import csrf, field_errors, log_in
from tests.support.ledger_data import Ledger, seed_ledger


def many_influencers(api: Api, n: int) -> None:
    """``n`` influencers ``p0000`` … written by the domain's own operation at once."""
    with api.app.extensions["afftrack"].db.session() as s:
        for i in range(n):
            handle = f"p{i:04d}"
            create_influencer(s, {"handle": handle, "name": f"P {i}", "email": f"{handle}@x.test"})


def test_a_post_form_sent_with_a_handle_and_a_slug_records_the_post(api: Api) -> None:
    campaign, nora = partners(api)
    log_in(api, "write")
    r = record(api, campaign, nora, campaign_id="AUTUMN", influencer_id=" Nora.Knits ")
    assert r.status_code == 303, r.text
    (post,) = api.get("/api/v1/deliverables").json["items"]
    assert (post["campaign_id"], post["influencer_id"]) == (campaign["id"], nora["id"])


def test_a_campaign_is_also_found_by_its_name(api: Api) -> None:
    campaign, nora = partners(api)
    api.patch(f"/api/v1/campaigns/{campaign['id']}", {"name": "Autumn knits"})
    log_in(api, "write")
    r = record(api, campaign, nora, campaign_id="autumn KNITS", influencer_id="@nora.knits")
    assert r.status_code == 303, r.text


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        (
            {"influencer_id": "nobody"},
            "influencer_id",
            "No influencer has the handle (or id) “nobody”",
        ),
        ({"influencer_id": "nora"}, "influencer_id", "Handles that have it: nora.knits."),
        (
            {"campaign_id": "spring"},
            "campaign_id",
            "No campaign has the slug, name (or id) “spring”",
        ),
        (
            {"campaign_id": "Knits"},
            "campaign_id",
            "name of several campaigns (autumn, autumn-b)",
        ),
        ({"influencer_id": "n" * 101}, "influencer_id", "At most 100 characters"),
    ],
)
def test_a_picker_naming_nobody_or_several_is_refused_beside_it_and_nothing_is_saved(
    api: Api, change: dict[str, str], field: str, says: str
) -> None:
    campaign, nora = partners(api)
    for slug in ("autumn", "autumn-b"):
        found = api.get(f"/api/v1/campaigns?slug={slug}").json["items"]
        other = found[0] if found else api.create_campaign(slug)
        api.patch(f"/api/v1/campaigns/{other['id']}", {"name": "Knits"})
    log_in(api, "write")
    r = record(api, campaign, nora, **change)
    assert r.status_code == 422
    errors = field_errors(r.text)
    assert list(errors) == [field]
    assert says in errors[field][0]
    assert f'value="{change[field]}"' in r.text  # what was typed, to correct
    assert api.rows("deliverables") == 0


def test_the_501st_influencer_is_chosen_by_handle(api: Api) -> None:
    many_influencers(api, 501)
    campaign = api.create_campaign("autumn")
    last = api.get("/api/v1/influencers?handle=p0500").json["items"][0]
    api.add_partner(campaign["id"], last["id"])
    log_in(api, "write")
    r = record(api, campaign, last, campaign_id="autumn", influencer_id="p0500")
    assert r.status_code == 303, r.text
    assert api.get("/api/v1/deliverables").json["items"][0]["influencer_id"] == last["id"]
    # the page offers no list of every influencer
    assert "<option" not in api.client.get("/dashboard/posts/new").text.split('id="f-platform"')[0]


def test_an_adjustment_and_a_partner_are_chosen_by_handle(api: Api) -> None:
    campaign = api.create_campaign("autumn")
    nora = api.create_influencer("nora.knits")
    log_in(api, "write")
    new = f"/dashboard/campaigns/{campaign['id']}/partners/new"
    page = api.client.get(new).text
    sent = {"csrf": csrf(page), "influencer_id": "nora.knits"}
    r = api.client.post(f"/dashboard/campaigns/{campaign['id']}/partners", data=sent)
    assert r.status_code == 303, r.text
    assert api.rows("partnerships") == 1
    page = api.client.get("/dashboard/commissions/adjustments/new").text
    body = {"csrf": csrf(page), "influencer_id": "nora.knits", "campaign_id": "autumn"}
    body |= {"amount": "25.00", "currency": "EUR", "reason": "bonus"}
    r = api.client.post("/dashboard/commissions/adjustments", data=body)
    assert r.status_code == 303, r.text
    (line,) = api_lines(api, kind="adjustment")
    assert (line["influencer_id"], line["campaign_id"]) == (nora["id"], campaign["id"])

    body |= {"influencer_id": "nora"}
    r = api.client.post("/dashboard/commissions/adjustments", data=body)
    assert r.status_code == 422
    assert "nora.knits" in field_errors(r.text)["influencer_id"][0]
    assert len(api_lines(api, kind="adjustment")) == 1


def test_the_search_answers_matches_handles_starting_with_the_text_first(api: Api) -> None:
    for handle in ("zanna", "anna.travels", "bob", "annie"):
        api.create_influencer(handle)
    many_influencers(api, 30)
    api.create_campaign("autumn-26", name="Autumn knits")
    log_in(api, "read")
    found = api.client.get("/dashboard/search/influencers?q=ANN").json["items"]
    assert [i["value"] for i in found] == ["anna.travels", "annie", "zanna"]
    assert found[0]["label"] == "anna.travels (Anna.Travels)" and found[0]["id"].startswith("inf")
    assert len(api.client.get("/dashboard/search/influencers?q=p0").json["items"]) == SUGGESTIONS
    assert api.client.get("/dashboard/search/influencers?q=").json["items"] == []
    (c,) = api.client.get("/dashboard/search/campaigns?q=knit").json["items"]
    assert c["value"] == "autumn-26" and c["label"] == "Autumn knits (autumn-26, EUR)"
    assert api.client.get("/dashboard/search/influencers?q=" + "x" * 101).status_code == 422


def test_the_search_of_a_campaigns_partners_answers_its_partners_only(api: Api) -> None:
    campaign = api.create_campaign("autumn")
    anna, _annie = api.create_influencer("anna"), api.create_influencer("annie")
    api.add_partner(campaign["id"], anna["id"])
    log_in(api, "read")
    r = api.client.get(f"/dashboard/search/influencers?q=ann&partner_of={campaign['id']}")
    assert [i["value"] for i in r.json["items"]] == ["anna"]


def test_the_search_needs_a_login(api: Api) -> None:
    api.create_influencer("anna")
    r = api.client.get("/dashboard/search/influencers?q=ann")
    assert r.status_code == 302 and "/dashboard/login" in r.headers["Location"]
    assert b"anna" not in r.data
    r = api.get("/dashboard/search/influencers?q=ann")  # nor to an API key's header
    assert r.status_code == 302


@pytest.mark.frozen_at("2026-09-01T09:00:00Z")
def test_the_ledger_filter_takes_a_handle_and_a_slug_in_its_url(api: Api, frozen: Any) -> None:
    ledger: Ledger = seed_ledger(api, frozen)
    log_in(api, "read")
    page = api.client.get("/dashboard/commissions?influencer_id=BEN&campaign_id=autumn")
    assert page.status_code == 200
    wanted = api_lines(api, influencer_id=ledger.ben["id"], campaign_id=ledger.autumn["id"])
    assert wanted and shown_lines(page.text) == [x["id"] for x in wanted]
    assert 'id="f-influencer_id" name="influencer_id" type="text" value="BEN"' in page.text
    by_id = api.client.get(f"/dashboard/commissions?influencer_id={ledger.ben['id']}")
    assert 'value="ben"' in by_id.text  # an id in the URL is shown as the handle

    r = api.client.get("/dashboard/commissions?influencer_id=nobody")
    assert r.status_code == 422
    assert "No influencer has the handle" in field_errors(r.text)["influencer_id"][0]
    assert shown_lines(r.text) == []


def test_the_list_filters_take_a_handle(api: Api) -> None:
    campaign, nora = partners(api)
    api.create_link(campaign["id"], nora["id"])
    log_in(api, "read")
    for path, table in (("links", "link-list"), ("posts", None)):
        r = api.client.get(f"/dashboard/{path}?influencer_id=nora.knits&campaign_id=autumn")
        assert r.status_code == 200
        if table:
            assert f'id="{table}"' in r.text and "nora.knits" in r.text
        r = api.client.get(f"/dashboard/{path}?influencer_id=nobody")
        assert r.status_code == 422 and "influencer_id" in field_errors(r.text)


def test_a_new_links_campaign_is_chosen_by_slug(api: Api) -> None:
    campaign, _nora = partners(api)
    log_in(api, "write")
    page = api.client.get("/dashboard/links/new?campaign_id=Autumn")
    assert f'name="campaign_id" value="{campaign["id"]}"' in page.text
    page = api.client.get("/dashboard/links/new?campaign_id=nowhere")
    assert "No campaign has" in field_errors(page.text)["campaign_id"][0]


def test_a_post_is_filled_by_id_too(api: Api) -> None:
    campaign, nora = partners(api)
    log_in(api, "write")
    page = api.client.get(f"/dashboard/posts/new?influencer_id={nora['id']}")
    assert 'value="nora.knits"' in page.text
    r = api.client.post(
        "/dashboard/posts", data={"csrf": csrf(page.text), **filled(campaign, nora)}
    )
    assert r.status_code == 303
