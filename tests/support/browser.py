"""Driving the dashboard in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by Selenium) against afftrack served over HTTP on a real
port, on PostgreSQL. The fixtures ``served`` and ``browser`` reach the tests through
tests/dashboard/conftest.py; screenshots go to ``OUTPUT`` (``$AFFTRACK_TEST_OUTPUT``,
default ``test-output/`` at the repository's root). Without Chromium the tests that use
``needs_chromium`` are skipped, except under CI (``CI`` set), where a missing browser is
a failure.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from werkzeug.serving import make_server

from service.app import create_app
from tests.support.app import Api, _empty_tables, make_settings
from tests.support.servers import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
OUTPUT = Path(
    os.environ.get("AFFTRACK_TEST_OUTPUT", Path(__file__).resolve().parents[2] / "test-output")
)

needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER) and not os.environ.get("CI"),
    reason="Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
)


@pytest.fixture
def served(pg_url: str, redis_url: str, frozen: Any) -> Iterator[tuple[str, Api]]:
    """afftrack on a real port of 127.0.0.1 (a WSGI server in a thread), seeded."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(make_settings(pg_url, redis_url, public_url=base), TESTING=True)
    api = Api(app, app.test_client())
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, api
    finally:
        server.shutdown()
        thread.join(10)
        _empty_tables(app)
        app.extensions["afftrack"].db.dispose()


@pytest.fixture
def browser() -> Iterator[Any]:
    assert CHROMIUM and CHROMEDRIVER, "CI needs chromium and chromium-driver (.ci/run)"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespace for the sandbox
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1440,2200",
        "--lang=en-US",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def console_problems(driver: Any) -> list[dict[str, Any]]:
    """The console's errors and warnings since it was last read (a CSP violation, a
    script error, a missing asset)."""
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
