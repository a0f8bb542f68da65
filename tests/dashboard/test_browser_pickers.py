"""Choosing an influencer and a campaign by typing, in headless Chromium: part of a handle
shows the matching influencers in a listbox beneath the input (an ARIA combobox), Down
and Enter take one without sending the form, a click takes a campaign; the adjustment
sent is the API's line for them. No CSP violation or script error; screenshot
``picker-suggestions.png``."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.dashboard.test_browser_qr_and_posts import log_in
from tests.support.app import Api
from tests.support.browser import OUTPUT, console_problems, needs_browser, pick

pytestmark = needs_browser


def test_an_adjustment_for_an_influencer_found_by_part_of_the_handle(
    served: tuple[str, Api], browser: Any
) -> None:
    base, api = served
    campaign = api.create_campaign("autumn-26", name="Autumn knits")
    anna = api.create_influencer("anna.travels")
    for handle in ("annie", "nora.knits"):
        api.create_influencer(handle)
    api.add_partner(campaign["id"], anna["id"])
    wait = WebDriverWait(browser, 15)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    log_in(browser, base, api.make_key("write"), wait)
    browser.get(f"{base}/dashboard/commissions/adjustments/new")

    who = browser.find_element(By.ID, "f-influencer_id")
    assert who.get_attribute("role") == "combobox"
    assert who.get_attribute("aria-expanded") == "false"
    who.send_keys("nn")

    options = "#f-influencer_id-suggestions li[role=option]"
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, options)) == 2)
    assert [li.text for li in browser.find_elements(By.CSS_SELECTOR, options)] == [
        "anna.travels (Anna.Travels)",
        "annie (Annie)",
    ]
    assert who.get_attribute("aria-expanded") == "true"
    browser.save_screenshot(str(OUTPUT / "picker-suggestions.png"))
    who.send_keys(Keys.ARROW_DOWN)
    first = browser.find_element(By.CSS_SELECTOR, options)
    assert first.get_attribute("aria-selected") == "true"
    assert who.get_attribute("aria-activedescendant") == first.get_attribute("id")
    who.send_keys(Keys.ENTER)  # takes the suggestion; the form is not sent
    assert who.get_attribute("value") == "anna.travels"
    assert who.get_attribute("aria-expanded") == "false"
    assert browser.current_url.endswith("/adjustments/new")

    pick(browser, "f-campaign_id", "knits", "autumn-26")
    browser.find_element(By.ID, "f-amount").send_keys("25.00")
    browser.find_element(By.ID, "f-currency").send_keys("EUR")
    browser.find_element(By.ID, "f-reason").send_keys("bonus")
    button = browser.find_element(By.CSS_SELECTOR, "#adjustment-form button[type=submit]")
    button.click()
    wait.until(expected_conditions.staleness_of(button))
    (line,) = api.get("/api/v1/commissions?kind=adjustment").json["items"]
    assert (line["influencer_id"], line["campaign_id"]) == (anna["id"], campaign["id"])
    assert browser.current_url.endswith(f"/dashboard/commissions/{line['id']}")

    problems = console_problems(browser)
    assert problems == [], problems
