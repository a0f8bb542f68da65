"""Influencers in the dashboard: list and search, create and change through forms that
take exactly what the API takes, errors shown beside their inputs with nothing saved, a
read key that sees no form and is refused on POST, and the audit list of every change
with the key that made it. On PostgreSQL and SQLite."""

from __future__ import annotations

import re

import pytest

from service import clock
from tests.support.app import Api, new_link
from tests.support.dashboard_session import csrf, field_errors, log_in


def new_form(api: Api, **values: str) -> dict[str, str]:
    page = api.client.get("/dashboard/influencers/new")
    assert page.status_code == 200
    return {"csrf": csrf(page.text), **values}


def filled(handle: str = "nora.knits", **extra: str) -> dict[str, str]:
    return {
        "handle": handle,
        "name": "Nora Knits",
        "email": "nora@example.com",
        "payout_email": "",
        "platforms": "",
        "platforms-0-platform": "instagram",
        "platforms-0-handle": "nora.knits",
        "platforms-0-followers": "12,500",
        "platforms-1-platform": "",
        "platforms-1-handle": "",
        "platforms-1-followers": "",
        **extra,
    }


def test_a_write_key_creates_an_influencer_the_api_then_shows(api: Api) -> None:
    log_in(api, "write")
    r = api.client.post("/dashboard/influencers", data=new_form(api, **filled()))
    assert r.status_code == 303, r.text
    page = api.client.get(r.headers["Location"])
    assert page.status_code == 200
    assert "Nora Knits" in page.text and "micro" in page.text

    found = api.get("/api/v1/influencers?handle=nora.knits").json["items"]
    assert len(found) == 1
    assert found[0]["platforms"] == [
        {"platform": "instagram", "handle": "nora.knits", "followers": 12500}
    ]
    assert found[0]["payout_email"] is None


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"handle": "no spaces"}, "handle", "handle"),
        ({"email": "not-an-email"}, "email", "email address"),
        ({"name": ""}, "name", "Fill this in."),
        ({"platforms-0-followers": "lots"}, "platforms-0-followers", "whole number"),
        ({"platforms-0-followers": "-5"}, "platforms-0-followers", "0"),
        ({"platforms-0-platform": "myspace"}, "platforms-0-platform", "instagram"),
    ],
)
def test_bad_input_is_shown_beside_its_field_and_nothing_is_saved(
    api: Api, change: dict[str, str], field: str, says: str
) -> None:
    log_in(api, "write")
    before = api.rows("influencers"), api.rows("audit_entries")
    r = api.client.post("/dashboard/influencers", data=new_form(api, **filled(**change)))
    assert r.status_code == 422
    errors = field_errors(r.text)
    assert field in errors, errors
    assert says.lower() in " ".join(errors[field]).lower()
    assert "Nothing was saved." in r.text
    # What was typed stays in the form.
    assert 'value="Nora Knits"' in r.text or change.get("name") == ""
    assert (api.rows("influencers"), api.rows("audit_entries")) == before


def test_a_taken_handle_is_refused_beside_the_handle(api: Api) -> None:
    api.create_influencer("nora.knits")
    log_in(api, "write")
    before = api.rows("influencers")
    r = api.client.post("/dashboard/influencers", data=new_form(api, **filled()))
    assert r.status_code == 422
    assert field_errors(r.text)["handle"] == ["Another influencer has this handle."]
    assert api.rows("influencers") == before


def test_the_same_account_twice_is_refused_and_nothing_is_saved(api: Api) -> None:
    log_in(api, "write")
    twice = filled(
        **{
            "platforms-1-platform": "instagram",
            "platforms-1-handle": "nora.knits",
            "platforms-1-followers": "3",
        }
    )
    r = api.client.post("/dashboard/influencers", data=new_form(api, **twice))
    assert r.status_code == 422
    assert "listed twice" in " ".join(field_errors(r.text)["platforms-1-handle"])
    assert api.rows("influencers") == 0


def test_changing_an_influencer_keeps_the_handle_and_records_who_did_it(api: Api) -> None:
    inf = api.create_influencer("nora.knits", followers=900)
    log_in(api, "write")
    page = api.client.get(f"/dashboard/influencers/{inf['id']}")
    assert page.status_code == 200
    form = {
        "csrf": csrf(page.text),
        "name": "Nora K.",
        "email": "nora@example.com",
        "payout_email": "pay@example.com",
        "platforms": "",
        "platforms-0-platform": "instagram",
        "platforms-0-handle": "nora.knits",
        "platforms-0-followers": "150000",
        "platforms-1-platform": "tiktok",
        "platforms-1-handle": "noraknits",
        "platforms-1-followers": "2000",
    }
    r = api.client.post(f"/dashboard/influencers/{inf['id']}", data=form)
    assert r.status_code == 303, r.text

    shown = api.get(f"/api/v1/influencers/{inf['id']}").json
    assert shown["handle"] == "nora.knits"
    assert shown["name"] == "Nora K." and shown["payout_email"] == "pay@example.com"
    assert {(p["platform"], p["followers"]) for p in shown["platforms"]} == {
        ("instagram", 150000),
        ("tiktok", 2000),
    }
    assert shown["tier"] == "macro"

    history = api.client.get(f"/dashboard/influencers/{inf['id']}").text
    audit = history.split('id="audit"', 1)[1]
    assert "influencer changed" in audit and "Nora K." in audit
    assert "platform account created" in audit and "noraknits" in audit
    # The key that made each change, by name: the API's create and this change.
    assert audit.count("test-write") >= 2


def test_emptying_every_platform_row_removes_the_accounts(api: Api) -> None:
    inf = api.create_influencer("nora.knits")
    log_in(api, "write")
    page = api.client.get(f"/dashboard/influencers/{inf['id']}")
    form = {
        "csrf": csrf(page.text),
        "name": "Nora",
        "email": "nora@example.com",
        "payout_email": "",
        "platforms": "",
        "platforms-0-platform": "",
        "platforms-0-handle": "",
        "platforms-0-followers": "",
    }
    r = api.client.post(f"/dashboard/influencers/{inf['id']}", data=form)
    assert r.status_code == 303, r.text
    assert api.get(f"/api/v1/influencers/{inf['id']}").json["platforms"] == []


def test_a_read_key_sees_no_form_and_is_refused_on_post(api: Api) -> None:
    inf = api.create_influencer("nora.knits")
    log_in(api, "read")
    listing = api.client.get("/dashboard/influencers")
    assert listing.status_code == 200 and "nora.knits" in listing.text
    assert "New influencer" not in listing.text
    page = api.client.get(f"/dashboard/influencers/{inf['id']}")
    assert page.status_code == 200
    assert 'method="post" action="/dashboard/influencers/' not in page.text
    token = csrf(page.text)  # the log-out form's

    before = api.rows("influencers"), api.rows("audit_entries")
    r = api.client.post("/dashboard/influencers", data={"csrf": token, **filled("other")})
    assert r.status_code == 403
    assert "can only read" in r.text
    r = api.client.post(
        f"/dashboard/influencers/{inf['id']}", data={"csrf": token, "name": "Changed"}
    )
    assert r.status_code == 403
    assert (api.rows("influencers"), api.rows("audit_entries")) == before
    assert api.get(f"/api/v1/influencers/{inf['id']}").json["name"] != "Changed"


def test_a_form_without_this_sessions_token_changes_nothing(api: Api) -> None:
    log_in(api, "write")
    r = api.client.post("/dashboard/influencers", data={"csrf": "forged", **filled()})
    assert r.status_code == 400
    assert api.rows("influencers") == 0


def test_the_search_finds_by_handle_name_or_email_and_takes_wildcards_literally(
    api: Api,
) -> None:
    api.create_influencer("anna.styles", name="Anna Styles")
    api.create_influencer("ben_cooks", name="Ben 100% Cooks")
    api.create_influencer("clara", email="clara@runs.example")
    log_in(api, "read")

    def listed(q: str) -> list[str]:
        html = api.client.get("/dashboard/influencers", query_string={"q": q}).text
        return re.findall(r'<tr data-influencer-id="[^"]+">\s*<td><a [^>]*>([^<]+)</a>', html)

    assert listed("STYLES") == ["anna.styles"]
    assert listed("runs.example") == ["clara"]
    assert listed("100%") == ["ben_cooks"]
    assert listed("%") == ["ben_cooks"]
    assert listed("_") == ["ben_cooks"]
    assert sorted(listed("")) == ["anna.styles", "ben_cooks", "clara"]
    assert api.get("/api/v1/influencers?q=styles").json["items"][0]["handle"] == "anna.styles"


def test_the_api_changes_an_influencer_and_leaves_unsent_fields_alone(api: Api) -> None:
    inf = api.create_influencer("nora.knits", payout_email="pay@example.com")
    r = api.patch(f"/api/v1/influencers/{inf['id']}", {"name": "Nora K."})
    assert r.status_code == 200, r.json
    assert r.json["payout_email"] == "pay@example.com"
    assert r.json["platforms"] == inf["platforms"]
    r = api.patch(f"/api/v1/influencers/{inf['id']}", {"handle": "renamed"})
    assert r.status_code == 422
    assert (
        api.patch(f"/api/v1/influencers/{inf['id']}", {"name": "x"}, key="read").status_code == 403
    )


def test_an_order_through_a_webhook_leaves_no_audit_entry(api: Api) -> None:
    """Only people's changes are audited, not the machine's work."""
    link = new_link(api)
    api.create_promo_code(link["campaign_id"], link["influencer_id"], "NORA10")
    before = api.rows("audit_entries")
    r = api.webhook(
        {
            "type": "order",
            "order_id": "o-1",
            "occurred_at": clock.now_utc().isoformat(),
            "currency": "EUR",
            "subtotal": "10.00",
            "promo_codes": ["NORA10"],
        }
    )
    assert r.status_code in (200, 201, 202), r.text
    assert api.rows("conversions") == 1
    assert api.rows("audit_entries") == before


@pytest.mark.parametrize(
    "name", ["platforms-3000000-handle", "platforms-x-handle", "platforms--1-"]
)
def test_odd_row_numbers_are_no_rows_and_draw_nothing_more(api: Api, name: str) -> None:
    """An input that is no row of the form's (a huge or non-numeric row number) is not
    drawn: the page answers the refusal at its usual size, and nothing is saved."""
    log_in(api, "write")
    r = api.client.post(
        "/dashboard/influencers", data=new_form(api, **filled(email="bad"), **{name: "a"})
    )
    assert r.status_code == 422
    assert len(r.data) < 100_000
    assert api.rows("influencers") == 0
