"""The CSV import page in a real browser (headless Chromium, as test_browser.py): a write
key enrols two influencers by uploading an influencers file and then a partners file
through the page's file input, checking each (dry run) and importing it; the API then
lists them as the campaign's partners, the console stays clean under the page's
Content-Security-Policy, and screenshots are saved as ``import-*.png``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.support.app import Api
from tests.support.browser import OUTPUT, console_problems, needs_browser

pytestmark = needs_browser

INFLUENCERS = (
    "handle,name,email,platforms\n"
    "anna.travels,Anna Travels,anna@example.com,instagram:anna.travels:48200\n"
    "bo.eats,Bo Eats,bo@example.com,tiktok:bo.eats:9100\n"
)
PARTNERS = "campaign,influencer,commission_rules\nautumn-2026,anna.travels,\nautumn-2026,bo.eats,\n"


def upload(browser: Any, wait: WebDriverWait, kind: str, path: Path, shot: str) -> None:
    Select(browser.find_element(By.ID, "f-kind")).select_by_value(kind)
    browser.find_element(By.ID, "f-file").send_keys(str(path))
    check = browser.find_element(By.CSS_SELECTOR, "form[enctype] button[type=submit]")
    check.click()
    wait.until(expected_conditions.staleness_of(check))
    wait.until(lambda d: d.find_elements(By.ID, "import-rows"))
    outcomes = [
        tr.get_attribute("data-outcome")
        for tr in browser.find_elements(By.CSS_SELECTOR, "#import-rows tbody tr")
    ]
    assert outcomes == ["created", "created"], browser.find_element(By.ID, "import-result").text
    browser.save_screenshot(str(OUTPUT / f"import-{shot}-dry-run.png"))
    run = browser.find_element(By.CSS_SELECTOR, "#import-run button")
    run.click()
    wait.until(expected_conditions.staleness_of(run))
    wait.until(lambda d: d.find_elements(By.ID, "import-summary"))
    assert "2 created, 0 unchanged" in browser.find_element(By.ID, "import-summary").text


def test_two_influencers_enrolled_by_csv_import_in_chromium(
    served: tuple[str, Api], browser: Any, tmp_path: Path
) -> None:
    base, api = served
    campaign = api.create_campaign("autumn-2026", ends_on="2026-12-31")
    token = api.make_key("write")
    people = tmp_path / "influencers.csv"
    people.write_text(INFLUENCERS, encoding="utf-8")
    partners = tmp_path / "partners.csv"
    partners.write_text(PARTNERS, encoding="utf-8")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    wait = WebDriverWait(browser, 15)

    browser.get(f"{base}/dashboard/import")
    wait.until(lambda d: "/dashboard/login" in d.current_url)
    browser.find_element(By.ID, "api_key").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(lambda d: d.find_elements(By.ID, "f-file"))

    upload(browser, wait, "influencers", people, "influencers")
    upload(browser, wait, "partners", partners, "partners")
    browser.save_screenshot(str(OUTPUT / "import-done.png"))

    listed = api.get(f"/api/v1/campaigns/{campaign['id']}/partners").json["items"]
    handles = {api.get(f"/api/v1/influencers/{p['influencer_id']}").json["handle"] for p in listed}
    assert handles == {"anna.travels", "bo.eats"}
    console = console_problems(browser)
    assert console == [], console
    assert (OUTPUT / "import-done.png").stat().st_size > 10_000
