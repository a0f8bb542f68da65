"""The influencer's page: the "Portal access" section invites, shows the link or where
it was mailed, revokes, and lists the last events."""

from __future__ import annotations

import re

from tests.support.app import Api
from tests.support.dashboard_session import csrf, log_in
from tests.support.mail import Inbox, path_of
from tests.support.portal import kinds, signed_in


def test_inviting_from_the_page_shows_the_link_to_copy(api: Api) -> None:
    anna = api.create_influencer("anna")
    log_in(api, "write")
    page = api.client.get(f"/dashboard/influencers/{anna['id']}")
    assert "Not invited to the portal yet." in page.text
    r = api.client.post(
        f"/dashboard/influencers/{anna['id']}/portal-invites", data={"csrf": csrf(page.text)}
    )
    assert r.status_code == 200
    found = re.search(r'id="portal-link" value="([^"]+)"', r.text)
    assert found, r.text
    assert "Not mailed" in r.text
    brand = api.client
    influencer = api.app.test_client()
    api.client = influencer
    signed_in(api, path_of(found.group(1)))
    api.client = brand
    again = api.client.get(f"/dashboard/influencers/{anna['id']}")
    assert "signed in" in again.text
    assert "the influencer" in again.text


def test_revoking_from_the_page_ends_the_influencers_session(api: Api) -> None:
    anna = api.create_influencer("anna")
    path = path_of(api.post(f"/api/v1/influencers/{anna['id']}/portal-invites").json["sign_in_url"])
    influencer = api.app.test_client()
    brand = api.client
    api.client = influencer
    signed_in(api, path)
    api.client = brand
    log_in(api, "write")
    page = api.client.get(f"/dashboard/influencers/{anna['id']}")
    r = api.client.post(
        f"/dashboard/influencers/{anna['id']}/portal-access/revoke",
        data={"csrf": csrf(page.text)},
    )
    assert r.status_code == 303
    assert influencer.get("/portal/").status_code == 302
    assert kinds(api, anna["id"])[-1] == "revoked"


def test_a_read_key_sees_the_events_but_no_buttons_and_cannot_invite(api: Api) -> None:
    anna = api.create_influencer("anna")
    log_in(api, "read")
    page = api.client.get(f"/dashboard/influencers/{anna['id']}")
    assert "Invite to the portal" not in page.text
    r = api.client.post(
        f"/dashboard/influencers/{anna['id']}/portal-invites", data={"csrf": csrf(page.text)}
    )
    assert r.status_code == 403
    assert api.rows("portal_invites") == 0


def test_inviting_without_the_forms_token_changes_nothing(api: Api) -> None:
    anna = api.create_influencer("anna")
    log_in(api, "write")
    r = api.client.post(f"/dashboard/influencers/{anna['id']}/portal-invites", data={})
    assert r.status_code == 400
    assert api.rows("portal_invites") == 0


def test_a_mailed_invitation_says_where_it_went(mailing_api: Api, smtp_server: Inbox) -> None:
    anna = mailing_api.create_influencer("anna")
    log_in(mailing_api, "write")
    page = mailing_api.client.get(f"/dashboard/influencers/{anna['id']}")
    r = mailing_api.client.post(
        f"/dashboard/influencers/{anna['id']}/portal-invites", data={"csrf": csrf(page.text)}
    )
    assert "Sign-in link mailed to anna@example.com" in r.text
    smtp_server.wait(1)
