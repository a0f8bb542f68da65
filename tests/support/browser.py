"""What the browser tests share: where Chromium is, where screenshots go, and the mark
that skips them without a browser (except under CI)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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
