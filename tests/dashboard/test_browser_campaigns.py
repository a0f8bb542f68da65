"""Campaigns in a real browser (headless Chromium, set up as in test_browser.py): a write
key creates a campaign with a tiered rule, previews what an order would earn, saves it
and enrols an influencer; the pages run under their Content-Security-Policy with a clean
console. Screenshots ``campaign-*.png`` go to ``$AFFTRACK_TEST_OUTPUT``."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.app import Api
from tests.support.browser import OUTPUT, console_problems, needs_browser, pick

pytestmark = needs_browser


def test_a_campaign_with_a_tiered_rule_is_created_previewed_and_given_a_partner(
    served: tuple[str, Api], browser: Any, frozen: Any
) -> None:
    base, api = served
    nora = api.create_influencer("nora.knits")
    token = api.make_key("write")
    wait = WebDriverWait(browser, 15)
    shots = OUTPUT
    shots.mkdir(parents=True, exist_ok=True)

    browser.get(f"{base}/dashboard/login")
    browser.find_element(By.ID, "api_key").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(lambda d: d.find_elements(By.ID, "new-campaign"))
    browser.find_element(By.ID, "new-campaign").click()
    wait.until(lambda d: d.find_elements(By.ID, "campaign-form"))

    def fill(name: str, value: str) -> None:
        field = browser.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)

    fill("name", "Autumn knits")
    fill("slug", "autumn-knits")
    # A date input's typing depends on the locale: set its value as the picker would.
    browser.execute_script(
        "arguments[0].value = '2026-10-01'", browser.find_element(By.NAME, "starts_on")
    )
    fill("allowed_domains", "shop.example")
    fill("fallback_url", "https://shop.example/")
    # The empty rule blocks come one per type; the tiered one is third.
    tiered = browser.find_element(By.CSS_SELECTOR, "fieldset.rule-tiered_percent")
    p = tiered.get_attribute("data-rule")
    fill(f"commission_rules-{p}-tiers-0-up_to", "1000.00")
    fill(f"commission_rules-{p}-tiers-0-rate", "10")
    fill(f"commission_rules-{p}-tiers-1-rate", "15")
    fill("example_order", "1200.00")
    browser.find_element(By.CSS_SELECTOR, "button[value=preview]").click()
    wait.until(lambda d: d.find_elements(By.ID, "preview-total"))
    assert browser.find_element(By.ID, "preview-total").text == "EUR 130.00"
    browser.execute_script("arguments[0].scrollIntoView()", browser.find_element(By.ID, "example"))
    browser.save_screenshot(str(shots / "campaign-example-earnings.png"))

    browser.find_element(By.CSS_SELECTOR, "button[value=save]").click()
    wait.until(lambda d: d.current_url.endswith("/settings"))
    campaign_id = browser.current_url.split("/")[-2]
    assert api.get(f"/api/v1/campaigns/{campaign_id}").json["commission_rules"][0]["tiers"] == [
        {"up_to": "1000.00", "rate": "10"},
        {"up_to": None, "rate": "15"},
    ]

    browser.find_element(By.LINK_TEXT, "Enrol an influencer").click()
    wait.until(lambda d: d.find_elements(By.ID, "partner-form"))
    pick(browser, "f-influencer_id", "nora", "nora.knits")
    browser.find_element(By.CSS_SELECTOR, "button[value=save]").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"[data-influencer-id='{nora['id']}']"))
    partners = api.get(f"/api/v1/campaigns/{campaign_id}/partners").json["items"]
    assert [x["influencer_id"] for x in partners] == [nora["id"]]
    shot = shots / "campaign-settings.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000

    problems = console_problems(browser)
    assert problems == [], problems
