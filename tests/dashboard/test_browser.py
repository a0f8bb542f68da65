"""The dashboard in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by Selenium) logs in with an API key against afftrack served
over HTTP on a seeded PostgreSQL database, opens the campaign, checks that the numbers it
renders equal the report API's, that the copy button works (so the page's script ran
under its Content-Security-Policy) and that the console is clean, and saves a screenshot.

The screenshot goes to ``$AFFTRACK_TEST_OUTPUT`` (default ``test-output/`` at the
repository's root). Without Chromium the test is skipped, except under CI (``CI`` set),
where ``.ci/run`` installs it and a missing browser is a failure.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.app import Api
from tests.support.browser import OUTPUT, console_problems, needs_browser
from tests.support.dashboard_data import seed_campaign

pytestmark = needs_browser


def number(text: str) -> Decimal | None:
    text = text.strip()
    if text == "\u2013":
        return None
    percent = text.endswith("%")
    text = re.sub(r"^[A-Z]{3} ", "", text.rstrip("% ")).replace(",", "")
    return Decimal(text) / 100 if percent else Decimal(text)


def test_the_dashboard_in_chromium_shows_the_report_apis_numbers(
    served: tuple[str, Api], browser: Any, frozen: Any
) -> None:
    base, api = served
    seeded = seed_campaign(api, frozen)
    cid = seeded.campaign["id"]
    token = api.make_key("read")
    wait = WebDriverWait(browser, 15)

    # Not logged in: the campaign's page sends the browser to the login form.
    browser.get(f"{base}/dashboard/campaigns/{cid}?kpi=conversions")
    wait.until(lambda d: "/dashboard/login" in d.current_url)
    browser.find_element(By.ID, "api_key").send_keys("aft_not-a-key")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "p.error"))
    assert "not valid" in browser.find_element(By.CSS_SELECTOR, "p.error").text
    # The refused key's 401 is the only thing in the console so far (reading clears it).
    refused = [entry["message"] for entry in browser.get_log("browser")]
    assert all("/dashboard/login" in m and "401" in m for m in refused), refused
    browser.find_element(By.ID, "api_key").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(lambda d: d.find_elements(By.ID, "kpis"))
    assert browser.current_url == f"{base}/dashboard/campaigns/{cid}?kpi=conversions"

    start = browser.find_element(By.NAME, "from").get_attribute("value")
    end = browser.find_element(By.NAME, "to").get_attribute("value")
    assert (start, end) == ("2026-10-01", "2026-10-15")
    report = api.get(f"/api/v1/reports/campaigns/{cid}?from={start}&to={end}").json
    totals = report["totals"]

    # KPI tiles, as the browser renders them (visible text).
    seen = {}
    for tile in browser.find_elements(By.CSS_SELECTOR, "#kpis [data-kpi]"):
        key = (tile.get_attribute("data-kpi"), tile.get_attribute("data-currency"))
        seen[key] = tile.text
    expected: dict[tuple[str, str | None], Any] = {
        (name, None): totals[name]
        for name in (
            "clicks",
            "unique_clicks",
            "bot_clicks",
            "qr_scans",
            "conversions",
            "conversion_rate",
            "deliverables",
            "impressions",
            "reach",
        )
    }
    for method, n in totals["conversions_by_method"].items():
        expected[(f"by_{method}", None)] = n
    for name in ("revenue", "cost", "epc", "roi"):
        expected[(name, "EUR")] = totals["money"]["EUR"][name]
    assert set(seen) == set(expected)
    for key, value in expected.items():
        assert number(seen[key]) == Decimal(str(value)), (key, seen[key], value)
    assert totals["clicks"] > 300 and totals["conversions"] > 5

    # The chart: a bar per day whose figures are the report's by day.
    by_day = {
        row["key"]: row
        for row in api.get(
            f"/api/v1/reports/campaigns/{cid}?from={start}&to={end}&group_by=day"
        ).json["rows"]
    }
    bars = browser.find_elements(By.CSS_SELECTOR, "#chart svg rect.bar")
    assert len(bars) == 15
    for bar in bars:
        row = by_day.get(bar.get_attribute("data-day"), {"clicks": 0, "conversions": 0})
        assert int(bar.get_attribute("data-clicks")) == row["clicks"]
        assert int(bar.get_attribute("data-conversions")) == row["conversions"]
    assert sum(int(b.get_attribute("data-clicks")) for b in bars) == totals["clicks"]
    assert browser.find_element(By.CSS_SELECTOR, "#chart svg").size["height"] > 100

    # Influencers ranked by conversions, each row's figures the report's.
    rows = {row["key"]: row for row in report["rows"]}
    ranked = browser.find_elements(By.CSS_SELECTOR, "#influencers tbody tr")
    order = [tr.get_attribute("data-influencer-id") for tr in ranked]
    assert set(order) == set(rows)
    conversions = [rows[key]["conversions"] for key in order]
    assert conversions == sorted(conversions, reverse=True)
    for tr in ranked:
        row = rows[tr.get_attribute("data-influencer-id")]
        for name in ("clicks", "unique_clicks", "conversions", "reach"):
            cell = tr.find_element(By.CSS_SELECTOR, f'td[data-col="{name}"]').text
            assert number(cell) == row[name], name

    # Links: the short URL as the API gives it, and a copy button that works.
    links = browser.find_elements(By.CSS_SELECTOR, "#links tbody tr")
    assert len(links) == len(seeded.links)
    first = links[0]
    link = api.get(f"/api/v1/links/{first.get_attribute('data-link-id')}").json
    field = first.find_element(By.CSS_SELECTOR, "input.short-url")
    assert field.get_attribute("value") == link["short_url"]
    assert link["short_url"].startswith(f"{base}/r/")
    button = first.find_element(By.CSS_SELECTOR, "button.copy")
    button.click()
    wait.until(lambda d: button.text in ("Copied", "Press Ctrl+C"))
    assert button.text == "Copied"

    OUTPUT.mkdir(parents=True, exist_ok=True)
    shot = OUTPUT / "dashboard-campaign.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")

    # Nothing was blocked or broke: no CSP violation, no script error, no 404 asset.
    problems = console_problems(browser)
    assert problems == [], problems
