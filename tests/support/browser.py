"""What the browser tests share: where Chromium is, where screenshots go, and the mark
that skips them without a browser (except under CI)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
OUTPUT = Path(
    os.environ.get("AFFTRACK_TEST_OUTPUT", Path(__file__).resolve().parents[2] / "test-output")
)

needs_browser = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER) and not os.environ.get("CI"),
    reason="Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
)


def console_problems(driver: Any) -> list[dict[str, Any]]:
    """The console's errors and warnings since it was last read (a CSP violation, a
    script error, a missing asset)."""
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]


def pick(driver: Any, input_id: str, typed: str, value: str) -> None:
    """Type ``typed`` into the picker ``input_id`` and click its suggestion ``value`` (a
    handle or a slug): the input then holds ``value``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    field = driver.find_element(By.ID, input_id)
    field.clear()
    field.send_keys(typed)
    css = f"#{input_id}-suggestions li[data-value='{value}']"
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))
    driver.find_element(By.CSS_SELECTOR, css).click()
    assert field.get_attribute("value") == value
