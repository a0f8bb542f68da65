"""A link's QR code (docs/product.md §2 "QR codes"): the image holds the short URL marked
``?qr=1``; following it redirects exactly as a click does and the click is stored and
reported as a QR scan. On PostgreSQL + Redis (through the stream and the worker) and on
the embedded SQLite default."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
import zxingcpp
from PIL import Image

from tests.support.app import Api
from tests.support.redirects import (
    Tracked,
    click_id,
    location_params,
    stored_clicks,
    tracked_link,
    visit,
)
from tests.support.visitors import ANDROID_CHROME

SVG = "{http://www.w3.org/2000/svg}"


def qr(api: Api, link: Tracked, kind: str, query: str = "") -> object:
    return api.get(f"/api/v1/links/{link.link['id']}/qr.{kind}" + (f"?{query}" if query else ""))


def decoded(png: bytes) -> str:
    """What a phone's camera reads off the PNG."""
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert found.format == zxingcpp.BarcodeFormat.QRCode
    return str(found.text)


def follow(api: Api, url: str, **how: str) -> object:
    """Open a URL read off a QR code, as the phone's browser does."""
    parts = urlsplit(url)
    assert parts.path.startswith("/r/")
    return visit(api, parts.path.removeprefix("/r/"), query=parts.query, **how)


def report(api: Api, link: Tracked) -> dict:
    r = api.get(
        f"/api/v1/reports/campaigns/{link.campaign['id']}?from=2026-10-01&to=2026-10-01"
        "&group_by=link"
    )
    assert r.status_code == 200, r.json
    return dict(r.json)


def test_the_png_holds_the_short_url_marked_as_a_scan(api):
    link = tracked_link(api)
    r = qr(api, link, "png")
    assert r.status_code == 200
    assert r.mimetype == "image/png"
    assert r.headers["Content-Disposition"] == f'attachment; filename="{link.code}.png"'
    assert decoded(r.data) == f"{link.link['short_url']}?qr=1"


def test_the_svg_is_an_svg_document_of_the_asked_size(api):
    link = tracked_link(api)
    small, large = qr(api, link, "svg", "scale=2"), qr(api, link, "svg", "scale=10")
    for r in (small, large):
        assert r.status_code == 200
        assert r.mimetype == "image/svg+xml"
        assert r.headers["Content-Disposition"] == f'attachment; filename="{link.code}.svg"'
    root = ET.fromstring(small.data)
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}path") is not None
    width, height = int(root.attrib["width"]), int(root.attrib["height"])
    assert width == height
    assert int(ET.fromstring(large.data).attrib["width"]) == width * 5


def test_the_png_scale_sets_its_pixels_per_module(api):
    link = tracked_link(api)
    one = Image.open(io.BytesIO(qr(api, link, "png", "scale=1").data))
    eight = Image.open(io.BytesIO(qr(api, link, "png").data))  # the default
    assert eight.size == (one.size[0] * 8, one.size[1] * 8)


@pytest.mark.parametrize("scale", ["0", "41", "-3", "big", "2.5", ""])
@pytest.mark.parametrize("kind", ["png", "svg"])
def test_a_bad_scale_is_refused(api, kind, scale):
    r = qr(api, tracked_link(api), kind, f"scale={scale}")
    assert r.status_code == 422
    assert "scale" in r.json["error"]["fields"]


def test_an_unknown_parameter_or_link_is_refused(api):
    link = tracked_link(api)
    assert qr(api, link, "png", "size=3").status_code == 422
    r = api.get("/api/v1/links/lnk_nothing/qr.svg")
    assert r.status_code == 404


def test_the_qr_code_needs_a_read_key(api):
    link = tracked_link(api)
    r = api.get(f"/api/v1/links/{link.link['id']}/qr.png", key=None)
    assert r.status_code == 401


def test_a_scan_redirects_as_a_click_and_counts_as_a_qr_scan(api):
    link = tracked_link(api)
    url = decoded(qr(api, link, "png").data)

    scan = follow(api, url)
    click = visit(api, link.code, ua=ANDROID_CHROME)

    assert scan.status_code == click.status_code == 302
    scanned, clicked = location_params(scan), location_params(click)
    assert scanned.pop("aff_click") != clicked.pop("aff_click")
    assert scanned == clicked  # the same destination, utm_* and all
    assert "qr" not in scanned  # the marker stays with afftrack
    assert "qr=" not in scan.headers["Location"]
    assert scan.headers["Location"].split("?")[0] == click.headers["Location"].split("?")[0]

    clicks = stored_clicks(api)
    assert clicks[click_id(scan)]["source"] == "qr"
    assert clicks[click_id(click)]["source"] == "link"
    assert clicks[click_id(scan)]["is_unique"] is True  # a scan is a click like any other

    body = report(api, link)
    (row,) = body["rows"]
    assert (row["clicks"], row["qr_scans"], row["unique_clicks"]) == (2, 1, 2)
    assert (body["totals"]["clicks"], body["totals"]["qr_scans"]) == (2, 1)


@pytest.mark.parametrize(
    ("query", "source"),
    [
        ("qr=1", "qr"),
        ("utm_x=y&qr=1", "qr"),
        ("qr=1&fbclid=abc", "qr"),
        ("qr=0", "link"),
        ("qr=10", "link"),
        ("fbclid=abc", "link"),
        ("xqr=1", "link"),
    ],
)
def test_only_the_marker_makes_a_click_a_scan(api, query, source):
    link = tracked_link(api)
    r = visit(api, link.code, query=query)
    assert r.status_code == 302
    params = location_params(r)
    assert "qr" not in params and "fbclid" not in params  # nothing of the query goes on
    assert stored_clicks(api)[click_id(r)]["source"] == source


def test_a_crawler_following_the_qr_url_is_a_bot_click_not_a_scan(api):
    link = tracked_link(api)
    r = visit(api, link.code, query="qr=1", ua="facebookexternalhit/1.1")
    assert r.status_code == 302
    stored = stored_clicks(api)[click_id(r)]
    assert (stored["source"], stored["is_bot"]) == ("qr", True)
    totals = report(api, link)["totals"]
    assert (totals["clicks"], totals["bot_clicks"], totals["qr_scans"]) == (0, 1, 0)


def test_a_paused_link_scanned_falls_back_and_still_counts_its_source(api):
    link = tracked_link(api)
    api.patch(f"/api/v1/links/{link.link['id']}", {"status": "paused"})
    r = visit(api, link.code, query="qr=1")
    assert r.headers["Location"] == link.campaign["fallback_url"]
    (stored,) = stored_clicks(api).values()
    assert (stored["outcome"], stored["source"]) == ("fallback", "qr")
