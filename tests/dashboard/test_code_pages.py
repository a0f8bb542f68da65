"""Promo codes in the dashboard and their change through the API: the list and its
filters, the form that creates a code (given or suggested from the handle, validity
days, a limit of uses), one code's page with its uses so far and audit list, and its
change — retire, reactivate, new dates or limit — on the page and by
``PATCH /api/v1/promo-codes/<id>``, with what attribution then does. A read key sees no
form and is refused on POST; a form without the session's token changes nothing. On
PostgreSQL and SQLite."""

from __future__ import annotations

import re
from typing import Any

import pytest

from service import clock
from tests.support.app import Api
from tests.support.dashboard_session import csrf, field_errors, log_in


def enrolled(api: Api, handle: str = "nora.knits", slug: str = "spring-26") -> tuple[dict, dict]:
    campaign = api.create_campaign(slug)
    influencer = api.create_influencer(handle)
    api.add_partner(campaign["id"], influencer["id"])
    return campaign, influencer


def new_code_form(api: Api, campaign: dict, influencer: dict, **values: str) -> dict[str, str]:
    page = api.client.get(f"/dashboard/codes/new?campaign_id={campaign['id']}")
    assert page.status_code == 200
    # The inputs' own attributes arrive as attributes (not escaped into text).
    assert 'placeholder="YYYY-MM-DD"' in page.text and 'maxlength="32"' in page.text
    return {
        "csrf": csrf(page.text),
        "campaign_id": campaign["id"],
        "influencer_id": influencer["id"],
        "code": "NORA15",
        "starts_at": "2026-10-01",
        "ends_at": "2026-12-31",
        "max_uses": "1,000",
        **values,
    }


def order(api: Api, order_id: str, code: str) -> Any:
    r = api.webhook(
        {
            "type": "order",
            "order_id": order_id,
            "occurred_at": clock.now_utc().isoformat(),
            "currency": "EUR",
            "subtotal": "10.00",
            "promo_codes": [code],
        }
    )
    assert r.status_code in (200, 201, 202), r.text
    (found,) = api.get(f"/api/v1/conversions?order_id={order_id}").json["items"]
    return found["attribution"]


def test_a_write_key_creates_a_code_valid_for_whole_utc_days(api: Api) -> None:
    campaign, influencer = enrolled(api)
    log_in(api, "write")
    r = api.client.post("/dashboard/codes", data=new_code_form(api, campaign, influencer))
    assert r.status_code == 303, r.text
    page = api.client.get(r.headers["Location"])
    assert "The promo code is created." in page.text

    (code,) = api.get(f"/api/v1/promo-codes?influencer_id={influencer['id']}").json["items"]
    assert code["code"] == "NORA15" and code["status"] == "active"
    assert code["starts_at"].startswith("2026-10-01T00:00:00")
    assert code["ends_at"].startswith("2027-01-01T00:00:00")  # to the end of 31 December
    assert code["max_uses"] == 1000
    # The page shows the days as they were typed.
    assert 'value="2026-12-31"' in page.text and 'value="2026-10-01"' in page.text
    assert re.search(r'id="uses"[^>]*>0 of 1,000', page.text)


def test_without_a_code_one_is_suggested_from_the_handle(api: Api) -> None:
    campaign, influencer = enrolled(api)
    log_in(api, "write")
    form = new_code_form(api, campaign, influencer, code="", starts_at="", ends_at="", max_uses="")
    r = api.client.post("/dashboard/codes", data=form)
    assert r.status_code == 303, r.text
    (code,) = api.get(f"/api/v1/promo-codes?influencer_id={influencer['id']}").json["items"]
    assert re.fullmatch(r"NORAKNITS\d\d", code["code"])
    assert (code["starts_at"], code["ends_at"], code["max_uses"]) == (None, None, None)


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"code": "no spaces"}, "code", "3 to 32"),
        ({"ends_at": "2026-09-30"}, "ends_at", "after starts_at"),
        ({"starts_at": "soon"}, "starts_at", "YYYY-MM-DD"),
        ({"max_uses": "0"}, "max_uses", "1"),
        ({"max_uses": "many"}, "max_uses", "whole number"),
        ({"influencer_id": "inf_nobody"}, "influencer_id", "No influencer has the handle"),
    ],
)
def test_bad_input_is_shown_beside_its_field_and_no_code_is_created(
    api: Api, change: dict[str, str], field: str, says: str
) -> None:
    campaign, influencer = enrolled(api)
    log_in(api, "write")
    before = api.rows("promo_codes"), api.rows("audit_entries")
    r = api.client.post("/dashboard/codes", data=new_code_form(api, campaign, influencer, **change))
    assert r.status_code == 422
    errors = field_errors(r.text)
    assert field in errors, errors
    assert says.lower() in " ".join(errors[field]).lower()
    assert "Nothing was saved." in r.text
    assert (api.rows("promo_codes"), api.rows("audit_entries")) == before


def test_an_active_code_of_the_same_text_is_refused(api: Api) -> None:
    campaign, influencer = enrolled(api)
    api.create_promo_code(campaign["id"], influencer["id"], "NORA15")
    log_in(api, "write")
    r = api.client.post(
        "/dashboard/codes", data=new_code_form(api, campaign, influencer, code="nora15")
    )
    assert r.status_code == 422
    assert "already active" in r.text
    assert api.rows("promo_codes") == 1


def test_retiring_on_the_page_stops_attribution_and_frees_the_text(api: Api) -> None:
    campaign, influencer = enrolled(api)
    code = api.create_promo_code(campaign["id"], influencer["id"], "NORA15")
    assert order(api, "o-1", "NORA15")["method"] == "promo_code"
    log_in(api, "write")
    page = api.client.get(f"/dashboard/codes/{code['id']}")
    assert re.search(r'id="uses"[^>]*>1 \(no limit\)', page.text)
    r = api.client.post(
        f"/dashboard/codes/{code['id']}", data={"csrf": csrf(page.text), "status": "retired"}
    )
    assert r.status_code == 303, r.text
    assert api.get(f"/api/v1/promo-codes/{code['id']}").json["status"] == "retired"
    assert order(api, "o-2", "NORA15") is None
    # The text may now be given to someone else; then the old code cannot come back.
    other = api.create_influencer("ben.cooks")
    api.add_partner(campaign["id"], other["id"])
    api.create_promo_code(campaign["id"], other["id"], "nora15")
    page = api.client.get(f"/dashboard/codes/{code['id']}")
    r = api.client.post(
        f"/dashboard/codes/{code['id']}", data={"csrf": csrf(page.text), "status": "active"}
    )
    assert r.status_code == 422
    assert field_errors(r.text)["status"] == ["Another active code has this text; retire it first."]
    assert api.get(f"/api/v1/promo-codes/{code['id']}").json["status"] == "retired"
    audit = api.client.get(f"/dashboard/codes/{code['id']}").text.split('id="audit"', 1)[1]
    assert "promo code changed" in audit and "retired" in audit and "test-write" in audit


def test_changing_the_dates_and_limit_on_the_page(api: Api) -> None:
    campaign, influencer = enrolled(api)
    code = api.create_promo_code(campaign["id"], influencer["id"], "NORA15")
    log_in(api, "write")
    page = api.client.get(f"/dashboard/codes/{code['id']}")
    form = {"csrf": csrf(page.text), "starts_at": "", "ends_at": "2026-10-31", "max_uses": "1"}
    r = api.client.post(f"/dashboard/codes/{code['id']}", data=form)
    assert r.status_code == 303, r.text
    shown = api.get(f"/api/v1/promo-codes/{code['id']}").json
    assert shown["ends_at"].startswith("2026-11-01T00:00:00") and shown["max_uses"] == 1
    assert shown["status"] == "active" and shown["code"] == "NORA15"

    assert order(api, "o-1", "NORA15")["method"] == "promo_code"
    assert order(api, "o-2", "NORA15") is None  # its one use is spent
    page = api.client.get(f"/dashboard/codes/{code['id']}").text
    assert re.search(r'id="uses"[^>]*>1 of 1 — used up', page)

    bad = {"csrf": csrf(page), "starts_at": "2026-11-05", "ends_at": "2026-10-31", "max_uses": ""}
    r = api.client.post(f"/dashboard/codes/{code['id']}", data=bad)
    assert r.status_code == 422
    assert "ends_at" in field_errors(r.text)
    assert 'value="2026-11-05"' in r.text  # what was typed stays
    assert api.get(f"/api/v1/promo-codes/{code['id']}").json["max_uses"] == 1


def test_the_api_changes_a_code_and_leaves_unsent_fields_alone(api: Api) -> None:
    campaign, influencer = enrolled(api)
    code = api.create_promo_code(campaign["id"], influencer["id"], "NORA15")
    url = f"/api/v1/promo-codes/{code['id']}"
    r = api.patch(url, {"max_uses": 50, "starts_at": "2026-10-01T00:00:00Z"})
    assert r.status_code == 200, r.json
    r = api.patch(url, {"ends_at": "2026-12-01T00:00:00Z"})
    assert r.status_code == 200, r.json
    assert r.json["max_uses"] == 50 and r.json["starts_at"].startswith("2026-10-01")
    # A new end is judged against the kept start.
    r = api.patch(url, {"ends_at": "2026-09-01T00:00:00Z"})
    assert r.status_code == 422 and "ends_at" in r.json["error"]["fields"]
    for body in ({"code": "OTHER"}, {"influencer_id": "x"}, {"status": "deleted"}):
        assert api.patch(url, body).status_code == 422, body
    assert api.patch(url, {"max_uses": None}).json["max_uses"] is None
    assert api.patch(url, {"status": "retired"}, key="read").status_code == 403
    assert api.patch("/api/v1/promo-codes/pc_nothing", {"status": "retired"}).status_code == 404
    assert api.get(url).json["status"] == "active"


def test_the_list_filters_by_campaign_and_influencer(api: Api) -> None:
    campaign, nora = enrolled(api)
    other_campaign, ben = enrolled(api, "ben.cooks", "autumn-26")
    api.add_partner(campaign["id"], ben["id"])
    api.create_promo_code(campaign["id"], nora["id"], "NORA15")
    api.create_promo_code(campaign["id"], ben["id"], "BEN15")
    api.create_promo_code(other_campaign["id"], ben["id"], "BEN20")
    log_in(api, "read")

    def listed(**query: str) -> list[str]:
        r = api.client.get("/dashboard/codes", query_string=query)
        assert r.status_code == 200
        return sorted(re.findall(r'<a href="/dashboard/codes/[^"]+"><code>([^<]+)</code>', r.text))

    assert listed() == ["BEN15", "BEN20", "NORA15"]
    assert listed(campaign_id=campaign["id"]) == ["BEN15", "NORA15"]
    assert listed(influencer_id=ben["id"]) == ["BEN15", "BEN20"]
    assert listed(campaign_id=other_campaign["id"], influencer_id=nora["id"]) == []


def test_a_read_key_sees_no_form_and_is_refused_on_post(api: Api) -> None:
    campaign, influencer = enrolled(api)
    code = api.create_promo_code(campaign["id"], influencer["id"], "NORA15")
    log_in(api, "read")
    listing = api.client.get("/dashboard/codes")
    assert "NORA15" in listing.text and "New promo code" not in listing.text
    page = api.client.get(f"/dashboard/codes/{code['id']}")
    assert page.status_code == 200 and 'id="uses"' in page.text
    assert 'id="retire"' not in page.text and 'id="window-form"' not in page.text
    token = csrf(page.text)
    before = api.rows("promo_codes"), api.rows("audit_entries")
    r = api.client.post(f"/dashboard/codes/{code['id']}", data={"csrf": token, "status": "retired"})
    assert r.status_code == 403
    form = {"csrf": token, "campaign_id": campaign["id"], "influencer_id": influencer["id"]}
    assert api.client.post("/dashboard/codes", data=form).status_code == 403
    assert (api.rows("promo_codes"), api.rows("audit_entries")) == before
    assert api.get(f"/api/v1/promo-codes/{code['id']}").json["status"] == "active"


def test_a_form_without_this_sessions_token_changes_nothing(api: Api) -> None:
    campaign, influencer = enrolled(api)
    code = api.create_promo_code(campaign["id"], influencer["id"], "NORA15")
    log_in(api, "write")
    r = api.client.post(
        f"/dashboard/codes/{code['id']}", data={"csrf": "forged", "status": "retired"}
    )
    assert r.status_code == 400
    form = {"csrf": "forged", "campaign_id": campaign["id"], "influencer_id": influencer["id"]}
    assert api.client.post("/dashboard/codes", data=form).status_code == 400
    assert api.rows("promo_codes") == 1
    assert api.get(f"/api/v1/promo-codes/{code['id']}").json["status"] == "active"
