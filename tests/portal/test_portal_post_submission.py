"""Submitting a post at the portal: recorded as `submitted` by the influencer, only for
a campaign they partner in; bad input refused in words with nothing stored; the same
form sent twice records one post; the brand's approval earns the per-post fee as for a
post the API recorded. On PostgreSQL and SQLite."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from service.audit.models import AuditEntry
from service.portal import own
from tests.portal.story import db
from tests.support.app import Api
from tests.support.portal import invite_path, post_form, refusals, signed_in

PER_POST = [{"type": "per_post", "amount": "150.00"}]


def _setup(api: Api) -> dict[str, Any]:
    anna = api.create_influencer("anna")  # an instagram account (tests.support.app)
    ben = api.create_influencer("ben")
    spring = api.create_campaign("spring", commission_rules=PER_POST)
    other = api.create_campaign("other")
    api.add_partner(spring["id"], anna["id"])
    api.add_partner(other["id"], ben["id"])
    signed_in(api, invite_path(api, anna["id"]))
    return {"anna": anna, "ben": ben, "spring": spring, "other": other}


def _good(campaign_id: str) -> dict[str, str]:
    return {
        "campaign_id": campaign_id,
        "platform": "instagram",
        "url": "https://www.instagram.com/p/C9x2kQ/",
        "posted_at": "2026-09-30T17:00",
        "metrics-likes": "2900",
        "metrics-reach": "40,300",
    }


def _posts(api: Api) -> list[dict[str, Any]]:
    return list(api.get("/api/v1/deliverables?limit=200").json["items"])


def test_a_submitted_post_waits_for_the_brand_and_approval_earns_the_fee(api: Api) -> None:
    s = _setup(api)
    anna = s["anna"]
    r = api.client.post("/portal/posts/new", data=post_form(api, **_good(s["spring"]["id"])))
    assert r.status_code == 303, r.text
    [post] = _posts(api)
    assert r.headers["Location"].endswith(f"/portal/posts/new?sent={post['id']}")
    assert post["status"] == "submitted"
    assert post["influencer_id"] == anna["id"]
    assert post["posted_at"] == "2026-09-30T17:00:00+00:00"  # typed as UTC
    assert post["metrics"] == {"likes": 2900, "reach": 40300}
    shown = api.client.get(r.headers["Location"])
    assert "Your post was sent to the brand" in shown.text
    # Recorded as the influencer's own doing.
    with db(api).read_session() as session:
        actors = session.scalars(
            select(AuditEntry.actor).where(AuditEntry.subject_id == post["id"])
        ).all()
    assert actors == [f"portal:{anna['id']}"]
    # No fee before the brand approves; the fee line once it does.
    assert api.get(f"/api/v1/commissions?influencer_id={anna['id']}").json["items"] == []
    assert api.post(f"/api/v1/deliverables/{post['id']}/approve").status_code == 200
    [line] = api.get(f"/api/v1/commissions?influencer_id={anna['id']}").json["items"]
    assert line["deliverable_id"] == post["id"]
    assert line["amount"] == "150.00"
    with db(api).read_session() as session:
        [own_line] = own.commissions(session, anna["id"]).items
        assert own_line.id == line["id"]
        [own_post] = own.posts_of(session, anna["id"])
        assert own_post.status == "approved"


def test_the_same_form_sent_twice_records_one_post(api: Api) -> None:
    s = _setup(api)
    form = post_form(api, **_good(s["spring"]["id"]))
    first = api.client.post("/portal/posts/new", data=form)
    again = api.client.post("/portal/posts/new", data=form)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    assert len(_posts(api)) == 1
    # A new form (a new token) is another post.
    api.client.post("/portal/posts/new", data=post_form(api, **_good(s["spring"]["id"])))
    assert len(_posts(api)) == 2


def test_a_campaign_they_are_not_a_partner_in_is_refused_and_nothing_stored(api: Api) -> None:
    s = _setup(api)
    page = api.client.get("/portal/posts/new").text
    assert s["spring"]["id"] in page and s["other"]["id"] not in page  # only theirs offered
    for campaign_id in (s["other"]["id"], "cmp_01j00000000000000000000000"):
        r = api.client.post("/portal/posts/new", data=post_form(api, **_good(campaign_id)))
        assert r.status_code == 422, r.text
        assert refusals(r.text)["campaign_id"] == (
            "Choose one of the campaigns you are a partner in."
        )
    assert _posts(api) == []


def test_bad_input_is_refused_in_words_beside_each_input(api: Api) -> None:
    s = _setup(api)
    bad = {
        **_good(s["spring"]["id"]),
        "platform": "tiktok",  # not one of anna's accounts
        "url": "not an address",
        "posted_at": "yesterday",
        "metrics-likes": "-3",
    }
    r = api.client.post("/portal/posts/new", data=post_form(api, **bad))
    assert r.status_code == 422, r.text
    errors = refusals(r.text)
    assert set(errors) >= {"url", "posted_at", "metrics-likes"}
    assert errors["posted_at"].startswith("Enter a date")
    assert 'value="not an address"' in r.text  # the form as typed
    assert _posts(api) == []
    r = api.client.post(
        "/portal/posts/new",
        data=post_form(api, **{**_good(s["spring"]["id"]), "platform": "tiktok"}),
    )
    assert r.status_code == 422
    assert refusals(r.text)["platform"] == "Choose one of your platforms."
    assert _posts(api) == []


def test_without_the_forms_csrf_token_or_a_session_nothing_is_stored(api: Api) -> None:
    s = _setup(api)
    form = post_form(api, **_good(s["spring"]["id"]))
    r = api.client.post("/portal/posts/new", data={**form, "csrf": "forged"})
    assert r.status_code == 400
    assert "Reload the page" in r.text
    api.client.delete_cookie("afftrack_portal", path="/portal")
    r = api.client.post("/portal/posts/new", data=form)
    assert r.status_code == 302 and r.headers["Location"].endswith("/portal/new-link")
    assert _posts(api) == []
