"""The influencer's portal in Chromium: invited through the API, they open the link,
sign in, visit every page of the navigation, and download a closed month's statement,
which holds exactly their rows of that month's detail export."""

from __future__ import annotations

import csv
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.portal.story import FROZEN_AT, build
from tests.support.app import Api
from tests.support.browser import console_problems, needs_browser
from tests.support.portal import invite

pytestmark = [needs_browser, FROZEN_AT]

NAV = ["home", "links", "codes", "campaigns", "results", "commissions", "statements", "posts"]


def _their_rows(body: str, influencer_id: str) -> str:
    head, *rows = body.split("\r\n")[:-1]
    column = next(csv.reader([head])).index("influencer_id")
    theirs = [row for row in rows if next(csv.reader([row]))[column] == influencer_id]
    return "".join(f"{line}\r\n" for line in (head, *theirs))


def test_an_influencer_looks_around_and_downloads_a_statement(
    served: tuple[str, Api], browser: Any, frozen: Any
) -> None:
    base, api = served
    story = build(api, frozen)
    wait = WebDriverWait(browser, 15)
    browser.get(invite(api, story.anna.id)["sign_in_url"])
    wait.until(lambda d: d.find_element(By.ID, "sign-in")).click()
    wait.until(lambda d: d.find_elements(By.ID, "signed-in-as"))

    for name in NAV:
        browser.find_element(By.ID, f"nav-{name}").click()
        current = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "a[aria-current=page]"))
        assert current[0].get_attribute("id") == f"nav-{name}"
        assert "This did not work" not in browser.page_source
    links = browser.find_element(By.ID, "nav-links")
    links.click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "img[src$='qr.svg']"))
    loaded = browser.execute_script(
        "return [...document.images].every(i => i.complete && i.naturalWidth > 0)"
    )
    assert loaded, "a QR code did not load"

    browser.find_element(By.ID, "nav-statements").click()
    wait.until(lambda d: d.find_elements(By.LINK_TEXT, "2026-09"))[0].click()
    href = wait.until(lambda d: d.find_element(By.ID, "download-csv")).get_attribute("href")
    assert href == f"{base}/portal/statements/2026-09/statement.csv"
    # The download as the browser gets it, with its own session.
    body = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.text()).then(done);",
        href,
    )
    export = api.get("/api/v1/exports/commissions/2026-09?detail=lines").data.decode()
    assert body == _their_rows(export, story.anna.id)
    assert story.ben.id not in body
    assert console_problems(browser) == []
