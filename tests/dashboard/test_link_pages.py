"""Links in the dashboard: the list and its filters, the form that creates a link (its
destination checked against the campaign's allowed domains by the same check as the
API's, a vanity code that must be free), and one link's page: its short and tracked
URLs, pause and resume, re-point, and its audit list — with what the redirect then does.
A read key sees no form and is refused on POST; a form without the session's token
changes nothing. On PostgreSQL and SQLite."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest

from tests.support.app import Api
from tests.support.dashboard_session import csrf, field_errors, log_in
from tests.support.redirects import Tracked, tracked_link, visit


def enrolled(api: Api, handle: str = "nora.knits", slug: str = "spring-26") -> tuple[dict, dict]:
    """A campaign (allowed domain shop.example) and an influencer enrolled in it."""
    campaign = api.create_campaign(slug)
    influencer = api.create_influencer(handle)
    api.add_partner(campaign["id"], influencer["id"])
    return campaign, influencer


def new_link_form(api: Api, campaign: dict, influencer: dict, **values: str) -> dict[str, str]:
    page = api.client.get(f"/dashboard/links/new?campaign_id={campaign['id']}")
    assert page.status_code == 200
    assert f"/dashboard/search/influencers?partner_of={campaign['id']}" in page.text
    return {
        "csrf": csrf(page.text),
        "campaign_id": campaign["id"],
        "influencer_id": influencer["id"],
        "destination": "https://shop.example/knits?ref=bio",
        "platform": "instagram",
        "slug": "",
        **values,
    }


def shown(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}" value="([^"]*)"', html)
    assert found, f"no #{element_id} on the page"
    return unescape(found.group(1))


def test_a_write_key_creates_a_link_and_sees_its_short_and_tracked_urls(api: Api) -> None:
    campaign, influencer = enrolled(api)
    log_in(api, "write")
    r = api.client.post("/dashboard/links", data=new_link_form(api, campaign, influencer))
    assert r.status_code == 303, r.text
    page = api.client.get(r.headers["Location"])
    assert page.status_code == 200
    assert "The link is created." in page.text

    (link,) = api.get(f"/api/v1/links?influencer_id={influencer['id']}").json["items"]
    assert link["destination"] == "https://shop.example/knits?ref=bio"
    assert link["platform"] == "instagram" and link["status"] == "active"
    # Both URLs in full, each in a field with a copy button.
    assert shown(page.text, "short-url") == link["short_url"]
    assert shown(page.text, "tracked-url") == link["tracked_url"]
    assert "utm_source=instagram" in link["tracked_url"]
    assert 'data-copy="short-url"' in page.text and 'data-copy="tracked-url"' in page.text
    # The allowed domains ride on the destination input for the script's check.
    assert 'data-allowed-domains="shop.example"' in page.text


def test_a_vanity_code_becomes_the_short_url(api: Api) -> None:
    campaign, influencer = enrolled(api)
    log_in(api, "write")
    form = new_link_form(api, campaign, influencer, slug="nora-spring")
    r = api.client.post("/dashboard/links", data=form)
    assert r.status_code == 303, r.text
    page = api.client.get(r.headers["Location"]).text
    assert shown(page, "short-url") == "https://go.example.test/r/nora-spring"
    assert visit(api, "nora-spring").status_code == 302


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"destination": "https://evil.example/knits"}, "destination", "allowed domains"),
        ({"destination": "https://shop.example.evil.test/"}, "destination", "allowed domains"),
        ({"destination": "javascript:alert(1)"}, "destination", "http"),
        ({"destination": ""}, "destination", "Fill this in."),
        ({"platform": "myspace"}, "platform", "instagram"),
        ({"slug": "a b"}, "slug", "letters, digits"),
        ({"slug": "api"}, "slug", "reserves"),
        ({"influencer_id": "inf_nobody"}, "influencer_id", "No influencer has the handle"),
    ],
)
def test_bad_input_is_shown_beside_its_field_and_no_link_is_created(
    api: Api, change: dict[str, str], field: str, says: str
) -> None:
    campaign, influencer = enrolled(api)
    log_in(api, "write")
    before = api.rows("links"), api.rows("audit_entries")
    r = api.client.post("/dashboard/links", data=new_link_form(api, campaign, influencer, **change))
    assert r.status_code == 422
    errors = field_errors(r.text)
    assert field in errors, errors
    assert says.lower() in " ".join(errors[field]).lower()
    assert "Nothing was saved." in r.text
    assert (api.rows("links"), api.rows("audit_entries")) == before


def test_a_taken_vanity_code_is_refused_beside_the_code(api: Api) -> None:
    campaign, influencer = enrolled(api)
    api.create_link(campaign["id"], influencer["id"], slug="nora-spring")
    log_in(api, "write")
    before = api.rows("links")
    form = new_link_form(api, campaign, influencer, slug="nora-spring")
    r = api.client.post("/dashboard/links", data=form)
    assert r.status_code == 422
    assert field_errors(r.text)["slug"] == ["Another link already has this code; choose another."]
    assert api.rows("links") == before
    # The API says the same, with the field named.
    body = {k: v for k, v in form.items() if k != "csrf"}
    answer = api.post("/api/v1/links", {**body, "slug": "nora-spring"})
    assert answer.status_code == 409
    assert "slug" in answer.json["error"]["fields"]


def link_page(api: Api, link: Tracked) -> Any:
    page = api.client.get(f"/dashboard/links/{link.link['id']}")
    assert page.status_code == 200
    return page


def test_pausing_on_the_page_sends_the_short_url_to_the_fallback_and_resuming_restores_it(
    api: Api,
) -> None:
    link = tracked_link(api)
    log_in(api, "write")
    page = link_page(api, link)
    assert 'id="pause"' in page.text
    r = api.client.post(
        f"/dashboard/links/{link.link['id']}", data={"csrf": csrf(page.text), "status": "paused"}
    )
    assert r.status_code == 303, r.text
    assert api.get(f"/api/v1/links/{link.link['id']}").json["status"] == "paused"
    assert visit(api, link.code).headers["Location"] == link.campaign["fallback_url"]

    page = link_page(api, link)
    assert 'id="resume"' in page.text and "Paused:" in page.text
    r = api.client.post(
        f"/dashboard/links/{link.link['id']}", data={"csrf": csrf(page.text), "status": "active"}
    )
    assert r.status_code == 303
    assert visit(api, link.code).headers["Location"].startswith("https://shop.example/spring?")

    audit = link_page(api, link).text.split('id="audit"', 1)[1]
    assert audit.count("link changed") == 2 and "paused" in audit and "test-write" in audit


def test_re_pointing_on_the_page_sends_the_next_click_to_the_new_page(api: Api) -> None:
    link = tracked_link(api)
    assert visit(api, link.code).headers["Location"].startswith("https://shop.example/spring?")
    log_in(api, "write")
    page = link_page(api, link)
    r = api.client.post(
        f"/dashboard/links/{link.link['id']}",
        data={"csrf": csrf(page.text), "destination": "https://shop.example/summer"},
    )
    assert r.status_code == 303, r.text
    assert (
        visit(api, link.code)
        .headers["Location"]
        .startswith("https://shop.example/summer?utm_source=instagram")
    )
    assert shown(link_page(api, link).text, "tracked-url").startswith(
        "https://shop.example/summer?utm_source="
    )


@pytest.mark.parametrize(
    ("destination", "says"),
    [("https://elsewhere.example/", "allowed domains"), ("", "Fill this in.")],
)
def test_re_pointing_off_the_allowed_domains_is_refused_and_the_link_is_unchanged(
    api: Api, destination: str, says: str
) -> None:
    link = tracked_link(api)
    log_in(api, "write")
    page = link_page(api, link)
    before = api.rows("audit_entries")
    r = api.client.post(
        f"/dashboard/links/{link.link['id']}",
        data={"csrf": csrf(page.text), "destination": destination},
    )
    assert r.status_code == 422
    assert says.lower() in " ".join(field_errors(r.text)["destination"]).lower()
    assert (
        api.get(f"/api/v1/links/{link.link['id']}").json["destination"]
        == (link.link["destination"])
    )
    assert api.rows("audit_entries") == before
    assert visit(api, link.code).headers["Location"].startswith("https://shop.example/spring?")


def test_the_list_filters_by_campaign_influencer_and_status(api: Api) -> None:
    campaign, nora = enrolled(api)
    other_campaign, ben = enrolled(api, "ben.cooks", "autumn-26")
    api.add_partner(campaign["id"], ben["id"])
    a = api.create_link(campaign["id"], nora["id"], slug="nora-a")
    api.create_link(campaign["id"], ben["id"], slug="ben-a")
    api.create_link(other_campaign["id"], ben["id"], slug="ben-b")
    api.patch(f"/api/v1/links/{a['id']}", {"status": "paused"})
    log_in(api, "read")

    def listed(**query: str) -> list[str]:
        r = api.client.get("/dashboard/links", query_string=query)
        assert r.status_code == 200
        return sorted(re.findall(r'<td><a href="/dashboard/links/[^"]+">([^<]+)</a></td>', r.text))

    assert listed() == ["ben-a", "ben-b", "nora-a"]
    assert listed(campaign_id=campaign["id"]) == ["ben-a", "nora-a"]
    assert listed(influencer_id=ben["id"]) == ["ben-a", "ben-b"]
    assert listed(status="paused") == ["nora-a"]
    assert listed(campaign_id=campaign["id"], status="active") == ["ben-a"]
    assert listed(campaign_id="", influencer_id="", status="") == ["ben-a", "ben-b", "nora-a"]
    assert api.client.get("/dashboard/links?status=deleted").status_code == 400


def test_the_influencer_and_campaign_pages_lead_to_the_link_and_code_pages(api: Api) -> None:
    link = tracked_link(api)
    code = api.create_promo_code(link.campaign["id"], link.influencer["id"], "NORA10")
    log_in(api, "read")
    person = api.client.get(f"/dashboard/influencers/{link.influencer['id']}").text
    assert f'href="/dashboard/links/{link.link["id"]}"' in person
    assert f'href="/dashboard/codes/{code["id"]}"' in person
    report = api.client.get(f"/dashboard/campaigns/{link.campaign['id']}").text
    assert f'href="/dashboard/links/{link.link["id"]}"' in report
    assert f'href="/dashboard/links?campaign_id={link.campaign["id"]}"' in report
    nav = api.client.get("/dashboard/links").text
    assert 'href="/dashboard/codes"' in nav


def test_a_read_key_sees_no_form_and_is_refused_on_post(api: Api) -> None:
    link = tracked_link(api)
    log_in(api, "read")
    listing = api.client.get("/dashboard/links")
    assert listing.status_code == 200 and link.code in listing.text
    assert "New link" not in listing.text
    page = link_page(api, link)
    assert shown(page.text, "short-url") == link.link["short_url"]
    assert 'id="pause"' not in page.text and 'id="repoint-form"' not in page.text
    token = csrf(page.text)  # the log-out form's

    before = api.rows("links"), api.rows("audit_entries")
    r = api.client.post(
        f"/dashboard/links/{link.link['id']}", data={"csrf": token, "status": "paused"}
    )
    assert r.status_code == 403 and "can only read" in r.text
    form = {
        "csrf": token,
        "campaign_id": link.campaign["id"],
        "influencer_id": link.influencer["id"],
        "destination": "https://shop.example/x",
        "platform": "tiktok",
    }
    assert api.client.post("/dashboard/links", data=form).status_code == 403
    assert (api.rows("links"), api.rows("audit_entries")) == before
    assert api.get(f"/api/v1/links/{link.link['id']}").json["status"] == "active"


def test_a_form_without_this_sessions_token_changes_nothing(api: Api) -> None:
    link = tracked_link(api)
    log_in(api, "write")
    r = api.client.post(
        f"/dashboard/links/{link.link['id']}", data={"csrf": "forged", "status": "paused"}
    )
    assert r.status_code == 400
    form = {
        "csrf": "forged",
        "campaign_id": link.campaign["id"],
        "influencer_id": link.influencer["id"],
        "destination": "https://shop.example/x",
        "platform": "tiktok",
    }
    assert api.client.post("/dashboard/links", data=form).status_code == 400
    assert api.rows("links") == 1
    assert api.get(f"/api/v1/links/{link.link['id']}").json["status"] == "active"
