"""The portal's post journey in headless Chromium: the brand invites an influencer, who
signs in with the link, looks at the payout page, submits a post for their campaign;
the brand approves it in the workspace; the per-post fee line is in the API's ledger
and in the influencer's own commissions. A post refused on the Swedish page says why in
Swedish beside each input. No script error on the way; screenshots ``portal-post-*.png``."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from service.portal import own
from tests.dashboard.test_browser_qr_and_posts import log_in
from tests.portal.story import db
from tests.support.app import Api
from tests.support.browser import OUTPUT, console_problems, needs_browser
from tests.support.portal import invite

pytestmark = needs_browser


def _press(browser: Any, wait: Any, selector: str) -> None:
    button = browser.find_element(By.CSS_SELECTOR, selector)
    button.click()
    wait.until(expected_conditions.staleness_of(button))


def test_invite_sign_in_submit_a_post_brand_approves_fee_appears(
    served: tuple[str, Api], browser: Any
) -> None:
    base, api = served
    anna = api.create_influencer("anna")
    spring = api.create_campaign(
        "spring", commission_rules=[{"type": "per_post", "amount": "150.00"}]
    )
    api.add_partner(spring["id"], anna["id"])
    wait = WebDriverWait(browser, 15)

    # The influencer signs in with the invitation's link and looks around.
    browser.get(invite(api, anna["id"])["sign_in_url"])
    _press(browser, wait, "#sign-in")
    assert browser.current_url == f"{base}/portal/"
    browser.get(f"{base}/portal/payout")
    assert browser.find_element(By.ID, "payout-email").text == "anna@example.com"

    # … and submits a post.
    browser.get(f"{base}/portal/posts/new")
    Select(browser.find_element(By.ID, "campaign_id")).select_by_visible_text("Spring")
    Select(browser.find_element(By.ID, "platform")).select_by_value("instagram")
    browser.find_element(By.ID, "url").send_keys("https://www.instagram.com/p/C9x2kQ/")
    posted = browser.find_element(By.ID, "posted_at")
    browser.execute_script("arguments[0].value = '2026-09-30T17:00'", posted)
    browser.find_element(By.ID, "metrics-likes").send_keys("2900")
    browser.save_screenshot(str(OUTPUT / "portal-post-form.png"))
    _press(browser, wait, "#submit-post")
    assert "Your post was sent to the brand" in browser.find_element(By.ID, "post-sent").text
    [post] = api.get(f"/api/v1/deliverables?influencer_id={anna['id']}").json["items"]
    assert post["status"] == "submitted"
    assert post["metrics"] == {"likes": 2900}

    # The brand approves it in the workspace.
    log_in(browser, base, api.make_key("write"), wait)
    browser.get(f"{base}/dashboard/posts/{post['id']}")
    assert browser.find_element(By.ID, "post-status").text == "submitted"
    _press(browser, wait, "#review form:not(.edit) button[type=submit]")
    assert browser.find_element(By.ID, "post-status").text == "approved"
    browser.save_screenshot(str(OUTPUT / "portal-post-approved.png"))

    # The fee line: in the brand's ledger and in the influencer's own commissions.
    [line] = api.get(f"/api/v1/commissions?influencer_id={anna['id']}").json["items"]
    assert line["deliverable_id"] == post["id"] and line["amount"] == "150.00"
    with db(api).read_session() as s:
        [theirs] = own.commissions(s, anna["id"]).items
        assert theirs.id == line["id"]
    assert console_problems(browser) == []


def test_a_post_refused_in_swedish_says_why_beside_each_input_and_stores_nothing(
    served: tuple[str, Api], browser: Any
) -> None:
    base, api = served
    anna = api.create_influencer("anna")
    spring = api.create_campaign("spring")
    api.add_partner(spring["id"], anna["id"])
    wait = WebDriverWait(browser, 15)
    browser.get(invite(api, anna["id"])["sign_in_url"])
    _press(browser, wait, "#sign-in")
    browser.get(f"{base}/portal/posts/new")
    _press(browser, wait, "#lang-sv")  # the same page, in Swedish
    assert browser.find_element(By.TAG_NAME, "h1").text == "Skicka in ett inlägg"

    Select(browser.find_element(By.ID, "campaign_id")).select_by_visible_text("Spring")
    browser.find_element(By.ID, "url").send_keys("instagram.com/p/C9x2kQ")
    browser.find_element(By.ID, "metrics-likes").send_keys("-3")
    _press(browser, wait, "#submit-post")
    said = {e.get_attribute("id"): e.text for e in browser.find_elements(By.CSS_SELECTOR, ".error")}
    browser.save_screenshot(str(OUTPUT / "portal-post-refused-sv.png"))
    assert said == {
        "platform-error": "Fyll i det här fältet.",
        "url-error": "Ange en webbadress, till exempel https://example.com/page.",
        "posted_at-error": "Fyll i det här fältet.",
        "metrics-likes-error": "Ange ett tal från 0 till 10 000 000 000 000.",
    }
    # The form as typed, and nothing stored.
    assert browser.find_element(By.ID, "url").get_attribute("value") == "instagram.com/p/C9x2kQ"
    assert api.get(f"/api/v1/deliverables?influencer_id={anna['id']}").json["items"] == []
    # The refusal's 422 is the only thing the console notes: no script error.
    assert [p for p in console_problems(browser) if "status of 422" not in p["message"]] == []
