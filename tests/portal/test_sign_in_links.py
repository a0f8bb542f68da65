"""Signing in to the portal with a one-time link: what the brand gets, what the page
takes and refuses, the session it opens and how it ends (docs/portal.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.support.app import Api
from tests.support.dashboard_session import csrf
from tests.support.portal import (
    COOKIE,
    events,
    invite,
    invite_path,
    kinds,
    press_sign_in,
    signed_in,
)


def test_an_invite_without_mail_returns_the_link_to_copy(api: Api) -> None:
    anna = api.create_influencer("anna")
    body = invite(api, anna["id"])
    assert body["sign_in_url"].startswith("https://go.example.test/portal/sign-in/")
    assert body["mailed"] is False
    assert "AFFTRACK_SMTP_URL" in body["mail_error"]
    assert body["expires_at"] == "2026-10-08T09:00:00+00:00"  # 7 days from the frozen now
    # Only a hash of the token is kept.
    token = body["sign_in_url"].rsplit("/", 1)[1]
    db = api.app.extensions["afftrack"].db
    with db.engine.connect() as conn:
        from sqlalchemy import text

        stored = conn.execute(text("SELECT token_hash FROM portal_invites")).scalar_one()
    assert token not in stored and len(stored) == 64


def test_opening_the_link_does_not_use_it_and_pressing_sign_in_does(api: Api) -> None:
    anna = api.create_influencer("anna")
    path = invite_path(api, anna["id"])
    for _ in range(3):  # a mail scanner's prefetches
        page = api.client.get(path)
        assert page.status_code == 200
        assert "Sign in" in page.text
    signed_in(api, path)
    home = api.client.get("/portal/")
    assert home.status_code == 200
    assert "Signed in as @anna" in home.text
    assert kinds(api, anna["id"]) == ["invited", "signed_in"]


def test_the_session_cookie_is_httponly_lax_secure_and_limited_to_the_portal(api: Api) -> None:
    anna = api.create_influencer("anna")
    r = press_sign_in(api, invite_path(api, anna["id"]))
    cookie = next(h for h in r.headers.getlist("Set-Cookie") if h.startswith(COOKIE + "="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/portal" in cookie
    assert "Secure" in cookie  # the tests' AFFTRACK_PUBLIC_URL is https


def test_a_used_link_is_refused(api: Api, frozen: Any) -> None:
    anna = api.create_influencer("anna")
    path = invite_path(api, anna["id"])
    page = api.client.get(path)
    signed_in(api, path)
    again = api.client.get(path)
    assert again.status_code == 410
    assert "has been used already" in again.text
    assert 'name="email"' in again.text  # the form to ask for a new link
    frozen.advance(timedelta(seconds=61))  # past a double click's grace
    pressed = api.client.post(path, data={"csrf": csrf(page.text)})
    assert pressed.status_code == 410
    refused = [e for e in events(api, anna["id"]) if e["kind"] == "link_refused"]
    assert [e["reason"] for e in refused] == ["used"]


def test_an_expired_link_is_refused(api: Api, frozen: Any) -> None:
    anna = api.create_influencer("anna")
    path = invite_path(api, anna["id"])
    page = api.client.get(path)
    frozen.advance(timedelta(days=7))
    r = api.client.post(path, data={"csrf": csrf(page.text)})
    assert r.status_code == 410
    assert "has expired" in r.text
    assert api.client.get_cookie(COOKIE, path="/portal") is None
    assert events(api, anna["id"])[-1]["reason"] == "expired"


def test_a_revoked_link_is_refused_and_revoking_again_ends_nothing_more(api: Api) -> None:
    anna = api.create_influencer("anna")
    path = invite_path(api, anna["id"])
    page = api.client.get(path)
    r = api.post(f"/api/v1/influencers/{anna['id']}/portal-access/revoke")
    assert r.status_code == 200
    assert (r.json["links_ended"], r.json["sessions_ended"]) == (1, 0)
    again = api.post(f"/api/v1/influencers/{anna['id']}/portal-access/revoke")
    assert (again.json["links_ended"], again.json["sessions_ended"]) == (0, 0)
    pressed = api.client.post(path, data={"csrf": csrf(page.text)})
    assert pressed.status_code == 410
    assert "withdrawn" in pressed.text


def test_a_tampered_link_is_refused(api: Api) -> None:
    anna = api.create_influencer("anna")
    path = invite_path(api, anna["id"])
    page = api.client.get(path)
    last = path[-1]
    tampered = path[:-1] + ("A" if last != "A" else "B")
    for wrong in (tampered, path[:-1], path + "x", "/portal/sign-in/..%2f"):
        r = api.client.get(wrong)
        assert r.status_code in (404, 410), wrong
    r = api.client.post(tampered, data={"csrf": csrf(page.text)})
    assert r.status_code == 410
    assert "is not valid" in r.text
    assert api.client.get_cookie(COOKIE, path="/portal") is None
    # The real link still works: a wrong one spends nothing.
    signed_in(api, path)


def test_revoking_ends_a_live_session_at_once(api: Api) -> None:
    anna = api.create_influencer("anna")
    signed_in(api, invite_path(api, anna["id"]))
    assert api.client.get("/portal/").status_code == 200
    r = api.post(f"/api/v1/influencers/{anna['id']}/portal-access/revoke")
    assert r.json["sessions_ended"] == 1
    home = api.client.get("/portal/")
    assert home.status_code == 302
    assert home.headers["Location"].endswith("/portal/new-link")


def test_a_session_ends_after_its_hours(api: Api, frozen: Any) -> None:
    anna = api.create_influencer("anna")
    signed_in(api, invite_path(api, anna["id"]))
    frozen.advance(timedelta(hours=11, minutes=59))
    assert api.client.get("/portal/").status_code == 200
    frozen.advance(timedelta(minutes=1))
    assert api.client.get("/portal/").status_code == 302


def test_signing_out_ends_the_session(api: Api) -> None:
    anna = api.create_influencer("anna")
    value = signed_in(api, invite_path(api, anna["id"]))
    home = api.client.get("/portal/")
    r = api.client.post("/portal/sign-out", data={"csrf": csrf(home.text)})
    assert r.status_code == 303
    api.client.set_cookie(COOKIE, value, path="/portal")  # a copy of the old cookie
    assert api.client.get("/portal/").status_code == 302
    assert kinds(api, anna["id"])[-1] == "signed_out"


def test_a_cookie_set_before_signing_in_does_not_survive_it(api: Api) -> None:
    """Session fixation: a value planted in the browser is never made a session."""
    anna = api.create_influencer("anna")
    planted = "P" * 43
    api.client.set_cookie(COOKIE, planted, path="/portal")
    value = signed_in(api, invite_path(api, anna["id"]))
    assert value != planted
    api.client.set_cookie(COOKIE, planted, path="/portal")
    assert api.client.get("/portal/").status_code == 302


def test_signing_in_again_ends_the_browsers_earlier_session(api: Api) -> None:
    anna = api.create_influencer("anna")
    first = signed_in(api, invite_path(api, anna["id"]))
    second = signed_in(api, invite_path(api, anna["id"]))
    assert first != second
    api.client.set_cookie(COOKIE, first, path="/portal")
    assert api.client.get("/portal/").status_code == 302
    api.client.set_cookie(COOKIE, second, path="/portal")
    assert api.client.get("/portal/").status_code == 200


def test_a_sign_in_without_the_forms_token_is_refused_and_spends_nothing(api: Api) -> None:
    anna = api.create_influencer("anna")
    path = invite_path(api, anna["id"])
    page = api.client.get(path)
    assert api.client.post(path, data={}).status_code == 400
    wrong = api.client.post(path, data={"csrf": "0" * 64})
    assert wrong.status_code == 400
    assert "stale" in wrong.text
    # Another browser's token (its own double-submit cookie) is no good here either.
    other = api.app.test_client()
    other_page = other.get(path)
    assert api.client.post(path, data={"csrf": csrf(other_page.text)}).status_code == 400
    assert api.client.get_cookie(COOKIE, path="/portal") is None
    assert kinds(api, anna["id"]) == ["invited"]
    assert api.client.post(path, data={"csrf": csrf(page.text)}).status_code == 303


def test_a_sign_out_without_the_sessions_token_is_refused(api: Api) -> None:
    anna = api.create_influencer("anna")
    path = invite_path(api, anna["id"])
    sign_in_page = api.client.get(path)
    signed_in(api, path)
    # The pre-session token is not the session's.
    for sent in ({}, {"csrf": csrf(sign_in_page.text)}):
        assert api.client.post("/portal/sign-out", data=sent).status_code == 400
    assert api.client.get("/portal/").status_code == 200
    assert "signed_out" not in kinds(api, anna["id"])


def test_the_record_keeps_hashed_addresses_and_pages(api: Api) -> None:
    anna = api.create_influencer("anna")
    for _ in range(3):
        invite(api, anna["id"])
    seen = events(api, anna["id"])
    assert [e["actor"] for e in seen] == [seen[0]["actor"]] * 3
    assert seen[0]["actor"].startswith("key_")
    assert all(e["address_hash"] and "127.0.0.1" not in e["address_hash"] for e in seen)
    first = api.get(f"/api/v1/influencers/{anna['id']}/portal-events?limit=2")
    assert len(first.json["items"]) == 2
    rest = api.get(
        f"/api/v1/influencers/{anna['id']}/portal-events?limit=2&cursor={first.json['next_cursor']}"
    )
    assert len(rest.json["items"]) == 1 and rest.json["next_cursor"] is None


def test_the_brands_routes_refuse_unknown_influencers_and_read_keys(api: Api) -> None:
    missing = "inf_01m98bw9ekkm9eeetcdzwd9e7j"
    assert api.post(f"/api/v1/influencers/{missing}/portal-invites").status_code == 404
    assert api.post(f"/api/v1/influencers/{missing}/portal-access/revoke").status_code == 404
    assert api.get(f"/api/v1/influencers/{missing}/portal-events").status_code == 404
    anna = api.create_influencer("anna")
    r = api.post(f"/api/v1/influencers/{anna['id']}/portal-invites", key="read")
    assert r.status_code == 403
    assert api.rows("portal_invites") == 0
    bad = api.get(f"/api/v1/influencers/{anna['id']}/portal-events?limit=0")
    assert bad.status_code == 422
