"""Two journeys in headless Chromium, logged in with a write key.

A link's QR code: downloaded as a PNG from the link's page, it is the API's file and
holds the short URL marked ``?qr=1``; a phone following it (a real GET on the served
port) is redirected to the destination without the marker, and once the worker has
written the click the campaign report counts one click and one QR scan, as does the
campaign's page. A post: recorded with its figures, approved (its per-post fee shown
and in the API's ledger), then its figures corrected — what the API then answers. No
CSP violation or script error on the way; screenshots ``qr-*.png`` and ``post-*.png``.
"""

from __future__ import annotations

import http.client
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.dashboard.test_browser_money import downloaded
from tests.redirect.test_qr import decoded
from tests.support.app import Api
from tests.support.browser import OUTPUT, console_problems, needs_browser, pick
from tests.support.click_stream import drain
from tests.support.visitors import ANDROID_CHROME

pytestmark = needs_browser


def log_in(browser: WebDriver, base: str, token: str, wait: WebDriverWait[WebDriver]) -> None:
    browser.get(f"{base}/dashboard/login")
    browser.find_element(By.ID, "api_key").send_keys(token)
    send = browser.find_element(By.CSS_SELECTOR, "form button[type=submit]")
    send.click()
    wait.until(expected_conditions.staleness_of(send))
    wait.until(lambda d: d.find_elements(By.LINK_TEXT, "Posts"))


def submit(browser: WebDriver, wait: WebDriverWait[WebDriver], css: str) -> None:
    """Send a form by its button and wait for the page that answers."""
    button = browser.find_element(By.CSS_SELECTOR, css)
    button.click()
    wait.until(expected_conditions.staleness_of(button))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def scan(base: str, url: str) -> http.client.HTTPResponse:
    """A phone's browser opening the URL read off the code: a GET on the served port whose
    redirect is read, not followed (the shop's domain does not resolve here)."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == base
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=15)
    try:
        conn.request(
            "GET",
            f"{parts.path}?{parts.query}",
            headers={"User-Agent": ANDROID_CHROME},
        )
        response = conn.getresponse()
        response.read()
        return response
    finally:
        conn.close()


def test_a_downloaded_qr_code_is_scanned_and_counted_as_a_scan(
    served: tuple[str, Api], browser: Any, tmp_path: Path
) -> None:
    base, api = served
    campaign = api.create_campaign("spring-26", name="Spring knits")
    nora = api.create_influencer("nora.knits")
    api.add_partner(campaign["id"], nora["id"])
    link = api.create_link(campaign["id"], nora["id"])
    wait = WebDriverWait(browser, 15)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    log_in(browser, base, api.make_key("write"), wait)

    # The link's page shows its code; the PNG downloads as a file named after the link.
    browser.get(f"{base}/dashboard/links/{link['id']}")
    image = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#qr img"))
    wait.until(lambda _: browser.execute_script("return arguments[0].naturalWidth", image) > 0)
    assert image.get_attribute("alt") == f"QR code for {link['short_url']}"
    browser.save_screenshot(str(OUTPUT / "qr-link-page.png"))
    browser.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )
    browser.find_element(By.ID, "qr-png").click()
    file = downloaded(tmp_path)
    assert file.name == f"{link['code']}.png"
    png = file.read_bytes()
    assert png == api.get(f"/api/v1/links/{link['id']}/qr.png").data
    url = decoded(png)
    assert url == f"{link['short_url']}?qr=1"

    # A phone opens it: the link's destination, the marker kept by afftrack.
    answer = scan(base, url)
    assert answer.status == 302
    location = answer.getheader("Location") or ""
    assert location.split("?")[0] == link["destination"].split("?")[0]
    params = parse_qs(urlsplit(location).query)
    assert "qr" not in params and "qr=" not in location
    assert params["ref"] == ["bio"] and len(params["aff_click"]) == 1

    # The worker writes the queued click; the report counts it as a click and a scan.
    assert "1 clicks written" in drain(api)
    report = api.get(
        f"/api/v1/reports/campaigns/{campaign['id']}?from=2026-10-01&to=2026-10-01&group_by=link"
    )
    assert report.status_code == 200, report.json
    (row,) = report.json["rows"]
    assert (row["key"], row["clicks"], row["qr_scans"]) == (link["id"], 1, 1)
    assert (report.json["totals"]["clicks"], report.json["totals"]["qr_scans"]) == (1, 1)

    browser.get(f"{base}/dashboard/campaigns/{campaign['id']}")
    tile = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-kpi="qr_scans"]'))
    assert tile.text == "1"
    assert browser.find_element(By.CSS_SELECTOR, '[data-kpi="clicks"]').text == "1"

    problems = console_problems(browser)
    assert problems == [], problems
    assert (OUTPUT / "qr-link-page.png").stat().st_size > 10_000


def test_a_post_is_recorded_approved_for_its_fee_and_its_figures_corrected(
    served: tuple[str, Api], browser: Any
) -> None:
    base, api = served
    campaign = api.create_campaign(
        "autumn",
        name="Autumn knits",
        commission_rules=[
            {"type": "percent", "rate": "10"},
            {"type": "per_post", "amount": "150.00"},
        ],
    )
    nora = api.create_influencer("nora.knits", followers=10_000)
    api.add_partner(campaign["id"], nora["id"])
    wait = WebDriverWait(browser, 15)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    log_in(browser, base, api.make_key("write"), wait)

    # Posts → Record a post.
    browser.find_element(By.LINK_TEXT, "Posts").click()
    wait.until(lambda d: d.find_elements(By.LINK_TEXT, "Record a post"))
    browser.find_element(By.LINK_TEXT, "Record a post").click()
    wait.until(lambda d: d.find_elements(By.ID, "f-campaign_id"))
    assert browser.current_url == f"{base}/dashboard/posts/new"
    pick(browser, "f-campaign_id", "autumn", campaign["slug"])
    pick(browser, "f-influencer_id", "knit", "nora.knits")
    Select(browser.find_element(By.ID, "f-platform")).select_by_value("instagram")
    browser.find_element(By.ID, "f-url").send_keys("https://www.instagram.com/p/C9x2kQ/")
    # Chosen in the browser's own date and time picker (its keyboard entry depends on the
    # locale): the value it gives the form.
    posted = browser.find_element(By.ID, "f-posted_at")
    browser.execute_script("arguments[0].value = '2026-09-28T17:00'", posted)
    assert posted.get_attribute("value") == "2026-09-28T17:00"
    for name, value in (("impressions", "61,000"), ("reach", "40300"), ("likes", "290")):
        browser.find_element(By.ID, f"f-metrics-{name}").send_keys(value)
    # Enter in a field records the post (the form's first button is "record", not the
    # "Show their links" beside the tracked link).
    likes = browser.find_element(By.ID, "f-metrics-likes")
    likes.send_keys(Keys.ENTER)
    wait.until(expected_conditions.staleness_of(likes))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
    assert browser.find_element(By.ID, "post-status").text == "submitted"
    post_id = browser.current_url.rsplit("/", 1)[1]
    post = api.get(f"/api/v1/deliverables/{post_id}").json
    assert post["metrics"] == {"impressions": 61000, "reach": 40300, "likes": 290}
    assert post["posted_at"].startswith("2026-09-28T17:00:00")
    shown = {
        td.get_attribute("data-metric"): td.text
        for td in browser.find_elements(By.CSS_SELECTOR, "#post-metrics td")
    }
    assert (shown["impressions"], shown["reach"], shown["likes"]) == ("61,000", "40,300", "290")
    assert browser.find_elements(By.ID, "no-fee")

    # Approve: the per-post fee line appears, as the API lists it.
    submit(browser, wait, "#review form:not(.edit) button[type=submit]")
    assert browser.find_element(By.ID, "post-status").text == "approved"
    assert not browser.find_elements(By.ID, "review")
    (fee,) = browser.find_elements(By.CSS_SELECTOR, "#fee-lines tbody tr")
    assert "EUR 150.00" in fee.text and "per-post" in fee.text
    browser.save_screenshot(str(OUTPUT / "post-approved.png"))
    assert api.get(f"/api/v1/deliverables/{post_id}").json["status"] == "approved"
    lines = api.get(f"/api/v1/commissions?influencer_id={nora['id']}").json["items"]
    assert [(x["kind"], x["amount"], x["currency"], x["deliverable_id"]) for x in lines] == [
        ("per_post", "150.00", "EUR", post_id)
    ]
    assert fee.get_attribute("data-line-id") == lines[0]["id"]

    # Correct the figures: the form holds them as they are; the API then shows the new ones.
    reach = browser.find_element(By.ID, "f-metrics-reach")
    assert reach.get_attribute("value") == "40300"
    reach.clear()
    reach.send_keys("55000")
    browser.find_element(By.ID, "f-metrics-comments").send_keys("20")
    submit(browser, wait, "main section form.edit button[type=submit]")
    assert browser.find_element(By.CSS_SELECTOR, '#post-metrics [data-metric="reach"]').text == (
        "55,000"
    )
    assert api.get(f"/api/v1/deliverables/{post_id}").json["metrics"] == {
        "impressions": 61000,
        "reach": 55000,
        "likes": 290,
        "comments": 20,
    }
    assert api.rows("commission_lines") == 1  # correcting earns no second fee

    problems = console_problems(browser)
    assert problems == [], problems
    assert (OUTPUT / "post-approved.png").stat().st_size > 10_000
