"""The dashboard: login with an API key, the campaign list and one campaign's
page, whose every figure must equal the report API's. On PostgreSQL and SQLite."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from sqlalchemy import text

from service.dashboard.views import KPI_NAMES
from tests.support.app import Api
from tests.support.dashboard_data import Seeded, seed_campaign
from tests.support.dashboard_session import csrf, log_in
from tests.support.report_story import story


@pytest.fixture
def seeded(api: Api, frozen: Any) -> Seeded:
    return seed_campaign(api, frozen)


def number(text: str) -> Decimal | None:
    """A figure as the page writes it, back to a number: "EUR 1,234.50" → 1234.50,
    "3.20 %" → 0.0320 (a percentage is a ratio times 100), an en dash → None."""
    text = unescape(text).strip()
    if text == "\u2013":
        return None
    percent = text.endswith("%")
    text = re.sub(r"^[A-Z]{3} ", "", text.rstrip("% ")).replace(",", "")
    value = Decimal(text)
    return value / 100 if percent else value


def api_number(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def tiles(html: str) -> dict[tuple[str, str | None], str]:
    found = re.findall(
        r'<span class="value" data-kpi="([a-z_]+)"(?: data-currency="([A-Z]{3})")?>([^<]*)</span>',
        html,
    )
    return {(kpi, cur or None): text for kpi, cur, text in found}


def table_rows(html: str, table_id: str, key_attr: str) -> list[tuple[str, dict[str, str]]]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    out = []
    for key, row in re.findall(rf'<tr {key_attr}="([^"]+)">(.*?)</tr>', body, re.S):
        cells = dict(re.findall(r'data-col="([a-z_]+)">([^<]*)</td>', row))
        out.append((key, cells))
    return out


def report(api: Api, campaign_id: str, start: str, end: str, group_by: str) -> dict:
    r = api.get(
        f"/api/v1/reports/campaigns/{campaign_id}?from={start}&to={end}&group_by={group_by}"
    )
    assert r.status_code == 200, r.json
    return r.json


# --- login -----------------------------------------------------------------------------------


def test_pages_need_a_login_and_a_bad_key_opens_nothing(api: Api, seeded: Seeded) -> None:
    cid = seeded.campaign["id"]
    r = api.client.get(f"/dashboard/campaigns/{cid}?kpi=clicks")
    assert r.status_code == 302
    assert r.headers["Location"] == f"/dashboard/login?next=/dashboard/campaigns/{cid}?kpi%3Dclicks"
    page = api.client.get("/dashboard/login")
    token = csrf(page.text)
    for data, status, message in (
        ({"api_key": "aft_" + "x" * 43}, 401, "That API key is not valid."),
        ({"api_key": "   "}, 400, "Enter an API key."),
        ({}, 400, "Enter an API key."),
        ({"api_key": "aft_" + "y" * 300}, 401, "That API key is not valid."),
    ):
        r = api.client.post("/dashboard/login", data={"csrf": token, **data})
        assert r.status_code == status
        assert message in r.text
        assert api.client.get("/dashboard/").status_code == 302
    # A real key without this session's CSRF token is refused too.
    good = api.make_key("read")
    r = api.client.post("/dashboard/login", data={"csrf": "forged", "api_key": good})
    assert r.status_code == 400
    assert api.client.get("/dashboard/").status_code == 302


def test_login_follows_next_but_only_within_the_dashboard(api: Api, seeded: Seeded) -> None:
    cid = seeded.campaign["id"]
    for target, expected in (
        (f"/dashboard/campaigns/{cid}", f"/dashboard/campaigns/{cid}"),
        ("https://evil.example/dashboard/", "/dashboard/"),
        ("//evil.example/dashboard/", "/dashboard/"),
        ("/\\evil.example", "/dashboard/"),
        ("/api/v1/campaigns", "/dashboard/"),
    ):
        client = api.app.test_client()  # a browser of its own, not logged in
        page = client.get("/dashboard/login")
        r = client.post(
            "/dashboard/login",
            data={"csrf": csrf(page.text), "api_key": api.make_key("read"), "next": target},
        )
        assert r.status_code == 303
        assert r.headers["Location"] == expected


def test_the_session_cookie_and_the_page_headers(api: Api, seeded: Seeded) -> None:
    token = api.make_key("read")
    page = api.client.get("/dashboard/login")
    r = api.client.post("/dashboard/login", data={"csrf": csrf(page.text), "api_key": token})
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("afftrack_dashboard=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/dashboard" in cookie
    assert "Secure" in cookie  # the tests' AFFTRACK_PUBLIC_URL is https
    assert token not in cookie and token[10:] not in cookie  # the key itself is never stored
    r = api.client.get("/dashboard/")
    assert r.status_code == 200
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Cache-Control"] == "no-store"


def test_revoking_the_key_ends_its_dashboard_session(api: Api, seeded: Seeded) -> None:
    log_in(api)
    assert api.client.get("/dashboard/").status_code == 200
    with api.app.extensions["afftrack"].db.engine.connect() as conn:
        ids = [row[0] for row in conn.execute(text("SELECT id FROM api_keys"))]
    runner = api.app.test_cli_runner()
    for key in ids:
        result = runner.invoke(args=["keys", "revoke", key])
        assert result.exit_code == 0, result.output
        assert "revoked" in result.output
    unknown = runner.invoke(args=["keys", "revoke", "key_nope"])
    assert unknown.exit_code != 0
    assert "no API key 'key_nope'" in unknown.output  # a message, not a traceback
    r = api.client.get("/dashboard/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/dashboard/login")


def test_logout_needs_the_csrf_token_and_ends_the_session(api: Api, seeded: Seeded) -> None:
    log_in(api)
    assert api.client.post("/dashboard/logout", data={"csrf": "nope"}).status_code == 400
    assert api.client.get("/dashboard/").status_code == 200
    page = api.client.get("/dashboard/")
    r = api.client.post("/dashboard/logout", data={"csrf": csrf(page.text)})
    assert r.status_code == 303
    assert api.client.get("/dashboard/").status_code == 302


# --- pages -----------------------------------------------------------------------------------


def test_the_campaign_list(api: Api, seeded: Seeded) -> None:
    api.create_campaign("later", name="Later one", starts_on="2026-12-01")
    log_in(api)
    html = api.client.get("/dashboard/").text
    assert "Autumn &lt;launch&gt; &amp; co" in html and "<launch>" not in html
    rows = re.findall(r'<tr data-campaign-id="([^"]+)">(.*?)</tr>', html, re.S)
    assert [cid for cid, _ in rows][-1] == seeded.campaign["id"]  # newest start first
    first = dict(rows)[seeded.campaign["id"]]
    assert "state-running" in first
    assert re.findall(r'class="num">([^<]*)</td>', first) == ["3", "4"]  # partners, links
    assert "state-upcoming" in rows[0][1]


def test_the_campaign_page_shows_the_report_apis_figures(api: Api, seeded: Seeded) -> None:
    log_in(api)
    cid = seeded.campaign["id"]
    html = api.client.get(f"/dashboard/campaigns/{cid}").text
    # The default range: the campaign's days up to today (at most 30).
    assert 'name="from" value="2026-10-01"' in html and 'name="to" value="2026-10-15"' in html
    totals = report(api, cid, "2026-10-01", "2026-10-15", "influencer")["totals"]
    assert totals["clicks"] > 300 and totals["conversions"] > 5  # the seed made a real month
    assert 0 < totals["qr_scans"] < totals["clicks"]
    shown = tiles(html)
    for name in (
        "clicks",
        "unique_clicks",
        "bot_clicks",
        "qr_scans",
        "conversions",
        "conversion_rate",
    ):
        assert number(shown[(name, None)]) == api_number(totals[name]), name
    for name in ("deliverables", "impressions", "reach"):
        assert number(shown[(name, None)]) == api_number(totals[name]), name
    for method, n in totals["conversions_by_method"].items():
        assert number(shown[(f"by_{method}", None)]) == n, method
    assert set(totals["money"]) == {"EUR"}
    for name in ("revenue", "cost", "epc", "roi"):
        assert number(shown[(name, "EUR")]) == api_number(totals["money"]["EUR"][name]), name

    # The chart: one bar per day of the range, each with that day's report figures.
    by_day = {
        row["key"]: row for row in report(api, cid, "2026-10-01", "2026-10-15", "day")["rows"]
    }
    bars = re.findall(r'data-day="([0-9-]+)" data-clicks="(\d+)" data-conversions="(\d+)"', html)
    days = [(date(2026, 10, 1) + timedelta(days=i)).isoformat() for i in range(15)]
    assert [day for day, _, _ in bars] == days
    for day, clicks, conversions in bars:
        row = by_day.get(day, {"clicks": 0, "conversions": 0})
        assert (int(clicks), int(conversions)) == (row["clicks"], row["conversions"]), day

    # The links: every link of the campaign, its short URL as the API gives it.
    links = table_rows(html, "links", "data-link-id")
    by_link = {
        row["key"]: row for row in report(api, cid, "2026-10-01", "2026-10-15", "link")["rows"]
    }
    assert {key for key, _ in links} == {link["id"] for link in seeded.links.values()}
    for key, cells in links:
        link = api.get(f"/api/v1/links/{key}").json
        assert f'id="short-{key}" value="{link["short_url"]}"' in html
        assert number(cells["clicks"]) == by_link[key]["clicks"]
        assert number(cells["qr_scans"]) == by_link[key]["qr_scans"]
        assert number(cells["conversions"]) == by_link[key]["conversions"]
    assert html.count('class="copy"') == 4


def test_influencers_are_ranked_by_the_chosen_kpi(api: Api, seeded: Seeded) -> None:
    log_in(api)
    for kpi in KPI_NAMES:
        check_ranking(api, seeded.campaign["id"], kpi)


def check_ranking(api: Api, cid: str, kpi: str) -> None:
    html = api.client.get(
        f"/dashboard/campaigns/{cid}?from=2026-10-01&to=2026-10-14&kpi={kpi}"
    ).text
    rows = report(api, cid, "2026-10-01", "2026-10-14", "influencer")["rows"]
    api_rows = {row["key"]: row for row in rows}
    shown = table_rows(html, "influencers", "data-influencer-id")
    assert {key for key, _ in shown} == set(api_rows)

    def api_value(row: dict, name: str) -> Decimal | None:
        if name in ("revenue", "commission", "epc", "roi"):
            money = row["money"].get("EUR")
            if money is None:
                return (
                    Decimal(0)
                    if name in ("revenue", "commission") or (name == "epc" and row["clicks"])
                    else None
                )
            return api_number(money[name])
        return api_number(row[name])

    values = []
    for key, cells in shown:
        for name in KPI_NAMES:
            assert number(cells[name]) == api_value(api_rows[key], name), (key, name)
        for method, n in api_rows[key]["conversions_by_method"].items():
            assert number(cells[f"by_{method}"]) == n, (key, method)
        values.append(api_value(api_rows[key], kpi))
    known = [v for v in values if v is not None]
    assert known == sorted(known, reverse=True)
    assert values[: len(known)] == known  # unknown values last
    assert f'<td class="num chosen" data-col="{kpi}">' in html


@pytest.mark.parametrize(
    "query",
    [
        "from=2026-13-01",
        "from=2026-10-10&to=2026-10-01",
        "from=2025-01-01&to=2026-01-02",
        "kpi=bogus",
        "from=1999-12-31&to=2000-01-02",
    ],
)
def test_a_bad_range_or_kpi_is_a_400_page(api: Api, seeded: Seeded, query: str) -> None:
    log_in(api)
    before = api.rows("clicks"), api.rows("conversions"), api.rows("commission_lines")
    r = api.client.get(f"/dashboard/campaigns/{seeded.campaign['id']}?{query}")
    assert r.status_code == 400
    assert 'class="error" role="alert"' in r.text
    assert r.mimetype == "text/html"
    assert (api.rows("clicks"), api.rows("conversions"), api.rows("commission_lines")) == before


def test_an_unknown_campaign_is_a_404_page(api: Api, seeded: Seeded) -> None:
    log_in(api)
    r = api.client.get("/dashboard/campaigns/cmp_nope")
    assert r.status_code == 404 and r.mimetype == "text/html"
    assert "no campaign" in r.text


def test_an_address_that_is_no_page_is_a_404_page_not_json(api: Api, seeded: Seeded) -> None:
    for logged_in in (False, True):
        if logged_in:
            log_in(api)
        for method, path in (("GET", "/dashboard/nope"), ("POST", "/dashboard/campaigns/x/y")):
            r = api.client.open(path, method=method)
            assert r.status_code == 404 and r.mimetype == "text/html", (method, path)
            assert "There is no such page in the dashboard" in r.text


def test_a_page_asked_the_wrong_way_is_a_405_page_naming_its_methods(
    api: Api, seeded: Seeded
) -> None:
    log_in(api)
    for method, path, allowed in (
        ("GET", "/dashboard/logout", "OPTIONS, POST"),
        ("POST", "/dashboard/exports", "GET, HEAD, OPTIONS"),
    ):
        r = api.client.open(path, method=method)
        assert r.status_code == 405 and r.mimetype == "text/html", (method, path)
        assert r.headers["Allow"] == allowed and "cannot be used this way" in r.text
    # OPTIONS names a page's own methods; an address that is no page allows nothing.
    assert api.client.options("/dashboard/exports").headers["Allow"] == "GET, HEAD, OPTIONS"
    for method in ("OPTIONS", "TRACE"):
        r = api.client.open("/dashboard/nope", method=method)
        assert r.status_code == 404 and r.mimetype == "text/html" and "Allow" not in r.headers
    # The API keeps its JSON answers.
    assert api.client.delete("/api/v1/influencers").mimetype == "application/json"


def test_the_assets_are_served_by_afftrack_itself(api: Api, seeded: Seeded) -> None:
    log_in(api)
    html = api.client.get(f"/dashboard/campaigns/{seeded.campaign['id']}").text
    assets = re.findall(r'(?:href|src)="([^"]+\.(?:css|js))"', html)
    assert sorted(assets) == ["/dashboard/static/dashboard.css", "/dashboard/static/dashboard.js"]
    for path in assets:
        with api.client.get(path) as r:
            assert r.status_code == 200
    assert "http://" not in html.split("<main>")[0] and "https://" not in html.split("<main>")[0]


def test_a_cookie_forged_with_the_signing_secret_alone_opens_nothing(
    api: Api, seeded: Seeded
) -> None:
    """The session must also carry a proof derived from the key's stored hash, which
    only the database holds: knowing the app's secret (public on the demo's defaults)
    and a key's id is not enough."""
    log_in(api)
    with api.app.extensions["afftrack"].db.engine.connect() as conn:
        key_id = conn.execute(text("SELECT id FROM api_keys ORDER BY created_at")).first()[0]
    forger = api.app.test_client()
    serializer = api.app.session_interface.get_signing_serializer(api.app)
    for forged in (
        {"key_id": key_id, "_permanent": True},
        {"key_id": key_id, "proof": "0" * 64, "_permanent": True},
    ):
        forger.set_cookie("afftrack_dashboard", serializer.dumps(forged), path="/dashboard")
        r = forger.get("/dashboard/")
        assert r.status_code == 302 and r.headers["Location"].startswith("/dashboard/login")


def test_a_next_with_control_characters_goes_to_the_start_page(api: Api, seeded: Seeded) -> None:
    client = api.app.test_client()
    page = client.get("/dashboard/login")
    r = client.post(
        "/dashboard/login",
        data={
            "csrf": csrf(page.text),
            "api_key": api.make_key("read"),
            "next": "/dashboard/\r\nX-Evil: 1",
        },
    )
    assert r.status_code == 303 and r.headers["Location"] == "/dashboard/"
    assert "X-Evil" not in r.headers


def test_the_session_is_not_refreshed_by_use(api: Api, seeded: Seeded) -> None:
    """It ends 12 hours after the login: pages do not re-issue the cookie."""
    log_in(api)
    r = api.client.get(f"/dashboard/campaigns/{seeded.campaign['id']}")
    assert r.status_code == 200
    assert "Set-Cookie" not in r.headers
    assert api.app.permanent_session_lifetime == timedelta(hours=12)


def test_ranking_uses_the_money_the_page_shows() -> None:
    """A row with nothing in the campaign's currency shows EUR 0.00; it must rank as 0,
    above a row whose reversals made its commission negative, not last."""
    from service.dashboard.views import rank

    def row(key: str, money: dict) -> dict:
        return {"key": key, "influencer": {"handle": key}, "clicks": 5, "money": money}

    def money(revenue: str, commission: str, epc: str, roi: str) -> dict:
        return {
            "revenue": revenue,
            "commission": commission,
            "cost": commission,
            "epc": epc,
            "roi": roi,
        }

    nothing = row("quiet", {})
    reversed_ = row("refunded", {"EUR": money("0.00", "-3.00", "-0.60", "-1.0000")})
    earning = row("seller", {"EUR": money("40.00", "4.00", "0.80", "9.0000")})
    ranked = rank([reversed_, nothing, earning], "commission", "EUR")
    assert [r["key"] for r in ranked] == ["seller", "quiet", "refunded"]
    # ROI over no cost is unknown, shown as a dash: last.
    assert [r["key"] for r in rank([nothing, earning], "roi", "EUR")] == ["seller", "quiet"]


@pytest.mark.frozen_at("2026-10-08T09:00:00Z")
def test_the_ranking_lists_every_partner_and_the_rate_counts_click_orders(api: Api) -> None:
    """Three partners, one with activity: three rows, the quiet two with zeros; the
    conversion rate is the click order over the unique clicks (1 / 2), the promo-code
    and UTM orders shown beside it (tests/support/report_story.py)."""
    world = story(api)
    log_in(api)
    cid, people = world["campaign"]["id"], world["people"]
    html = api.client.get(
        f"/dashboard/campaigns/{cid}?from=2026-10-01&to=2026-10-07&kpi=conversion_rate"
    ).text
    shown = dict(table_rows(html, "influencers", "data-influencer-id"))
    assert list(shown) == [people[h]["id"] for h in ("anna", "ben", "cleo")]  # unknown last
    anna = shown[people["anna"]["id"]]
    assert number(anna["conversion_rate"]) == Decimal("0.5")
    assert [number(anna[c]) for c in ("conversions", "by_click", "by_promo_code", "by_utm")] == [
        3,
        1,
        1,
        1,
    ]
    for handle in ("ben", "cleo"):
        quiet = shown[people[handle]["id"]]
        assert number(quiet["clicks"]) == number(quiet["conversions"]) == 0, handle
        assert number(quiet["by_click"]) == 0 and number(quiet["conversion_rate"]) is None
    assert "<strong>ben</strong>" in html and "<strong>cleo</strong>" in html

    tiles_shown = tiles(html)
    assert number(tiles_shown[("conversion_rate", None)]) == Decimal("0.5")  # 50.00 %
    assert [number(tiles_shown[(k, None)]) for k in ("by_click", "by_promo_code", "by_utm")] == [
        1,
        1,
        1,
    ]
    assert "orders attributed to a click over unique clicks" in html
