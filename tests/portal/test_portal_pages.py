"""What the influencer sees in the portal: each page holds their own figures, explained
in words, and refuses a value it cannot use in words; no page shows another influencer's
objects (every route with a URL parameter is tried, taken from the app's own list of
routes), and none shows anything without a session."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.portal import own, payout
from tests.portal.story import FROZEN_AT, REJECT_REASON, Story, build, db
from tests.support.app import Api
from tests.support.dashboard_session import csrf
from tests.support.portal import invite_path

pytestmark = FROZEN_AT

# Pages anyone may open: the door (signing in, asking for a link, signing out), the
# language choice and the script.
PUBLIC = {
    "portal.sign_in_page",
    "portal.sign_in",
    "portal.new_link",
    "portal.ask_new_link",
    "portal.sign_out",
    "portal.language",
    "portal.static",
}


def signed_in_client(api: Api, influencer_id: str) -> FlaskClient:
    """A browser of its own, signed in as the influencer."""
    client = api.app.test_client()
    path = invite_path(api, influencer_id)
    page = client.get(path)
    assert page.status_code == 200, page.text
    r = client.post(path, data={"csrf": csrf(page.text)})
    assert r.status_code == 303, r.text
    return client


def _text(html: str) -> str:
    """The page's words, tags dropped, spaces folded."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# The route that answers any address under /portal/ that is no page (tested in
# tests/portal/test_portal_languages.py): no object of anyone's behind it.
NO_SUCH_PAGE = "portal.no_such_page"


def portal_rules(app: Flask) -> list[Any]:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("portal.") and rule.endpoint != NO_SUCH_PAGE
    ]


def anna_values(api: Api, story: Story) -> dict[str, str]:
    """Each URL parameter of a portal route, filled with one of anna's own objects."""
    return {
        "link_id": story.anna.link_id,
        "campaign_id": story.campaign_id,
        "code_id": story.anna.code_id,
        "post_id": story.anna.post_id,
        "line_id": story.anna.line_ids[0],
        "period": "2026-09",
        "request_id": _payout_request(api, story),
    }


def _payout_request(api: Api, story: Story) -> str:
    """anna's open request for another payout e-mail (asking again is the same one)."""
    with db(api).session() as session:
        asked = payout.request_change(
            session, story.anna.id, "anna.payouts@example.com", f"portal:{story.anna.id}"
        )
        session.commit()
        return asked.request.id


def anna_identifiers(api: Api, story: Story) -> list[str]:
    """What would give anna's data away on a page."""
    link = api.get(f"/api/v1/links/{story.anna.link_id}").json
    return ["@anna", "anna", "ANNA15", link["code"], "•••0001", "•••0002", "10,00", "€10.00"]


def test_every_page_shows_the_influencers_own_figures(api: Api, frozen: Any) -> None:
    story = build(api, frozen)
    anna = signed_in_client(api, story.anna.id)
    link = api.get(f"/api/v1/links/{story.anna.link_id}").json

    home = _text(anna.get("/portal/").text)
    assert "Signed in as @anna" in home
    # September paid €10.00; its refund (-€10.00) netted October negative: carried.
    with db(api).read_session() as s:
        (balance,) = own.balances(s, story.anna.id)
    assert balance.carried_forward_minor < 0
    assert "carried forward from a closed month that ended negative" in home

    links = anna.get("/portal/links").text
    assert link["short_url"] in links and 'class="copy"' in links
    qr = anna.get(f"/portal/links/{story.anna.link_id}/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    assert b"<svg" in qr.data

    codes = _text(anna.get("/portal/codes").text)
    assert "ANNA15" in codes and "BEN10" not in codes
    campaigns = anna.get("/portal/campaigns").text
    assert "Autumn" in campaigns and "Solo" not in campaigns
    terms = _text(anna.get(f"/portal/campaigns/{story.campaign_id}").text)
    assert "14 days: a commission stays pending" in terms
    assert "10% of each order" in terms

    results = anna.get("/portal/results?start=2026-09-03&end=2026-09-08")
    assert results.status_code == 200
    words = _text(results.text)
    assert "Bots (not counted)" in words and "Unique" in words
    assert "•••0001" in words and "A-100001" not in words and "cust-" not in words

    lines = _text(anna.get("/portal/commissions").text)
    assert f"why: {REJECT_REASON}" in lines
    assert "due Nov 3, 2026" in lines  # the October 20 order: 14 days' hold
    rejected = _text(anna.get("/portal/commissions?status=rejected").text)
    assert REJECT_REASON in rejected and "due Nov 3" not in rejected

    statements = anna.get("/portal/statements").text
    assert "2026-09" in statements and "2026-10" in statements
    september = _text(anna.get("/portal/statements/2026-09").text)
    assert "€10.00" in september
    csv = anna.get("/portal/statements/2026-09/statement.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.headers["Content-Disposition"] == 'attachment; filename="statement-2026-09.csv"'
    with db(api).read_session() as s:
        assert csv.data == own.statement_csv(s, story.anna.id, "2026-09")

    posts = _text(anna.get("/portal/posts").text)
    assert "3%" in posts  # (100 likes + 50 comments) / 5,000 followers


def test_the_pages_speak_the_chosen_language(api: Api, frozen: Any) -> None:
    story = build(api, frozen)
    anna = signed_in_client(api, story.anna.id)
    page = anna.get("/portal/statements/2026-09")
    token = csrf(page.text)
    r = anna.post(
        "/portal/language",
        data={"csrf": token, "lang": "fr", "next": "/portal/statements/2026-09"},
    )
    assert r.status_code == 303 and r.headers["Location"] == "/portal/statements/2026-09"
    french = anna.get("/portal/statements/2026-09").text
    assert '<html lang="fr">' in french
    assert "10,00\xa0€" in french
    # A language not offered, or a form without its token: refused, nothing changes.
    assert anna.post("/portal/language", data={"csrf": token, "lang": "de"}).status_code == 400
    assert anna.post("/portal/language", data={"lang": "sv"}).status_code == 400
    assert '<html lang="fr">' in anna.get("/portal/").text
    # Elsewhere than the portal is never where the choice sends the browser.
    r = anna.post("/portal/language", data={"csrf": token, "lang": "en", "next": "//evil.example/"})
    assert r.headers["Location"] == "/portal/"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("/portal/results?start=yesterday", "year-month-day"),
        ("/portal/results?start=2026-09-10&end=2026-09-01", "last day is before the first"),
        ("/portal/results?start=2020-01-01&end=2026-09-01", "at most 366 days"),
        ("/portal/results?end=0001-01-05", "between the years 2000 and 2100"),
        ("/portal/results?start=0001-01-01&end=0001-01-05", "between the years 2000 and 2100"),
        ("/portal/results?start=9999-12-30&end=9999-12-31", "between the years 2000 and 2100"),
        ("/portal/statements/0001-01", "cannot use"),
        ("/portal/statements/9999-12/statement.csv", "cannot use"),
        ("/portal/results?after=%25%25", "cannot use"),
        ("/portal/commissions?status=lost", "one of the statuses"),
        ("/portal/commissions?after=nonsense!", "cannot use"),
        ("/portal/statements/September", "cannot use"),
        ("/portal/statements/2026-13/statement.csv", "cannot use"),
    ],
)
def test_a_value_the_page_cannot_use_is_refused_in_words(
    api: Api, frozen: Any, url: str, words: str
) -> None:
    anna = signed_in_client(api, api.create_influencer("anna")["id"])
    r = anna.get(url)
    assert 400 <= r.status_code < 500, (url, r.status_code)
    assert words in _text(r.text)
    assert '"error"' not in r.text  # a page, not the API's JSON


def test_another_influencers_objects_are_not_found_on_any_route(api: Api, frozen: Any) -> None:
    """Every portal route with a URL parameter, filled with anna's objects, asked by
    carol (signed in, partner of nothing anna is in): 404 and none of anna's data. The
    routes come from the app itself."""
    story = build(api, frozen)
    values = anna_values(api, story)
    carol = api.create_influencer("carol")
    anna, other = signed_in_client(api, story.anna.id), signed_in_client(api, carol["id"])
    tried = 0
    for rule in portal_rules(api.app):
        if not rule.arguments or rule.endpoint in PUBLIC or "GET" not in (rule.methods or ()):
            continue
        url = rule.build({name: values[name] for name in rule.arguments})[1]
        assert anna.get(url).status_code == 200, url  # hers: found
        r = other.get(url)
        assert r.status_code == 404, url
        text = r.get_data(as_text=True)
        assert "There is nothing here, or it is not yours to see." in _text(text)
        for value in [*anna_identifiers(api, story), *values.values()]:
            assert value not in text, (url, value)
        tried += 1
    assert tried >= 4


def test_every_portal_parameter_has_an_object_to_try(api: Api, frozen: Any) -> None:
    """A new portal route with a parameter fails here until the isolation test above
    knows which of anna's objects to fill it with."""
    story = build(api, frozen)
    known = set(anna_values(api, story))
    for rule in portal_rules(api.app):
        if rule.endpoint in PUBLIC:
            continue
        missing = set(rule.arguments) - known
        assert not missing, f"{rule.rule}: add {missing} to anna_values"


def test_no_portal_page_shows_anything_without_a_session(api: Api, frozen: Any) -> None:
    story = build(api, frozen)
    values = anna_values(api, story)
    stranger = api.app.test_client()
    stranger.set_cookie("afftrack_portal", "x" * 43, path="/portal")  # not a session
    for client in (api.app.test_client(), stranger):
        for rule in portal_rules(api.app):
            if rule.endpoint in PUBLIC:
                continue
            url = rule.build({name: values[name] for name in rule.arguments})[1]
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                r = client.open(url, method=method)
                assert r.status_code in (302, 303, 400, 401, 403), (method, url, r.status_code)
                if r.status_code in (302, 303):
                    assert r.headers["Location"].endswith("/portal/new-link"), url
                text = r.get_data(as_text=True)
                for value in anna_identifiers(api, story):
                    assert value not in text, (url, value)


def test_every_page_tells_the_servers_own_time(api: Api, frozen: Any) -> None:
    """``Server-Timing: app;dur=<ms>`` on each signed-in page, as the dashboard does
    (bench/portal.py reads it); never on the door, where it could tell a known address
    from an unknown one."""
    story = build(api, frozen)
    values = anna_values(api, story)
    anna = signed_in_client(api, story.anna.id)
    for rule in portal_rules(api.app):
        if "GET" not in (rule.methods or set()) or rule.endpoint in PUBLIC:
            continue
        url = rule.build({name: values[name] for name in rule.arguments})[1]
        r = anna.get(url)
        assert r.status_code == 200, (url, r.status_code)
        assert re.fullmatch(r"app;dur=\d+\.\d", r.headers.get("Server-Timing", "")), url
    door = api.app.test_client()
    for url in ("/portal/new-link", "/portal/", invite_path(api, story.ben.id)):
        assert "Server-Timing" not in door.get(url).headers, url
    assert "Server-Timing" not in door.post("/portal/new-link", data={}).headers


def test_a_place_in_a_statements_lines_not_theirs_is_refused_in_words(
    api: Api, frozen: Any
) -> None:
    story = build(api, frozen)
    anna = signed_in_client(api, story.anna.id)
    with db(api).read_session() as s:
        bens = own.statement(s, story.ben.id, "2026-10").lines[0].id
        hers = own.statement(s, story.anna.id, "2026-10", limit=1).lines[0].id
    later = anna.get(f"/portal/statements/2026-10?after={hers}")
    assert later.status_code == 200 and 'id="more-lines"' not in later.text
    for place in (bens, "cml_unknown"):
        r = anna.get(f"/portal/statements/2026-10?after={place}")
        assert r.status_code == 422, (place, r.status_code)
        assert "cannot use" in _text(r.text) and "•••" not in r.text
