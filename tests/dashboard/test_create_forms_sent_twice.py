"""A dashboard create form sent twice — a double click, the browser sending again after
a slow answer, Back and send — makes one thing: its one-time token is claimed for the
key before anything is made, and the second answer leads to what the first made. A
refused form keeps its token and makes nothing, so the corrected form is made once; a
fresh page (a new token) makes another. For the six create forms, through the Flask
client on the real pages, on PostgreSQL and SQLite; two sendings at the same moment on
PostgreSQL."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from service.influencers.models import Influencer
from tests.dashboard.test_campaign_pages import filled as campaign_filled
from tests.dashboard.test_influencer_pages import filled as influencer_filled
from tests.dashboard.test_post_pages import filled as post_filled
from tests.support.app import Api
from tests.support.dashboard_session import csrf, log_in, log_in_with
from tests.support.waiting import wait_for

pytestmark = pytest.mark.frozen_at("2026-10-10T09:00:00Z")


@dataclass(frozen=True)
class Story:
    """A campaign (shop.example, from 2026-09-01) with one partner, ben, who has the
    active code BEN10; cara is no partner (the API's answers)."""

    campaign: dict[str, Any]
    ben: dict[str, Any]
    cara: dict[str, Any]


def story(api: Api) -> Story:
    campaign = api.create_campaign("spring-26")
    ben = api.create_influencer("ben.bakes")
    cara = api.create_influencer("cara.cooks")
    api.add_partner(campaign["id"], ben["id"])
    api.create_promo_code(campaign["id"], ben["id"], "BEN10")
    return Story(campaign, ben, cara)


@dataclass(frozen=True)
class CreateForm:
    """One create form: where it is, where it is sent, what it holds filled in, a change
    the domain refuses, and a change that makes a second, different one (empty: the same
    again is allowed)."""

    table: str
    page: Callable[[Story], str]
    action: Callable[[Story], str]
    filled: Callable[[Story], dict[str, str]]
    refused: Callable[[Story], dict[str, str]]
    another: dict[str, str] = field(default_factory=dict)
    own_page: bool = True  # the first answer leads to the made object's own page


FORMS = {
    "influencer": CreateForm(
        table="influencers",
        page=lambda s: "/dashboard/influencers/new",
        action=lambda s: "/dashboard/influencers",
        filled=lambda s: influencer_filled("nora.knits"),
        refused=lambda s: {"handle": "ben.bakes"},  # taken
        another={"handle": "nora.two"},
    ),
    "campaign": CreateForm(
        table="campaigns",
        page=lambda s: "/dashboard/campaigns/new",
        action=lambda s: "/dashboard/campaigns",
        filled=lambda s: campaign_filled("autumn"),
        refused=lambda s: {"slug": "spring-26"},  # taken
        another={"slug": "winter", "name": "Winter"},
    ),
    "link": CreateForm(
        table="links",
        page=lambda s: f"/dashboard/links/new?campaign_id={s.campaign['id']}",
        action=lambda s: "/dashboard/links",
        filled=lambda s: {
            "campaign_id": s.campaign["id"],
            "influencer_id": s.ben["id"],
            "destination": "https://shop.example/bread?ref=bio",
            "platform": "instagram",
            "slug": "",
        },
        refused=lambda s: {"destination": "https://elsewhere.example/bread"},
    ),
    "promo code": CreateForm(
        table="promo_codes",
        page=lambda s: f"/dashboard/codes/new?campaign_id={s.campaign['id']}",
        action=lambda s: "/dashboard/codes",
        filled=lambda s: {
            "campaign_id": s.campaign["id"],
            "influencer_id": s.ben["id"],
            "code": "BEN15",
            "starts_at": "2026-10-01",
            "ends_at": "2026-12-31",
            "max_uses": "1,000",
        },
        refused=lambda s: {"code": "BEN10"},  # active already
        another={"code": "BEN20"},
    ),
    "post": CreateForm(
        table="deliverables",
        page=lambda s: "/dashboard/posts/new",
        action=lambda s: "/dashboard/posts",
        filled=lambda s: post_filled(s.campaign, s.ben),
        refused=lambda s: {"influencer_id": s.cara["id"]},  # no partner
    ),
    "objective": CreateForm(
        table="objectives",
        page=lambda s: f"/dashboard/campaigns/{s.campaign['id']}/objectives/new",
        action=lambda s: f"/dashboard/campaigns/{s.campaign['id']}/objectives",
        filled=lambda s: {
            "kpi": "clicks",
            "target": "5000",
            "starts_on": "",
            "deadline": "2026-10-31",
            "scope": "campaign",
            "influencer_id": "",
        },
        refused=lambda s: {"deadline": "2026-08-01"},  # before the campaign starts
        own_page=False,  # the campaign's page
    ),
}


def once(html: str) -> str:
    found = re.search(r'name="once" value="([^"]+)"', html)
    assert found, "no one-time token on the form"
    return found.group(1)


def opened(client: FlaskClient, path: str) -> dict[str, str]:
    """The hidden inputs of a freshly opened form: its CSRF token and one-time token."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    return {"csrf": csrf(page.text), "once": once(page.text)}


@pytest.mark.parametrize("kind", FORMS)
def test_the_same_form_sent_twice_makes_one(api: Api, kind: str) -> None:
    form, s = FORMS[kind], story(api)
    log_in(api, "write")
    sent = {**opened(api.client, form.page(s)), **form.filled(s)}
    before = api.rows(form.table)

    first = api.client.post(form.action(s), data=sent)
    second = api.client.post(form.action(s), data=sent)

    assert (first.status_code, second.status_code) == (303, 303), second.text
    assert second.headers["Location"] == first.headers["Location"]
    assert api.rows(form.table) == before + 1
    assert api.client.get(second.headers["Location"]).status_code == 200


@pytest.mark.parametrize("kind", FORMS)
def test_a_refused_form_corrected_and_sent_twice_makes_one(api: Api, kind: str) -> None:
    form, s = FORMS[kind], story(api)
    log_in(api, "write")
    hidden = opened(api.client, form.page(s))
    before = api.rows(form.table), api.rows("form_submissions")

    refused = api.client.post(form.action(s), data={**hidden, **form.filled(s), **form.refused(s)})
    assert refused.status_code in (409, 422), refused.text
    assert "Nothing was saved." in refused.text
    assert (api.rows(form.table), api.rows("form_submissions")) == before
    assert once(refused.text) == hidden["once"]  # the page sends the same token again

    corrected = {**hidden, **form.filled(s)}
    first = api.client.post(form.action(s), data=corrected)
    second = api.client.post(form.action(s), data=corrected)
    assert (first.status_code, second.status_code) == (303, 303), first.text
    assert second.headers["Location"] == first.headers["Location"]
    assert api.rows(form.table) == before[0] + 1


@pytest.mark.parametrize("kind", FORMS)
def test_a_form_opened_again_makes_another(api: Api, kind: str) -> None:
    form, s = FORMS[kind], story(api)
    log_in(api, "write")
    before = api.rows(form.table)
    one, other = opened(api.client, form.page(s)), opened(api.client, form.page(s))
    assert one["once"] != other["once"]

    first = api.client.post(form.action(s), data={**one, **form.filled(s)})
    second = api.client.post(form.action(s), data={**other, **form.filled(s), **form.another})

    assert (first.status_code, second.status_code) == (303, 303), second.text
    assert api.rows(form.table) == before + 2
    if form.own_page:
        assert second.headers["Location"] != first.headers["Location"]


def test_a_form_from_before_tokens_is_made_as_it_comes(api: Api) -> None:
    form, s = FORMS["link"], story(api)
    log_in(api, "write")
    page = api.client.get(form.page(s)).text
    sent = {"csrf": csrf(page), **form.filled(s)}  # no one-time token
    before = api.rows("links")
    for _ in range(2):
        assert api.client.post(form.action(s), data=sent).status_code == 303
    bad = {**sent, "once": "short"}  # not one of ours: as if there were none
    assert api.client.post(form.action(s), data=bad).status_code == 303
    assert api.rows("links") == before + 3
    assert api.rows("form_submissions") == 0


def test_a_form_whose_objective_was_deleted_since_makes_it_anew_only_from_a_new_token(
    api: Api,
) -> None:
    form, s = FORMS["objective"], story(api)
    log_in(api, "write")
    sent = {**opened(api.client, form.page(s)), **form.filled(s)}
    assert api.client.post(form.action(s), data=sent).status_code == 303
    made = api.get(f"/api/v1/campaigns/{s.campaign['id']}/objectives").json["items"][0]["id"]
    deleted = api.client.post(
        f"/dashboard/campaigns/{s.campaign['id']}/objectives/{made}/delete",
        data={"csrf": sent["csrf"]},
    )
    assert deleted.status_code == 303

    again = api.client.post(form.action(s), data=sent)  # Back, and send
    assert again.status_code == 409
    assert "what it made is no longer there" in again.text
    assert api.rows("objectives") == 0
    fresh = once(again.text)
    assert fresh != sent["once"]

    anew = api.client.post(form.action(s), data={**sent, "once": fresh})
    assert anew.status_code == 303
    assert api.rows("objectives") == 1


def _waiting(api: Api, backends: int) -> bool:
    """Whether ``backends`` transactions of the test database wait for a lock."""
    db = api.app.extensions["afftrack"].db
    with db.engine.connect() as conn:
        found = conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
        )
    return int(found or 0) >= backends


def test_the_same_form_sent_twice_at_the_same_moment_makes_one(pg_api: Api) -> None:
    """Both sendings are held in the middle — the one that claimed first making, behind
    a transaction of the test's own that holds the handle; the other behind that claim —
    then let go: one influencer, both answers lead to it."""
    api = pg_api
    form, s = FORMS["influencer"], story(api)
    tabs = [api.app.test_client() for _ in range(2)]  # one key, two windows
    for tab in tabs:
        log_in_with(tab, api.write_key)
    token = opened(tabs[0], form.page(s))["once"]
    sent = [{**opened(tab, form.page(s)), **form.filled(s), "once": token} for tab in tabs]
    before = api.rows("influencers")

    db = api.app.extensions["afftrack"].db
    holder = db.sessions()
    holder.add(Influencer(handle="nora.knits", name="Held", email="held@example.com"))
    holder.flush()  # the handle's index entry, uncommitted: a making waits for it

    answers: list[Any] = [None, None]
    start = threading.Barrier(2, timeout=10)

    def send(i: int) -> None:
        start.wait()
        answers[i] = tabs[i].post(form.action(s), data=sent[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: _waiting(api, 2), 10, "both sendings waiting")
    finally:
        holder.rollback()
        holder.close()
        for thread in threads:
            thread.join(30)

    assert [a.status_code for a in answers] == [303, 303], [a.text for a in answers]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    assert api.rows("influencers") == before + 1
    assert api.rows("form_submissions") == 1
