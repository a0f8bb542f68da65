"""Invitations and new links mailed through a real SMTP server on loopback; the
new-link form's answer says nothing about whether an address is known."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from service.app import create_app
from tests.support.app import Api, make_settings
from tests.support.dashboard_session import csrf
from tests.support.mail import Inbox, link_in, path_of
from tests.support.portal import events, invite, kinds, signed_in
from tests.support.servers import free_port
from tests.support.waiting import wait_for


def test_the_invitation_is_mailed_to_the_influencer_and_its_link_signs_in(
    mailing_api: Api, smtp_server: Inbox
) -> None:
    anna = mailing_api.create_influencer("anna", email="Anna.Berg@example.com")
    body = invite(mailing_api, anna["id"])
    assert body["mailed"] is True and body["mail_error"] is None
    (mail,) = smtp_server.wait(1)
    assert mail["To"] == "Anna.Berg@example.com"
    assert mail["From"] == "afftrack@brand.example"
    assert smtp_server.messages[0][0] == ["Anna.Berg@example.com"]
    url = link_in(mail)
    assert url == body["sign_in_url"]
    signed_in(mailing_api, path_of(url))
    assert "Signed in as @anna" in mailing_api.client.get("/portal/").text
    assert kinds(mailing_api, anna["id"]) == ["invited", "mailed", "signed_in"]


def test_a_mail_server_that_does_not_answer_loses_no_link(api: Api, pg_url: str) -> None:
    closed = f"smtp://127.0.0.1:{free_port()}"
    app = create_app(
        make_settings(pg_url, smtp_url=closed, mail_from="afftrack@brand.example"), TESTING=True
    )
    brand = Api(app, app.test_client())
    try:
        anna = brand.create_influencer("anna")
        body = invite(brand, anna["id"])
        assert body["mailed"] is False
        assert "could not be reached" in body["mail_error"]
        signed_in(brand, path_of(body["sign_in_url"]))
        failed = [e for e in events(brand, anna["id"]) if e["kind"] == "mail_failed"]
        assert len(failed) == 1
    finally:
        from tests.support.app import _empty_tables

        _empty_tables(app)
        app.extensions["afftrack"].db.dispose()


def _ask(client: FlaskClient, email: str) -> Any:
    page = client.get("/portal/new-link")
    return client.post("/portal/new-link", data={"csrf": csrf(page.text), "email": email})


def test_a_new_link_goes_only_to_the_address_on_file(mailing_api: Api, smtp_server: Inbox) -> None:
    anna = mailing_api.create_influencer("anna")
    r = _ask(mailing_api.client, "ANNA@example.com ")
    assert r.status_code == 200
    (mail,) = smtp_server.wait(1)
    assert mail["To"] == "anna@example.com"
    signed_in(mailing_api, path_of(link_in(mail)))
    wait_for(lambda: "signed_in" in kinds(mailing_api, anna["id"]), 10, "the sign-in in the record")
    assert kinds(mailing_api, anna["id"])[:3] == ["link_requested", "invited", "mailed"]


def test_the_answer_is_the_same_for_a_known_and_an_unknown_address(
    mailing_api: Api, smtp_server: Inbox
) -> None:
    mailing_api.create_influencer("anna")
    known = _ask(mailing_api.client, "anna@example.com")
    unknown = _ask(mailing_api.client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert known.data == unknown.data
    assert sorted(known.headers.items()) == sorted(unknown.headers.items())
    smtp_server.wait(1)

    def unknown_recorded() -> bool:
        with mailing_api.app.extensions["afftrack"].db.engine.connect() as conn:
            from sqlalchemy import text

            return bool(
                conn.execute(
                    text("SELECT count(*) FROM portal_events WHERE influencer_id IS NULL")
                ).scalar_one()
            )

    wait_for(unknown_recorded, 10, "the unknown address in the record")
    assert len(smtp_server.messages) == 1


def test_asking_too_often_sends_no_more_links(mailing_api: Api, smtp_server: Inbox) -> None:
    anna = mailing_api.create_influencer("anna")
    for _ in range(5):
        assert _ask(mailing_api.client, "anna@example.com").status_code == 200
    # Three sent, and the refusal of the next two recorded once.
    wait_for(lambda: kinds(mailing_api, anna["id"]).count("link_requested") == 4, 10, "4 events")
    smtp_server.wait(3)
    assert len(smtp_server.messages) == 3
    reasons = [e["reason"] for e in events(mailing_api, anna["id"]) if e["reason"]]
    assert reasons == ["not sent: too many links in the hour"]


def test_the_new_link_form_refuses_a_missing_address_and_a_missing_token(
    mailing_api: Api, smtp_server: Inbox
) -> None:
    mailing_api.create_influencer("anna")
    empty = _ask(mailing_api.client, "  ")
    assert empty.status_code == 422
    assert "Enter your e-mail address" in empty.text
    no_token = mailing_api.client.post("/portal/new-link", data={"email": "anna@example.com"})
    assert no_token.status_code == 400
    assert mailing_api.rows("portal_events") == 0
    assert mailing_api.rows("portal_invites") == 0
