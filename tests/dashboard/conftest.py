"""The browser fixtures (tests/support/browser.py) for the dashboard's browser tests."""

from tests.support.browser import browser, served

__all__ = ["browser", "served"]
