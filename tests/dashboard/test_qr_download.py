"""A link's QR code from the dashboard: the same image as the API's, shown in the page or
downloaded as a file named after the link's code; logged-in keys of either scope only."""

from __future__ import annotations

import pytest

from tests.redirect.test_qr import decoded
from tests.support.app import Api
from tests.support.dashboard_session import log_in
from tests.support.redirects import tracked_link


@pytest.mark.frozen_at("2026-10-01T12:00:00+00:00")
def test_the_dashboards_png_is_the_apis_and_holds_the_marked_short_url(api: Api) -> None:
    link = tracked_link(api)
    log_in(api, "read")
    path = f"/dashboard/links/{link.link['id']}/qr.png"
    shown = api.client.get(path)
    assert shown.status_code == 200 and shown.mimetype == "image/png"
    assert "Content-Disposition" not in shown.headers
    assert shown.data == api.get(f"/api/v1/links/{link.link['id']}/qr.png").data
    assert decoded(shown.data) == link.link["short_url"] + "?qr=1"

    file = api.client.get(path, query_string={"download": "1", "scale": "4"})
    assert file.headers["Content-Disposition"] == f'attachment; filename="{link.link["code"]}.png"'
    assert file.data == api.get(f"/api/v1/links/{link.link['id']}/qr.png?scale=4").data

    svg = api.client.get(f"/dashboard/links/{link.link['id']}/qr.svg", query_string={"download": 1})
    assert svg.mimetype == "image/svg+xml"
    assert svg.headers["Content-Disposition"].endswith(f'{link.link["code"]}.svg"')


@pytest.mark.frozen_at("2026-10-01T12:00:00+00:00")
@pytest.mark.parametrize("query", [{"scale": "0"}, {"scale": "41"}, {"scale": "big"}])
def test_a_bad_size_is_a_clear_400(api: Api, query: dict[str, str]) -> None:
    link = tracked_link(api)
    log_in(api, "read")
    r = api.client.get(f"/dashboard/links/{link.link['id']}/qr.png", query_string=query)
    assert r.status_code == 400
    assert "whole number from 1 to 40" in r.text


@pytest.mark.frozen_at("2026-10-01T12:00:00+00:00")
def test_an_unknown_format_or_link_is_404_and_no_session_goes_to_the_login(api: Api) -> None:
    link = tracked_link(api)
    r = api.client.get(f"/dashboard/links/{link.link['id']}/qr.png")
    assert r.status_code == 302 and "/dashboard/login" in r.headers["Location"]
    log_in(api, "read")
    assert api.client.get(f"/dashboard/links/{link.link['id']}/qr.gif").status_code == 404
    assert api.client.get("/dashboard/links/lnk_nothing/qr.png").status_code == 404
