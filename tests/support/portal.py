"""The portal's steps in tests: inviting through the API, opening a link's page and
pressing Sign in with the page's own CSRF token, filling a portal form, reading the
refusals shown beside its inputs."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from tests.support.app import Api
from tests.support.dashboard_session import csrf
from tests.support.mail import path_of

COOKIE = "afftrack_portal"


def invite(api: Api, influencer_id: str) -> dict[str, Any]:
    r = api.post(f"/api/v1/influencers/{influencer_id}/portal-invites")
    assert r.status_code == 201, r.json
    return dict(r.json)


def invite_path(api: Api, influencer_id: str) -> str:
    return path_of(invite(api, influencer_id)["sign_in_url"])


def press_sign_in(api: Api, path: str) -> Any:
    """Open the link's page and press its button; the answer to the press."""
    page = api.client.get(path)
    assert page.status_code == 200, page.text
    return api.client.post(path, data={"csrf": csrf(page.text)})


def signed_in(api: Api, path: str) -> str:
    """Sign in with the link at ``path``; the session cookie's value."""
    r = press_sign_in(api, path)
    assert r.status_code == 303, r.text
    assert r.headers["Location"].endswith("/portal/")
    return session_cookie(api)


def session_cookie(api: Api) -> str:
    cookie = api.client.get_cookie(COOKIE, path="/portal")
    assert cookie is not None, "no portal session cookie"
    return cookie.value


def events(api: Api, influencer_id: str) -> list[dict[str, Any]]:
    r = api.get(f"/api/v1/influencers/{influencer_id}/portal-events?limit=200")
    assert r.status_code == 200, r.json
    return list(r.json["items"])


def kinds(api: Api, influencer_id: str) -> list[str]:
    return [e["kind"] for e in events(api, influencer_id)]


def post_form(api: Api, **values: str) -> dict[str, str]:
    """The post form as the page gives it (its CSRF and one-time tokens), filled with
    ``values``."""
    page = api.client.get("/portal/posts/new")
    assert page.status_code == 200, page.text
    once = re.search(r'name="once" value="([^"]+)"', page.text)
    assert once
    return {"csrf": csrf(page.text), "once": once.group(1), **values}


def refusals(html: str) -> dict[str, str]:
    """The refusal a portal page shows beside each input, by input name."""
    return {
        name: unescape(text)
        for name, text in re.findall(r'<span class="error" id="([^"]+)-error">([^<]*)</span>', html)
    }
