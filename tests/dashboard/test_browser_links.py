"""A link made in a real browser (headless Chromium, tests/support/browser.py): log in
with a write key, choose the campaign and the partner, type a destination off the
campaign's allowed domains and see the message beside the field appear as it is typed
(dashboard.js, under the page's Content-Security-Policy), correct it, create the link,
read its short and tracked URLs as the API gives them, pause it — and the redirect falls
back. The console stays clean; screenshots ``links-*.png`` go to the test output.
"""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.support.app import Api
from tests.support.browser import OUTPUT, console_problems, needs_browser, pick
from tests.support.redirects import visit

pytestmark = needs_browser


def test_a_link_is_made_in_the_browser_with_the_destination_checked_as_it_is_typed(
    served: tuple[str, Api], browser: Any
) -> None:
    base, api = served
    campaign = api.create_campaign("spring-26", name="Spring knits")
    nora = api.create_influencer("nora.knits")
    api.add_partner(campaign["id"], nora["id"])
    token = api.make_key("write")
    wait = WebDriverWait(browser, 15)
    OUTPUT.mkdir(parents=True, exist_ok=True)

    browser.get(f"{base}/dashboard/links/new")
    wait.until(lambda d: "/dashboard/login" in d.current_url)
    browser.find_element(By.ID, "api_key").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(lambda d: d.find_elements(By.ID, "f-campaign_id"))

    # First the campaign, then its partners and its allowed domains.
    pick(browser, "f-campaign_id", "Spring", "spring-26")
    browser.find_element(By.CSS_SELECTOR, "main form.edit button[type=submit]").click()
    wait.until(lambda d: d.find_elements(By.ID, "f-destination"))
    pick(browser, "f-influencer_id", "nora", "nora.knits")
    Select(browser.find_element(By.ID, "f-platform")).select_by_value("instagram")

    destination = browser.find_element(By.ID, "f-destination")
    live = browser.find_element(By.ID, "live-destination")
    assert not live.is_displayed()
    destination.send_keys("https://evil.example/knits")
    wait.until(lambda _: live.is_displayed() and "not an allowed domain" in live.text)
    assert "evil.example" in live.text and "shop.example" in live.text
    assert destination.get_attribute("aria-invalid") == "true"
    browser.save_screenshot(str(OUTPUT / "links-bad-destination.png"))
    assert api.rows("links") == 0  # the message came from the page alone

    destination.clear()
    destination.send_keys("https://shop.example/knits?ref=bio")
    wait.until(lambda _: "not an allowed domain" not in live.text)
    assert destination.get_attribute("aria-invalid") is None
    browser.find_element(By.ID, "f-slug").send_keys("nora-knits")
    browser.find_element(By.CSS_SELECTOR, "main form.edit button[type=submit]").click()
    wait.until(lambda d: d.find_elements(By.ID, "created"))

    (link,) = api.get("/api/v1/links").json["items"]
    assert link["short_url"] == f"{base}/r/nora-knits"
    for field, url in (("short-url", link["short_url"]), ("tracked-url", link["tracked_url"])):
        assert browser.find_element(By.ID, field).get_attribute("value") == url
    copy = browser.find_element(By.CSS_SELECTOR, 'button.copy[data-copy="tracked-url"]')
    copy.click()
    wait.until(lambda _: copy.text in ("Copied", "Press Ctrl+C"))
    assert copy.text == "Copied"
    browser.save_screenshot(str(OUTPUT / "links-created.png"))

    browser.find_element(By.ID, "pause").click()
    wait.until(lambda d: d.find_elements(By.ID, "resume"))
    assert browser.find_element(By.ID, "link-status").text == "paused"
    assert api.get(f"/api/v1/links/{link['id']}").json["status"] == "paused"
    assert visit(api, "nora-knits").headers["Location"] == campaign["fallback_url"]
    shot = OUTPUT / "links-paused.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000

    problems = console_problems(browser)
    assert problems == [], problems
