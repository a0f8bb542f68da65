"""Campaigns in the dashboard: created and changed through forms that take what the API
takes (commission rules by type), a preview that shows what the ledger then books,
partners enrolled, given their own rules and removed; a read key sees no form and is
refused on POST. On PostgreSQL and SQLite."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest

from tests.support.app import Api
from tests.support.dashboard_session import csrf, log_in

pytestmark = pytest.mark.frozen_at("2026-10-10T09:00:00Z")


def field_errors(html: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, text in re.findall(r'<span class="field-error" id="e-([^"]*)">([^<]*)</span>', html):
        found.setdefault(name, []).append(unescape(text))
    return found


TIERED = {
    "commission_rules-0-type": "tiered_percent",
    "commission_rules-0-tiers": "",
    "commission_rules-0-tiers-0-up_to": "1000.00",
    "commission_rules-0-tiers-0-rate": "10",
    "commission_rules-0-tiers-1-up_to": "",
    "commission_rules-0-tiers-1-rate": "15",
    "commission_rules-0-tiers-2-up_to": "",
    "commission_rules-0-tiers-2-rate": "",
    # Spare rows of other types, as the page sends them.
    "commission_rules-1-type": "percent",
    "commission_rules-1-rate": "",
    "commission_rules-2-type": "flat",
    "commission_rules-2-amount": "",
}


def filled(slug: str = "autumn", **extra: str) -> dict[str, str]:
    return {
        "name": "Autumn",
        "slug": slug,
        "goal": "conversions",
        "kind": "affiliate",
        "currency": "EUR",
        "starts_on": "2026-10-01",
        "ends_on": "",
        "allowed_domains": "shop.example",
        "fallback_url": "https://shop.example/",
        "attribution_window_days": "30",
        "hold_days": "14",
        "monthly_cap_per_influencer": "",
        "budget": "",
        "utm_medium": "influencer",
        "commission_rules": "",
        **TIERED,
        **extra,
    }


def token(api: Api, path: str = "/dashboard/campaigns/new") -> str:
    page = api.client.get(path)
    assert page.status_code == 200, page.text
    return csrf(page.text)


def create(api: Api, **extra: str) -> str:
    r = api.client.post("/dashboard/campaigns", data={"csrf": token(api), **filled(**extra)})
    assert r.status_code == 303, r.text
    return r.headers["Location"].split("/")[-2]


def test_a_write_key_creates_a_campaign_with_a_tiered_rule(api: Api) -> None:
    log_in(api, "write")
    assert "New campaign" in api.client.get("/dashboard/").text
    campaign_id = create(api)
    shown = api.get(f"/api/v1/campaigns/{campaign_id}").json
    assert shown["slug"] == "autumn" and shown["hold_days"] == 14
    assert shown["commission_rules"] == [
        {
            "type": "tiered_percent",
            "tiers": [{"up_to": "1000.00", "rate": "10"}, {"up_to": None, "rate": "15"}],
        }
    ]
    page = api.client.get(f"/dashboard/campaigns/{campaign_id}/settings")
    assert page.status_code == 200
    assert 'value="1000.00"' in page.text
    assert "campaign created" in page.text.split('id="audit"', 1)[1]
    report = api.client.get(f"/dashboard/campaigns/{campaign_id}")
    assert f"/dashboard/campaigns/{campaign_id}/settings" in report.text


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"slug": "Not A Slug"}, "slug", "lower-case"),
        ({"currency": "EURO"}, "currency", ""),
        ({"ends_on": "2026-09-01"}, "ends_on", "starts_on"),
        ({"fallback_url": "https://elsewhere.example/"}, "fallback_url", ""),
        ({"commission_rules-0-tiers-0-up_to": "1000.001"}, "commission_rules-0", "decimal"),
        ({"commission_rules-0-tiers-1-up_to": "500.00"}, "commission_rules-0-tiers-1", "increase"),
        ({"commission_rules-1-rate": "lots"}, "commission_rules-1", ""),
    ],
)
def test_bad_input_is_shown_beside_its_field_and_nothing_is_saved(
    api: Api, change: dict[str, str], field: str, says: str
) -> None:
    log_in(api, "write")
    before = api.rows("campaigns"), api.rows("audit_entries")
    r = api.client.post("/dashboard/campaigns", data={"csrf": token(api), **filled(**change)})
    assert r.status_code == 422, r.text
    errors = field_errors(r.text)
    assert field in errors, errors
    assert says.lower() in " ".join(errors[field]).lower()
    assert "Nothing was saved." in r.text
    assert (api.rows("campaigns"), api.rows("audit_entries")) == before


def test_the_preview_shows_what_the_webhook_then_books(api: Api) -> None:
    log_in(api, "write")
    form = {"csrf": token(api), **filled(), "example_order": "1,200.00", "action": "preview"}
    form["example_order"] = "1200.00"
    r = api.client.post("/dashboard/campaigns", data=form)
    assert r.status_code == 200, r.text
    earns = re.findall(r'data-earns="(-?\d+)"', r.text)
    assert earns == ["13000"]  # 10 % of 1,000 and 15 % of 200
    assert "EUR 130.00" in r.text
    assert api.rows("campaigns") == 0  # a preview saves nothing

    campaign_id = create(api)
    anna = api.create_influencer("anna")
    api.add_partner(campaign_id, anna["id"])
    api.create_promo_code(campaign_id, anna["id"], "ANNA")
    order = {
        "type": "order",
        "order_id": "P-1",
        "occurred_at": "2026-10-09T12:00:00Z",
        "currency": "EUR",
        "subtotal": "1200.00",
        "promo_codes": ["ANNA"],
    }
    assert api.webhook(order).json["status"] == "created"
    lines = api.get(f"/api/v1/commissions?influencer_id={anna['id']}").json["items"]
    assert [(x["amount"], x["currency"]) for x in lines] == [("130.00", "EUR")]


def test_changing_a_campaign_keeps_its_slug_and_its_currency_once_it_has_orders(
    api: Api,
) -> None:
    campaign = api.create_campaign("spring")
    anna = api.create_influencer("anna")
    api.add_partner(campaign["id"], anna["id"])
    api.create_promo_code(campaign["id"], anna["id"], "ANNA")
    order = {
        "type": "order",
        "order_id": "S-1",
        "occurred_at": "2026-10-09T12:00:00Z",
        "currency": "EUR",
        "subtotal": "100.00",
        "promo_codes": ["ANNA"],
    }
    assert api.webhook(order).json["status"] == "created"
    log_in(api, "write")
    path = f"/dashboard/campaigns/{campaign['id']}/settings"
    base = {
        **filled(),
        "name": "Spring sale",
        "hold_days": "7",
        "commission_rules-0-type": "percent",
        "commission_rules-0-rate": "12",
    }
    base.pop("slug")
    r = api.client.post(path, data={"csrf": token(api, path), **base, "currency": "USD"})
    assert r.status_code == 422
    assert "cannot change" in " ".join(field_errors(r.text)["currency"]).lower()
    assert api.get(f"/api/v1/campaigns/{campaign['id']}").json["currency"] == "EUR"

    # The slug is not on the change form: a slug sent anyway is not read.
    r = api.client.post(path, data={"csrf": token(api, path), **base, "slug": "renamed"})
    assert r.status_code == 303, r.text
    shown = api.get(f"/api/v1/campaigns/{campaign['id']}").json
    assert (shown["name"], shown["slug"], shown["hold_days"]) == ("Spring sale", "spring", 7)
    assert shown["commission_rules"] == [{"type": "percent", "rate": "12"}]
    # The order booked before keeps its 10 %.
    lines = api.get(f"/api/v1/commissions?influencer_id={anna['id']}").json["items"]
    assert [x["amount"] for x in lines] == ["10.00"]
    audit = api.client.get(path).text.split('id="audit"', 1)[1]
    assert "campaign changed" in audit and "Spring sale" in audit


def test_the_api_changes_a_campaign_partially(api: Api) -> None:
    campaign = api.create_campaign("spring")
    r = api.patch(f"/api/v1/campaigns/{campaign['id']}", {"budget": "900.00"})
    assert r.status_code == 200, r.json
    assert r.json["budget"] == "900.00" and r.json["name"] == "Spring"
    r = api.patch(f"/api/v1/campaigns/{campaign['id']}", {"ends_on": "2026-01-01"})
    assert r.status_code == 422 and "ends_on" in r.json["error"]["fields"]
    r = api.patch(f"/api/v1/campaigns/{campaign['id']}", {"budget": "1.001"})
    assert r.status_code == 422 and "budget" in r.json["error"]["fields"]
    r = api.patch(f"/api/v1/campaigns/{campaign['id']}", {"slug": "other"})
    assert r.status_code == 422
    r = api.patch(f"/api/v1/campaigns/{campaign['id']}", {"name": "x"}, key="read")
    assert r.status_code == 403
    assert api.get(f"/api/v1/campaigns/{campaign['id']}").json["budget"] == "900.00"


def test_enrolling_with_own_rules_changing_them_and_removing_the_partner(api: Api) -> None:
    campaign = api.create_campaign("spring")
    anna = api.create_influencer("anna")
    log_in(api, "write")
    new = f"/dashboard/campaigns/{campaign['id']}/partners/new"
    page = api.client.get(new)
    assert 'id="f-influencer_id" name="influencer_id" type="text"' in page.text
    own = {
        "own_rules": "on",
        "commission_rules": "",
        "commission_rules-0-type": "percent",
        "commission_rules-0-rate": "20",
    }
    r = api.client.post(
        f"/dashboard/campaigns/{campaign['id']}/partners",
        data={"csrf": csrf(page.text), "influencer_id": "Anna", **own},  # the handle, any case
    )
    assert r.status_code == 303, r.text
    partners = api.get(f"/api/v1/campaigns/{campaign['id']}/partners").json["items"]
    assert partners[0]["influencer_id"] == anna["id"]
    assert partners[0]["commission_rules"] == [{"type": "percent", "rate": "20"}]

    path = f"/dashboard/campaigns/{campaign['id']}/partners/{anna['id']}"
    r = api.client.post(path, data={"csrf": token(api, path), "commission_rules": ""})
    assert r.status_code == 303, r.text  # "own rules" unticked: the campaign's apply
    partners = api.get(f"/api/v1/campaigns/{campaign['id']}/partners").json["items"]
    assert partners[0]["commission_rules"] is None

    r = api.client.post(path + "/remove", data={"csrf": token(api, path)})
    assert r.status_code == 303, r.text
    assert api.get(f"/api/v1/campaigns/{campaign['id']}/partners").json["items"] == []
    audit = api.client.get(f"/dashboard/campaigns/{campaign['id']}/settings").text
    assert "partnership deleted" in audit.split('id="audit"', 1)[1]


def test_a_partner_with_a_promo_code_is_not_removed(api: Api) -> None:
    campaign = api.create_campaign("spring")
    anna = api.create_influencer("anna")
    api.add_partner(campaign["id"], anna["id"])
    api.create_promo_code(campaign["id"], anna["id"], "ANNA")
    log_in(api, "write")
    path = f"/dashboard/campaigns/{campaign['id']}/partners/{anna['id']}"
    before = api.rows("partnerships"), api.rows("audit_entries")
    r = api.client.post(path + "/remove", data={"csrf": token(api, path)})
    assert r.status_code == 409
    assert "1 promo code" in unescape(r.text) and "Pause its links" in unescape(r.text)
    r = api.client.delete(
        f"/api/v1/campaigns/{campaign['id']}/partners/{anna['id']}",
        headers=api.headers(api.make_key("write")),
    )
    assert r.status_code == 409 and r.json["error"]["code"] == "in_use"
    assert (api.rows("partnerships"), api.rows("audit_entries")) == before


def test_bad_own_rules_are_refused_beside_the_rule(api: Api) -> None:
    campaign = api.create_campaign("spring")
    anna = api.create_influencer("anna")
    log_in(api, "write")
    new = f"/dashboard/campaigns/{campaign['id']}/partners/new"
    r = api.client.post(
        f"/dashboard/campaigns/{campaign['id']}/partners",
        data={
            "csrf": token(api, new),
            "influencer_id": anna["id"],
            "own_rules": "on",
            "commission_rules-0-type": "flat",
            "commission_rules-0-amount": "0",
        },
    )
    assert r.status_code == 422
    assert "commission_rules-0-amount" in field_errors(r.text)
    assert api.rows("partnerships") == 0


def test_a_read_key_sees_no_form_and_is_refused_on_post(api: Api) -> None:
    campaign = api.create_campaign("spring")
    anna = api.create_influencer("anna")
    api.add_partner(campaign["id"], anna["id"])
    log_in(api, "read")
    assert "New campaign" not in api.client.get("/dashboard/").text
    path = f"/dashboard/campaigns/{campaign['id']}/settings"
    page = api.client.get(path)
    assert page.status_code == 200 and 'id="campaign-form"' not in page.text
    assert "10 %" in page.text.split('id="settings"', 1)[1]  # the settings, to read
    assert "Enrol an influencer" not in page.text
    t = csrf(page.text)  # the log-out form's
    before = api.rows("campaigns"), api.rows("partnerships"), api.rows("audit_entries")
    partner = f"/dashboard/campaigns/{campaign['id']}/partners/{anna['id']}"
    for url, data in [
        ("/dashboard/campaigns", filled("other")),
        (path, {"name": "Changed"}),
        (f"/dashboard/campaigns/{campaign['id']}/partners", {"influencer_id": anna["id"]}),
        (partner, {"commission_rules": ""}),
        (partner + "/remove", {}),
    ]:
        r = api.client.post(url, data={"csrf": t, **data})
        assert r.status_code == 403, url
        assert "can only read" in r.text
    after = api.rows("campaigns"), api.rows("partnerships"), api.rows("audit_entries")
    assert after == before


@pytest.mark.parametrize("path", ["/dashboard/campaigns", "settings", "partners", "remove"])
def test_a_form_without_this_sessions_token_changes_nothing(api: Api, path: str) -> None:
    campaign = api.create_campaign("spring")
    anna = api.create_influencer("anna")
    api.add_partner(campaign["id"], anna["id"])
    log_in(api, "write")
    base = f"/dashboard/campaigns/{campaign['id']}"
    url: dict[str, Any] = {
        "/dashboard/campaigns": "/dashboard/campaigns",
        "settings": base + "/settings",
        "partners": base + "/partners",
        "remove": f"{base}/partners/{anna['id']}/remove",
    }
    before = api.rows("campaigns"), api.rows("partnerships")
    r = api.client.post(url[path], data={"csrf": "forged", **filled("other")})
    assert r.status_code == 400
    assert (api.rows("campaigns"), api.rows("partnerships")) == before


@pytest.mark.parametrize(
    "name",
    ["commission_rules-x-type", "commission_rules-0-tiers-x-rate", "commission_rules-9999-type"],
)
def test_odd_rule_row_numbers_are_no_rows(api: Api, name: str) -> None:
    """A rule input with a row number the page never draws is ignored, not a 500."""
    log_in(api, "write")
    page = api.client.get("/dashboard/campaigns/new")
    r = api.client.post(
        "/dashboard/campaigns", data={"csrf": csrf(page.text), "name": "", name: "percent"}
    )
    assert r.status_code == 422
    assert len(r.data) < 200_000
    assert api.rows("campaigns") == 0
