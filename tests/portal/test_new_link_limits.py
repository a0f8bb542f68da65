"""A new sign-in link asked for by e-mail: how many are sent (to one influencer, from
one client address, in all), what the record keeps of the ones refused, and who gets
none at all (no mail server set up, access revoked by the brand). On PostgreSQL and
SQLite (docs/portal.md, "A new link by e-mail")."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from service.portal import access
from service.portal_site import views
from tests.portal.story import db
from tests.support.app import Api
from tests.support.dashboard_session import csrf, log_in
from tests.support.mail import Inbox
from tests.support.portal import invite
from tests.support.waiting import wait_for


def _ask(api: Api, email: str, address: str | None = "hash-of-a-client") -> int:
    """Ask for a link as the mail thread does; how many links were made."""
    with db(api).session() as s:
        links = access.request_link(s, email, days=7, address_hash=address)
    return len(links)


def _door(api: Api) -> list[tuple[str | None, str | None, str | None]]:
    """The link requests in the record: (influencer, reason, address hash), oldest first."""
    with db(api).engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT influencer_id, reason, address_hash FROM portal_events "
                "WHERE kind = 'link_requested' ORDER BY id"
            )
        )
        return [tuple(r) for r in rows]


def _reasons(api: Api) -> list[str | None]:
    return [reason for _, reason, _ in _door(api)]


def test_refused_requests_do_not_hold_the_limit_up(api: Api, frozen: Any) -> None:
    # Someone posting the address every 15 minutes must not keep its owner from links.
    anna = api.create_influencer("anna")
    assert [_ask(api, "anna@example.com") for _ in range(3)] == [1, 1, 1]
    for _ in range(3):
        frozen.advance(timedelta(minutes=15))
        assert _ask(api, "anna@example.com") == 0
    frozen.advance(timedelta(minutes=16))  # an hour and a minute after the three links
    assert _ask(api, "anna@example.com") == 1
    # The three refusals are recorded once.
    assert _reasons(api) == [None, None, None, access.TOO_MANY_LINKS, None]
    assert {who for who, _, _ in _door(api)} == {anna["id"]}


def test_one_client_address_asks_at_most_ten_times_an_hour(api: Api, frozen: Any) -> None:
    api.create_influencer("anna")
    for n in range(access.REQUESTS_PER_ADDRESS):
        assert _ask(api, f"nobody{n}@example.com", address="one-address") == 0
    assert _ask(api, "anna@example.com", address="one-address") == 0
    assert _ask(api, "anna@example.com", address="one-address") == 0
    assert _ask(api, "anna@example.com", address="another-address") == 1
    refused = [r for r in _door(api) if r[1] == access.TOO_MANY_FROM_ADDRESS]
    assert refused == [(None, access.TOO_MANY_FROM_ADDRESS, "one-address")]
    frozen.advance(timedelta(hours=1, seconds=1))
    assert _ask(api, "anna@example.com", address="one-address") == 1


def test_the_portal_sends_at_most_two_hundred_links_an_hour_in_all(api: Api, frozen: Any) -> None:
    api.create_influencer("anna")
    for n in range(access.REQUESTS_PER_HOUR):
        assert _ask(api, f"nobody{n}@example.com", address=f"address-{n}") == 0
    assert _ask(api, "anna@example.com", address="a-new-address") == 0
    assert _ask(api, "anna@example.com", address="another-new-address") == 0
    assert _reasons(api).count(access.TOO_MANY_IN_ALL) == 1
    frozen.advance(timedelta(hours=1, seconds=1))
    assert _ask(api, "anna@example.com", address="a-new-address") == 1


def test_without_a_mail_server_no_link_is_made(api: Api) -> None:
    api.create_influencer("anna")
    with db(api).session() as s:
        for _ in range(3):
            made = access.request_link(
                s, "anna@example.com", days=7, address_hash="h", can_mail=False
            )
            assert made == []
    assert api.rows("portal_invites") == 0
    assert _reasons(api) == [access.NO_MAIL]


def test_the_new_link_form_without_a_mail_server_makes_no_link(api: Api) -> None:
    api.create_influencer("anna")  # the tests' app has no AFFTRACK_SMTP_URL
    page = api.client.get("/portal/new-link")
    r = api.client.post(
        "/portal/new-link", data={"csrf": csrf(page.text), "email": "anna@example.com"}
    )
    assert r.status_code == 200
    wait_for(lambda: _reasons(api) == [access.NO_MAIL], 10, "the refusal in the record")
    assert api.rows("portal_invites") == 0


def test_after_the_brand_revokes_access_no_link_is_sent_until_it_invites_again(
    api: Api,
) -> None:
    anna = api.create_influencer("anna")
    invite(api, anna["id"])
    assert _ask(api, "anna@example.com") == 1
    log_in(api, "write")
    page = api.client.get(f"/dashboard/influencers/{anna['id']}")
    revoked = api.client.post(
        f"/dashboard/influencers/{anna['id']}/portal-access/revoke",
        data={"csrf": csrf(page.text)},
    )
    assert revoked.status_code == 303
    assert _ask(api, "anna@example.com") == 0
    assert _ask(api, "anna@example.com") == 0
    assert _reasons(api) == [None, access.ACCESS_REVOKED]
    invite(api, anna["id"])  # the brand's invitation gives the access back
    assert _ask(api, "anna@example.com") == 1


def test_the_new_link_form_answers_the_same_after_revoking(
    mailing_api: Api, smtp_server: Inbox
) -> None:
    api = mailing_api
    anna = api.create_influencer("anna")
    r = api.post(f"/api/v1/influencers/{anna['id']}/portal-access/revoke")
    assert r.status_code == 200, r.json
    page = api.client.get("/portal/new-link")
    known = api.client.post(
        "/portal/new-link", data={"csrf": csrf(page.text), "email": "anna@example.com"}
    )
    unknown = api.client.post(
        "/portal/new-link", data={"csrf": csrf(page.text), "email": "nobody@example.com"}
    )
    assert known.status_code == unknown.status_code == 200
    assert known.data == unknown.data
    wanted = {access.ACCESS_REVOKED, "no influencer has this address"}
    wait_for(lambda: set(_reasons(api)) == wanted, 10, "both requests in the record")
    assert api.rows("portal_invites") == 0
    assert smtp_server.messages == []


def test_a_full_mail_queue_drops_the_request_and_says_so(
    sqlite_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    api = sqlite_api
    page = api.client.get("/portal/new-link")
    form = {"csrf": csrf(page.text), "email": "nobody@example.com"}
    taken = 0
    while views._mailer_room.acquire(blocking=False):  # the queue, full
        taken += 1
    try:
        with caplog.at_level(logging.WARNING, logger="service.portal_site.views"):
            r = api.client.post("/portal/new-link", data=form)
        assert r.status_code == 200  # the same answer
        assert "dropped" in caplog.text
    finally:
        for _ in range(taken):
            views._mailer_room.release()
    # The queue has room again: the next request is handled.
    assert api.client.post("/portal/new-link", data=form).status_code == 200
    wait_for(lambda: _door(api), 10, "the request after the queue emptied")
    assert _reasons(api) == [access.NO_MAIL]  # the tests' app has no mail server
