"""Switching the portal's language in Chromium: the buttons at the top of a page write
that same page in French, then Swedish, money in the language's form, and the choice
holds on the next page."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.portal.story import FROZEN_AT, build
from tests.support.app import Api
from tests.support.browser import console_problems, needs_browser
from tests.support.portal import invite

pytestmark = [needs_browser, FROZEN_AT]
NNBSP, NBSP = "\u202f", "\xa0"


def _heading(browser: Any) -> str:
    return str(browser.find_element(By.TAG_NAME, "h1").text)


def test_an_influencer_switches_a_statement_to_french_then_swedish(
    served: tuple[str, Api], browser: Any, frozen: Any
) -> None:
    base, api = served
    story = build(api, frozen)
    wait = WebDriverWait(browser, 15)
    browser.get(invite(api, story.anna.id)["sign_in_url"])
    wait.until(lambda d: d.find_element(By.ID, "sign-in")).click()
    wait.until(lambda d: d.find_elements(By.ID, "signed-in-as"))
    browser.get(f"{base}/portal/statements/2026-09")
    assert _heading(browser) == "Statement for 2026-09"

    browser.find_element(By.ID, "lang-fr").click()
    wait.until(lambda d: _heading(d) == "Relevé de 2026-09")
    assert browser.current_url == f"{base}/portal/statements/2026-09"
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    assert browser.find_element(By.ID, "lang-fr").get_attribute("aria-pressed") == "true"
    assert browser.find_element(By.ID, "download-csv").text == "Télécharger (CSV)"
    net = browser.find_element(By.CSS_SELECTOR, "#summary td.net").text
    assert net.replace(NBSP, " ").replace(NNBSP, " ") == "10,00 €"

    browser.find_element(By.ID, "lang-sv").click()
    wait.until(lambda d: _heading(d) == "Avräkning för 2026-09")
    assert browser.find_element(By.ID, "download-csv").text == "Ladda ned (CSV)"
    # The choice holds on the next page.
    browser.find_element(By.ID, "nav-home").click()
    wait.until(lambda d: _heading(d) == "Partnerportal")
    assert browser.find_element(By.ID, "signed-in-as").text == "Inloggad som @anna"
    assert browser.find_element(By.ID, "nav-posts").text == "Inlägg"
    assert console_problems(browser) == []
