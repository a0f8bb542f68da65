"""Logging the test client into the dashboard, reading its forms' CSRF token and the
refusals a page shows beside its inputs."""

from __future__ import annotations

import re
from html import unescape

from flask.testing import FlaskClient

from tests.support.app import Api


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def log_in(api: Api, scope: str = "read") -> str:
    """Open a dashboard session with a new key of ``scope``; the key."""
    token = api.make_key(scope)
    log_in_with(api.client, token)
    return token


def log_in_with(client: FlaskClient, token: str) -> None:
    """Open a dashboard session in ``client`` with the API key ``token``."""
    page = client.get("/dashboard/login")
    r = client.post(
        "/dashboard/login", data={"csrf": csrf(page.text), "api_key": token, "next": "/dashboard/"}
    )
    assert r.status_code == 303, r.text


def field_errors(html: str) -> dict[str, list[str]]:
    """The refusals the page shows, by input name."""
    found: dict[str, list[str]] = {}
    for name, text in re.findall(r'<span class="field-error" id="e-([^"]*)">([^<]*)</span>', html):
        found.setdefault(name, []).append(unescape(text))
    return found
