"""Posts in the dashboard: the list with its filters, recording a post through the API's
own schema (errors beside their inputs, nothing saved), approving it (its per-post fee
line shown, and in the API), rejecting it with a reason (only while submitted), and
correcting its figures (the campaign report reads them as they are now); a read key sees
no form and is refused on POST; a form without the session's token changes nothing. On
PostgreSQL and SQLite."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest

from tests.support.app import Api
from tests.support.dashboard_session import csrf, log_in

REPORT_RANGE = "from=2026-10-01&to=2026-10-31&group_by=influencer"


def field_errors(html: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, text in re.findall(r'<span class="field-error" id="e-([^"]*)">([^<]*)</span>', html):
        found.setdefault(name, []).append(unescape(text))
    return found


def partners(api: Api, fee: str | None = "150.00") -> tuple[dict, dict]:
    rules: list[dict[str, Any]] = [{"type": "percent", "rate": "10"}]
    if fee:
        rules.append({"type": "per_post", "amount": fee})
    campaign = api.create_campaign("autumn", commission_rules=rules)
    nora = api.create_influencer("nora.knits", followers=10_000)
    api.add_partner(campaign["id"], nora["id"])
    return campaign, nora


def filled(campaign: dict, person: dict, **extra: str) -> dict[str, str]:
    return {
        "campaign_id": campaign["id"],
        "influencer_id": person["id"],
        "platform": "instagram",
        "url": "https://www.instagram.com/p/C9x2kQ/",
        "posted_at": "2026-10-05T17:00",
        "metrics-impressions": "61,000",
        "metrics-reach": "40300",
        "metrics-likes": "290",
        "metrics-comments": "10",
        "metrics-views": "",
        **extra,
    }


def record(api: Api, campaign: dict, person: dict, **extra: str) -> Any:
    page = api.client.get("/dashboard/posts/new")
    assert page.status_code == 200
    return api.client.post(
        "/dashboard/posts", data={"csrf": csrf(page.text), **filled(campaign, person, **extra)}
    )


def recorded(api: Api, campaign: dict, person: dict) -> str:
    r = record(api, campaign, person)
    assert r.status_code == 303, r.text
    return str(r.headers["Location"].rsplit("/", 1)[1])


def send(api: Api, post_id: str, action: str, **form: str) -> Any:
    page = api.client.get(f"/dashboard/posts/{post_id}")
    return api.client.post(
        f"/dashboard/posts/{post_id}/{action}", data={"csrf": csrf(page.text), **form}
    )


def report_reach(api: Api, campaign: dict) -> tuple[int, int, str | None]:
    data = api.get(f"/api/v1/reports/campaigns/{campaign['id']}?{REPORT_RANGE}").json
    row = data["rows"][0] if data["rows"] else {"engagement_rate": None}
    return data["totals"]["impressions"], data["totals"]["reach"], row["engagement_rate"]


def test_a_recorded_post_is_what_the_api_then_shows_in_utc(api: Api) -> None:
    campaign, nora = partners(api)
    log_in(api, "write")
    post_id = recorded(api, campaign, nora)

    shown = api.get(f"/api/v1/deliverables/{post_id}").json
    assert shown["status"] == "submitted"
    assert shown["posted_at"].startswith("2026-10-05T17:00:00")
    assert shown["posted_at"].endswith(("Z", "+00:00"))
    assert shown["metrics"] == {"impressions": 61000, "reach": 40300, "likes": 290, "comments": 10}
    page = api.client.get(f"/dashboard/posts/{post_id}").text
    assert "61,000" in page and "nora.knits" in page
    assert "A per-post fee is earned when the post is approved" in page


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"url": "not a url"}, "url", "spaces"),
        ({"url": "ftp://files.example/p"}, "url", "http"),
        ({"metrics-likes": "-3"}, "metrics-likes", "0"),
        ({"metrics-reach": "many"}, "metrics-reach", "whole number"),
        ({"posted_at": ""}, "posted_at", "Fill this in."),
        ({"platform": "myspace"}, "platform", "instagram"),
    ],
)
def test_bad_input_is_shown_beside_its_field_and_nothing_is_saved(
    api: Api, change: dict[str, str], field: str, says: str
) -> None:
    campaign, nora = partners(api)
    log_in(api, "write")
    before = api.rows("deliverables"), api.rows("audit_entries")
    r = record(api, campaign, nora, **change)
    assert r.status_code == 422
    errors = field_errors(r.text)
    assert field in errors, errors
    assert says.lower() in " ".join(errors[field]).lower()
    assert "Nothing was saved." in r.text
    assert (api.rows("deliverables"), api.rows("audit_entries")) == before


def test_an_influencer_who_is_not_a_partner_is_refused_beside_the_influencer(api: Api) -> None:
    campaign, _ = partners(api)
    stranger = api.create_influencer("stranger")
    log_in(api, "write")
    r = record(api, campaign, stranger)
    assert r.status_code == 422
    assert "not a partner" in " ".join(field_errors(r.text)["influencer_id"])
    assert api.rows("deliverables") == 0


def test_approving_shows_the_per_post_fee_line_the_api_lists(api: Api) -> None:
    campaign, nora = partners(api)
    log_in(api, "write")
    post_id = recorded(api, campaign, nora)
    r = send(api, post_id, "approve")
    assert r.status_code == 303, r.text

    assert api.get(f"/api/v1/deliverables/{post_id}").json["status"] == "approved"
    lines = api.get(f"/api/v1/commissions?campaign_id={campaign['id']}").json["items"]
    fees = [x for x in lines if x["kind"] == "per_post"]
    assert [(x["deliverable_id"], x["amount"], x["currency"]) for x in fees] == [
        (post_id, "150.00", "EUR")
    ]
    page = api.client.get(f"/dashboard/posts/{post_id}").text
    assert "EUR 150.00" in page
    assert f'href="/dashboard/commissions/{fees[0]["id"]}"' in page
    assert 'action="/dashboard/posts/' + post_id + '/approve"' not in page  # reviewed
    audit = page.split('id="audit"', 1)[1]
    assert "approved" in audit and "test-write" in audit

    # Approving again (a retried form) earns nothing more.
    api.client.post(f"/dashboard/posts/{post_id}/approve", data={"csrf": csrf(page)})
    assert api.rows("commission_lines") == 1


def test_rejecting_keeps_the_reason_earns_nothing_and_leaves_the_report(api: Api) -> None:
    campaign, nora = partners(api)
    log_in(api, "write")
    post_id = recorded(api, campaign, nora)
    assert report_reach(api, campaign)[:2] == (61_000, 40_300)

    r = send(api, post_id, "reject", reason="The code is not shown in the post.")
    assert r.status_code == 303, r.text
    shown = api.get(f"/api/v1/deliverables/{post_id}").json
    assert shown["status"] == "rejected"
    assert shown["rejection_reason"] == "The code is not shown in the post."
    assert report_reach(api, campaign)[:2] == (0, 0)
    page = api.client.get(f"/dashboard/posts/{post_id}").text
    assert "The code is not shown in the post." in page

    # A rejected post cannot be approved afterwards: no fee line.
    r = api.post(f"/api/v1/deliverables/{post_id}/approve")
    assert r.status_code == 409 and r.json["error"]["code"] == "already_rejected"
    assert api.rows("commission_lines") == 0
    listed = api.client.get(f"/dashboard/posts?status=rejected&campaign_id={campaign['id']}")
    assert post_id in listed.text
    assert post_id not in api.client.get("/dashboard/posts?status=approved").text


def test_a_rejection_needs_a_reason_and_an_approved_post_cannot_be_rejected(api: Api) -> None:
    campaign, nora = partners(api)
    log_in(api, "write")
    post_id = recorded(api, campaign, nora)
    r = send(api, post_id, "reject", reason="")
    assert r.status_code == 422
    assert field_errors(r.text)["reason"] == ["Fill this in."]
    assert api.get(f"/api/v1/deliverables/{post_id}").json["status"] == "submitted"

    assert api.post(f"/api/v1/deliverables/{post_id}/approve").status_code == 200
    r = api.post(f"/api/v1/deliverables/{post_id}/reject", {"reason": "too late"})
    assert r.status_code == 409 and r.json["error"]["code"] == "already_approved"
    assert "/api/" not in r.json["error"]["message"]
    r = send(api, post_id, "reject", reason="too late")
    assert r.status_code == 409
    assert (
        "This post is approved already; to take back its fee, reject the fee line on its "
        "commission page." in unescape(r.text)
    )
    assert "/api/" not in r.text.split("<main", 1)[-1].split("</main>", 1)[0]
    assert api.get(f"/api/v1/deliverables/{post_id}").json["status"] == "approved"


def test_corrected_figures_change_the_campaign_reports_reach_and_engagement(api: Api) -> None:
    campaign, nora = partners(api)
    log_in(api, "write")
    post_id = recorded(api, campaign, nora)
    assert report_reach(api, campaign) == (61_000, 40_300, "0.0300")  # (290+10)/10,000

    form = {
        "metrics-impressions": "90000",
        "metrics-reach": "55000",
        "metrics-likes": "480",
        "metrics-comments": "20",
    }
    r = send(api, post_id, "metrics", **form)
    assert r.status_code == 303, r.text
    assert report_reach(api, campaign) == (90_000, 55_000, "0.0500")
    page = api.client.get(f"/dashboard/posts/{post_id}").text
    audit = page.split('id="audit"', 1)[1]
    assert "Figures:" in audit and "Impressions 61,000" in audit and "Impressions 90,000" in audit

    r = api.patch(f"/api/v1/deliverables/{post_id}", {"metrics": {"likes": 100}})
    assert r.status_code == 200
    assert r.json["metrics"] == {"likes": 100}
    assert report_reach(api, campaign) == (0, 0, "0.0100")


def test_a_negative_corrected_figure_is_refused_beside_it(api: Api) -> None:
    campaign, nora = partners(api)
    log_in(api, "write")
    post_id = recorded(api, campaign, nora)
    before = api.rows("audit_entries")
    r = send(api, post_id, "metrics", **{"metrics-reach": "-1", "metrics-likes": "5"})
    assert r.status_code == 422
    assert "metrics-reach" in field_errors(r.text)
    assert api.get(f"/api/v1/deliverables/{post_id}").json["metrics"]["reach"] == 40_300
    assert api.rows("audit_entries") == before


def test_a_read_key_sees_no_form_and_is_refused_on_post(api: Api) -> None:
    campaign, nora = partners(api)
    body = {
        "campaign_id": campaign["id"],
        "influencer_id": nora["id"],
        "platform": "instagram",
        "url": "https://www.instagram.com/p/C9x2kQ/",
        "posted_at": "2026-10-05T17:00:00Z",
    }
    post_id = api.post("/api/v1/deliverables", body).json["id"]
    log_in(api, "read")
    listing = api.client.get("/dashboard/posts")
    assert listing.status_code == 200 and post_id in listing.text
    assert "Record a post" not in listing.text
    page = api.client.get(f"/dashboard/posts/{post_id}")
    assert page.status_code == 200
    assert 'method="post" action="/dashboard/posts/' not in page.text
    token = csrf(page.text)
    before = api.rows("deliverables"), api.rows("commission_lines"), api.rows("audit_entries")
    for path, form in (
        ("/dashboard/posts", filled(campaign, nora)),
        (f"/dashboard/posts/{post_id}/approve", {}),
        (f"/dashboard/posts/{post_id}/reject", {"reason": "no"}),
        (f"/dashboard/posts/{post_id}/metrics", {"metrics-likes": "1"}),
    ):
        r = api.client.post(path, data={"csrf": token, **form})
        assert r.status_code == 403, path
    after = api.rows("deliverables"), api.rows("commission_lines"), api.rows("audit_entries")
    assert after == before
    assert api.get(f"/api/v1/deliverables/{post_id}").json["status"] == "submitted"


def test_a_form_without_this_sessions_token_changes_nothing(api: Api) -> None:
    campaign, nora = partners(api)
    log_in(api, "write")
    post_id = recorded(api, campaign, nora)
    r = api.client.post("/dashboard/posts", data={"csrf": "forged", **filled(campaign, nora)})
    assert r.status_code == 400
    r = api.client.post(f"/dashboard/posts/{post_id}/approve", data={"csrf": "forged"})
    assert r.status_code == 400
    assert api.rows("deliverables") == 1 and api.rows("commission_lines") == 0
