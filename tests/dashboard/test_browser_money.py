"""Finance's journey in headless Chromium: log in with a write key, find a commission in
the ledger, reject it with a reason, close September behind its confirmation step and
download its summary CSV, which is the API's file byte for byte and hashes to the
checksum the page shows. No CSP violation or script error on the way; screenshots
``money-*.png``."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.app import Api
from tests.support.browser import OUTPUT, console_problems, needs_browser, pick
from tests.support.ledger_data import seed_ledger

pytestmark = needs_browser


def downloaded(folder: Path, timeout: float = 15) -> Path:
    """The one file the browser finished downloading into ``folder``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if not p.name.endswith(".crdownload")]
        if done:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"nothing downloaded into {folder}")


def test_finance_rejects_a_line_closes_a_month_and_downloads_its_csv(
    served: tuple[str, Api], browser: Any, frozen: Any, tmp_path: Path
) -> None:
    base, api = served
    frozen.set("2026-09-01T09:00:00Z")
    ledger = seed_ledger(api, frozen)
    token = api.make_key("write")
    wait = WebDriverWait(browser, 15)
    OUTPUT.mkdir(parents=True, exist_ok=True)

    browser.get(f"{base}/dashboard/login")
    browser.find_element(By.ID, "api_key").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(lambda d: d.find_elements(By.LINK_TEXT, "Commissions"))

    # The ledger, filtered to ben's sales: his EUR and JPY orders.
    browser.find_element(By.LINK_TEXT, "Commissions").click()
    wait.until(lambda d: d.find_elements(By.ID, "ledger-filters"))
    pick(browser, "f-influencer_id", "be", "ben")
    browser.find_element(By.CSS_SELECTOR, '#f-kind option[value="sale"]').click()
    browser.find_element(By.CSS_SELECTOR, "#ledger-filters button[type=submit]").click()
    wait.until(lambda d: "kind=sale" in d.current_url)
    assert "influencer_id=ben" in browser.current_url  # the chosen handle, in the address
    rows = browser.find_elements(By.CSS_SELECTOR, "#ledger tbody tr")
    expected = api.get(f"/api/v1/commissions?influencer_id={ledger.ben['id']}&kind=sale").json
    assert [r.get_attribute("data-line-id") for r in rows] == [x["id"] for x in expected["items"]]
    eur = next(
        r for r in rows if "EUR" in r.find_element(By.CSS_SELECTOR, "[data-col=amount]").text
    )
    line_id = eur.get_attribute("data-line-id")
    assert eur.find_element(By.CSS_SELECTOR, "[data-col=amount]").text == "EUR 8.00"

    # Its story, and rejecting it: first without a reason (refused beside the field).
    eur.find_element(By.CSS_SELECTOR, "a").click()
    wait.until(lambda d: d.find_elements(By.ID, "reject-form"))
    assert "EUR 80.00" in browser.find_element(By.ID, "order").text
    browser.find_element(By.CSS_SELECTOR, "#reject-form button[type=submit]").click()
    wait.until(lambda d: d.find_elements(By.ID, "e-reason"))
    assert browser.find_element(By.ID, "e-reason").text == "Fill this in."
    # The refused form's 422 is the only thing in the console so far (reading clears it).
    refused = [entry["message"] for entry in browser.get_log("browser")]
    assert all("/reject" in m and "422" in m for m in refused), refused
    browser.find_element(By.ID, "f-reason").send_keys("customer returned the whole order by post")
    send = browser.find_element(By.CSS_SELECTOR, "#reject-form button[type=submit]")
    send.click()
    wait.until(expected_conditions.staleness_of(send))  # the next page is loading
    wait.until(lambda d: "rejected" in d.find_element(By.ID, "line-status").text)
    assert "because: customer returned" in browser.find_element(By.ID, "line-rejection").text
    browser.save_screenshot(str(OUTPUT / "money-line-rejected.png"))
    line = api.get(f"/api/v1/commissions/{line_id}").json
    assert (line["status"], line["reason"]) == ("rejected", None)  # the reason is on its record

    # Close September: the confirmation shows the API's totals and the checksum.
    browser.find_element(By.LINK_TEXT, "Exports").click()
    wait.until(lambda d: d.find_elements(By.ID, "months"))
    browser.find_element(By.LINK_TEXT, "2026-09").click()
    wait.until(lambda d: d.find_elements(By.ID, "close-start"))
    browser.find_element(By.ID, "close-start").click()
    wait.until(lambda d: d.find_elements(By.ID, "close-form"))
    tiles = {
        t.get_attribute("data-currency"): t.find_element(By.CSS_SELECTOR, ".value").text
        for t in browser.find_elements(By.CSS_SELECTOR, "#export-totals [data-currency]")
    }
    assert tiles == {"EUR": "EUR 12.00", "JPY": "JPY 1,200"}  # 7.00 + 5.00; ben's 8.00 rejected
    checksum = browser.find_element(By.ID, "close-checksum").text
    browser.find_element(By.ID, "f-confirm").click()
    browser.find_element(By.ID, "f-month").send_keys("2026-09")
    browser.save_screenshot(str(OUTPUT / "money-close-confirm.png"))
    browser.find_element(By.CSS_SELECTOR, "#close-form button[type=submit]").click()
    wait.until(lambda d: d.find_elements(By.ID, "checksum"))
    assert browser.find_element(By.ID, "checksum").text == checksum
    assert not browser.find_elements(By.ID, "close-start")
    browser.save_screenshot(str(OUTPUT / "money-month-closed.png"))

    # Download the summary CSV: the API's file, hashing to the checksum shown.
    browser.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )
    browser.find_element(By.ID, "download-csv").click()
    file = downloaded(tmp_path)
    assert file.name == "commissions-2026-09.csv"
    body = file.read_bytes()
    assert body == api.get("/api/v1/exports/commissions/2026-09").data
    assert hashlib.sha256(body).hexdigest() == checksum

    problems = console_problems(browser)
    assert problems == [], problems
    assert (OUTPUT / "money-month-closed.png").stat().st_size > 10_000
