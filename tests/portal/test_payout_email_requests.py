"""Asking at the portal for another payout e-mail: nothing changes until the brand
confirms; one open request at a time (another address replaces it, the same address is
the same request); the brand confirms or declines through the API and the dashboard;
both sides read the history; the addresses on file are told by mail. On PostgreSQL and
SQLite."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from sqlalchemy import select

from service.audit.models import AuditEntry
from tests.portal.story import db
from tests.support.app import Api
from tests.support.dashboard_session import csrf, log_in
from tests.support.mail import Inbox
from tests.support.portal import events, invite_path, signed_in


def _anna(api: Api, **extra: Any) -> dict[str, Any]:
    anna = api.create_influencer("anna", payout_email="pay@anna.example", **extra)
    signed_in(api, invite_path(api, anna["id"]))
    return anna


def _ask(api: Api, email: str) -> Any:
    page = api.client.get("/portal/payout")
    assert page.status_code == 200, page.text
    return api.client.post("/portal/payout", data={"csrf": csrf(page.text), "email": email})


def _requests(api: Api, influencer_id: str) -> list[dict[str, Any]]:
    r = api.get(f"/api/v1/influencers/{influencer_id}/payout-requests")
    assert r.status_code == 200, r.json
    return list(r.json["items"])


def _payout_email(api: Api, influencer_id: str) -> str:
    return str(api.get(f"/api/v1/influencers/{influencer_id}").json["payout_email"])


def _error(html: str) -> str:
    found = re.search(r'<span class="error" id="email-error">([^<]*)</span>', html)
    assert found, "no refusal beside the e-mail input"
    return unescape(found.group(1))


def test_a_request_changes_nothing_until_the_brand_confirms_it(api: Api) -> None:
    anna = _anna(api)
    page = api.client.get("/portal/payout").text
    assert 'id="payout-email">pay@anna.example<' in page
    r = _ask(api, "new@anna.example")
    assert r.status_code == 303 and r.headers["Location"].endswith("/portal/payout?done=asked")
    [asked] = _requests(api, anna["id"])
    assert asked["email"] == "new@anna.example" and asked["status"] == "requested"
    assert _payout_email(api, anna["id"]) == "pay@anna.example"
    page = api.client.get("/portal/payout").text
    assert "The brand has not confirmed it yet" in page
    assert "waiting for the brand" in page
    r = api.post(f"/api/v1/payout-requests/{asked['id']}/confirm")
    assert r.status_code == 200, r.json
    assert r.json["status"] == "confirmed" and r.json["decided_by"]
    assert _payout_email(api, anna["id"]) == "new@anna.example"
    # Confirming again changes nothing.
    assert api.post(f"/api/v1/payout-requests/{asked['id']}/confirm").status_code == 200
    page = api.client.get("/portal/payout").text
    assert 'id="payout-email">new@anna.example<' in page
    assert "confirmed" in page
    # The change is in the influencer's audit trail, made by the key that confirmed.
    with db(api).read_session() as s:
        changed = s.execute(
            select(AuditEntry.actor, AuditEntry.changes).where(
                AuditEntry.subject_id == anna["id"],
                AuditEntry.kind == "influencer",
                AuditEntry.action == "changed",
            )
        ).all()
    [(actor, change)] = [(a, c) for a, c in changed if "payout_email" in c]
    assert change["payout_email"] == ["pay@anna.example", "new@anna.example"]
    assert actor == r.json["decided_by"]


def test_one_open_request_another_address_replaces_it_the_same_is_the_same(
    api: Api, frozen: Any
) -> None:
    anna = _anna(api)
    assert _ask(api, "one@anna.example").status_code == 303
    assert _ask(api, "ONE@anna.example").status_code == 303  # the same request again
    assert [r["status"] for r in _requests(api, anna["id"])] == ["requested"]
    frozen.set("2026-10-01T10:00:00Z")
    assert _ask(api, "two@anna.example").status_code == 303
    first, second = _requests(api, anna["id"])
    assert (first["status"], second["status"]) == ("withdrawn", "requested")
    assert first["reason"] == "replaced by a request for another address"
    assert first["decided_by"] == f"portal:{anna['id']}"
    # A replaced request can no longer be confirmed.
    r = api.post(f"/api/v1/payout-requests/{first['id']}/confirm")
    assert r.status_code == 409
    assert "withdrew it or asked for another address" in r.json["error"]["message"]
    assert _payout_email(api, anna["id"]) == "pay@anna.example"
    # The influencer withdraws the open one.
    page = api.client.get("/portal/payout").text
    r = api.client.post(f"/portal/payout/{second['id']}/withdraw", data={"csrf": csrf(page)})
    assert r.status_code == 303
    assert [x["status"] for x in _requests(api, anna["id"])] == ["withdrawn", "withdrawn"]


def test_bad_addresses_are_refused_in_words_and_nothing_is_stored(api: Api) -> None:
    anna = _anna(api)
    for typed, words in (
        ("", "Fill this in."),
        ("not-an-address", "Enter an email address, such as name@example.com."),
        ("PAY@anna.example", "This is your payout e-mail already."),
    ):
        r = _ask(api, typed)
        assert r.status_code == 422, (typed, r.text)
        assert _error(r.text) == words
    page = api.client.get("/portal/payout").text
    r = api.client.post("/portal/payout", data={"csrf": "forged", "email": "x@anna.example"})
    assert r.status_code == 400
    assert "You have not asked for a change yet" in page
    assert _requests(api, anna["id"]) == []


def test_the_brand_declines_with_a_reason_the_influencer_reads(api: Api) -> None:
    anna = _anna(api)
    _ask(api, "new@anna.example")
    [asked] = _requests(api, anna["id"])
    r = api.post(f"/api/v1/payout-requests/{asked['id']}/decline", {"reason": ""})
    assert r.status_code == 422
    r = api.post(f"/api/v1/payout-requests/{asked['id']}/decline", {"reason": "use PayPal"})
    assert r.status_code == 200 and r.json["status"] == "declined"
    assert api.post(f"/api/v1/payout-requests/{asked['id']}/confirm").status_code == 409
    assert _payout_email(api, anna["id"]) == "pay@anna.example"
    page = api.client.get("/portal/payout").text
    assert "declined" in page and "use PayPal" in page
    assert api.post("/api/v1/payout-requests/pcr_unknown/confirm").status_code == 404
    assert api.get("/api/v1/influencers/inf_unknown/payout-requests").status_code == 404


def test_another_influencers_request_is_not_theirs_to_withdraw(api: Api) -> None:
    ben = api.create_influencer("ben")
    signed_in(api, invite_path(api, ben["id"]))
    _ask(api, "ben.new@example.com")
    [bens] = _requests(api, ben["id"])
    _anna(api)  # the client is now anna's
    page = api.client.get("/portal/payout").text
    r = api.client.post(f"/portal/payout/{bens['id']}/withdraw", data={"csrf": csrf(page)})
    assert r.status_code == 404
    assert [x["status"] for x in _requests(api, ben["id"])] == ["requested"]


def test_the_dashboard_lists_open_requests_to_confirm_or_decline(api: Api) -> None:
    anna = _anna(api)
    _ask(api, "new@anna.example")
    _ask_other = _requests(api, anna["id"])[0]
    log_in(api, "write")
    page = api.client.get(f"/dashboard/influencers/{anna['id']}")
    assert page.status_code == 200
    assert "new@anna.example" in page.text and 'id="payout-requests"' in page.text
    r = api.client.post(
        f"/dashboard/influencers/{anna['id']}/payout-requests/{_ask_other['id']}/decline",
        data={"csrf": csrf(page.text), "reason": ""},
    )
    assert r.status_code == 422
    assert "Fill this in." in r.text or "Shorter than minimum length 1." in r.text
    r = api.client.post(
        f"/dashboard/influencers/{anna['id']}/payout-requests/{_ask_other['id']}/confirm",
        data={"csrf": csrf(page.text)},
    )
    assert r.status_code == 303, r.text
    assert _payout_email(api, anna["id"]) == "new@anna.example"
    page = api.client.get(f"/dashboard/influencers/{anna['id']}").text
    assert "the influencer, at the portal" in page  # who asked, in the history


def test_the_addresses_on_file_are_told_of_a_request(mailing_api: Api, smtp_server: Inbox) -> None:
    anna = _anna(mailing_api)
    smtp_server.wait(1)  # the sign-in link
    assert _ask(mailing_api, "thief@elsewhere.example").status_code == 303
    mails = smtp_server.wait(3)[1:]
    assert sorted(m["To"] for m in mails) == ["anna@example.com", "pay@anna.example"]
    for mail in mails:
        body = mail.get_body(("plain",))
        assert body is not None
        assert "thief@elsewhere.example" in body.get_content()
        assert "Nothing changes until the brand confirms it" in body.get_content()
    assert all(rcpt != ["thief@elsewhere.example"] for rcpt, _mail in smtp_server.messages)
    assert _told(mailing_api, anna["id"]) == 2
    # The same request sent again mails nothing more.
    _ask(mailing_api, "thief@elsewhere.example")
    assert _told(mailing_api, anna["id"]) == 2
    assert len(smtp_server.messages) == 3


def _told(api: Api, influencer_id: str) -> int:
    return sum(
        1
        for e in events(api, influencer_id)
        if e["kind"] == "mailed" and e["reason"] == "payout e-mail change notice"
    )
