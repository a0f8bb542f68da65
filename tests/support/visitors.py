"""Who follows the links in tests: real browsers' user agents, a visitor's address, and
the shape of the click id the redirect adds to the destination."""

from __future__ import annotations

import re

IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.6367.82 Mobile Safari/537.36"
)
VISITOR_IP = "203.0.113.7"
CLICK_ID = re.compile(r"[A-Za-z0-9_-]{16}")
