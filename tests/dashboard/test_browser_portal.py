"""The portal's way in, in Chromium: the invitation's link, the Sign in button, the
home page."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.app import Api
from tests.support.browser import console_problems, needs_browser
from tests.support.portal import invite

pytestmark = needs_browser


def test_an_invitation_link_signs_in_with_one_press(served: tuple[str, Api], browser: Any) -> None:
    base, api = served
    anna = api.create_influencer("anna")
    link = invite(api, anna["id"])["sign_in_url"]
    assert link.startswith(f"{base}/portal/sign-in/")
    wait = WebDriverWait(browser, 15)
    browser.get(link)
    button = wait.until(lambda d: d.find_element(By.ID, "sign-in"))
    assert button.text == "Sign in"
    button.click()
    shown = wait.until(lambda d: d.find_elements(By.ID, "signed-in-as"))
    assert shown[0].text == "Signed in as @anna"
    assert browser.current_url == f"{base}/portal/"
    # The session cookie is out of the page's reach.
    assert browser.execute_script("return document.cookie") == ""
    # The same link a second time: refused in words, with the form for a new one.
    browser.get(link)
    wait.until(lambda d: d.find_elements(By.ID, "email"))
    assert "has been used already" in browser.page_source
    problems = [p for p in console_problems(browser) if "410" not in p["message"]]
    assert problems == []


def test_the_sign_in_button_is_disabled_once_pressed(served: tuple[str, Api], browser: Any) -> None:
    _, api = served
    anna = api.create_influencer("anna")
    browser.get(invite(api, anna["id"])["sign_in_url"])
    wait = WebDriverWait(browser, 15)
    button = wait.until(lambda d: d.find_element(By.ID, "sign-in"))
    # The page stays (the form is held back here) to see what the press did.
    browser.execute_script(
        "document.querySelector('form[data-once]')"
        ".addEventListener('submit', (event) => event.preventDefault());"
    )
    button.click()
    wait.until(lambda d: not button.is_enabled())
    button_again = browser.find_element(By.ID, "sign-in")
    assert button_again.get_attribute("disabled") is not None
    assert console_problems(browser) == []
