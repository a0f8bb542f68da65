"""An objective in a real browser (headless Chromium): a write key adds one through the
form on the campaign's page, and its card shows what the API's objectives report says;
the ranking is ordered by contribution to an objective chosen in its form; the page runs
under its Content-Security-Policy with a clean console. A screenshot
``campaign-objectives.png`` goes to ``$AFFTRACK_TEST_OUTPUT``."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.support.app import Api
from tests.support.browser import OUTPUT, console_problems, needs_browser
from tests.support.contributions import three_partners
from tests.support.objectives import set_objective

pytestmark = needs_browser


def test_an_objective_added_in_the_form_shows_the_apis_progress(
    served: tuple[str, Api], browser: Any, frozen: Any
) -> None:
    base, api = served
    frozen.set("2026-10-11T12:00:00Z")
    campaign = api.create_campaign("autumn", starts_on="2026-10-01")
    token = api.make_key("write")
    wait = WebDriverWait(browser, 15)

    browser.get(f"{base}/dashboard/login")
    browser.find_element(By.ID, "api_key").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(lambda d: d.find_elements(By.ID, "new-campaign"))
    browser.get(f"{base}/dashboard/campaigns/{campaign['id']}")
    browser.find_element(By.ID, "add-objective").click()
    wait.until(lambda d: d.find_elements(By.ID, "objective-form"))

    Select(browser.find_element(By.NAME, "kpi")).select_by_value("revenue")
    browser.find_element(By.NAME, "target").send_keys("900.00")
    browser.execute_script(
        "arguments[0].value = '2026-10-31'", browser.find_element(By.NAME, "deadline")
    )
    form = browser.find_element(By.ID, "objective-form")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(expected_conditions.staleness_of(form))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".objective-card"))

    report = api.get(f"/api/v1/reports/campaigns/{campaign['id']}/objectives").json
    [expected] = report["objectives"]
    card = browser.find_element(By.CSS_SELECTOR, f"[data-objective-id='{expected['id']}']")

    def shown(name: str) -> str:
        return str(card.find_element(By.CSS_SELECTOR, f"[data-field='{name}']").text)

    assert shown("actual") == expected["actual"] == "0.00"
    assert shown("target") == expected["target"] == "900.00"
    assert shown("pace") == expected["pace"] == "300.00"
    assert shown("percent_reached") == f"{expected['percent_reached']} %" == "0.0 %"
    badge = card.find_element(By.CSS_SELECTOR, "[data-field='status']")
    assert badge.get_attribute("data-status") == expected["status"] == "behind"
    assert console_problems(browser) == []
    OUTPUT.mkdir(parents=True, exist_ok=True)
    browser.execute_script("arguments[0].scrollIntoView()", card)
    browser.save_screenshot(str(OUTPUT / "campaign-objectives.png"))


def test_the_ranking_is_ordered_by_contribution_to_a_chosen_objective(
    served: tuple[str, Api], browser: Any, frozen: Any
) -> None:
    base, api = served
    frozen.set("2026-10-11T12:00:00Z")
    # ben 6 clicks, cara 3, anna none (tests/support/contributions.py).
    world = three_partners(api)
    campaign = world["campaign"]
    total = set_objective(api, campaign, kpi="clicks", target=100)
    token = api.make_key("write")
    wait = WebDriverWait(browser, 15)

    browser.get(f"{base}/dashboard/login")
    browser.find_element(By.ID, "api_key").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(lambda d: d.find_elements(By.ID, "new-campaign"))
    browser.get(f"{base}/dashboard/campaigns/{campaign['id']}")

    def order() -> list[str]:
        cells = browser.find_elements(By.CSS_SELECTOR, "#influencers tbody tr td strong")
        return [str(cell.text) for cell in cells]

    assert order() == ["anna", "ben", "cara"]  # by revenue: nobody has any, by handle
    Select(browser.find_element(By.ID, "sort")).select_by_value(f"objective:{total}")
    table = browser.find_element(By.ID, "influencers")
    browser.find_element(By.CSS_SELECTOR, "form.range button[type=submit]").click()
    wait.until(expected_conditions.staleness_of(table))
    assert order() == ["ben", "cara", "anna"]
    shares = browser.find_elements(By.CSS_SELECTOR, "#influencers [data-col='contribution']")
    assert [str(cell.text) for cell in shares] == ["6 (66.7 %)", "3 (33.3 %)", "0 (0.0 %)"]
    assert f"sort=objective%3A{total}" in browser.current_url
    assert console_problems(browser) == []
