"""Fixtures for browser tests: Debian's headless Chromium driven by Playwright's Python package.

Playwright never downloads a browser here (no ``playwright install``): it drives ``/usr/bin/chromium``.
Where Chromium is missing the tests are skipped with the command that installs it, except in CI
(``COURSE_REQUIRE_BROWSER=1``), where a missing browser is a failure: a skipped browser test must not pass CI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Host names a test invents (a pretend hub) never reach DNS or the network; tests fulfil them with routes.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
MISSING = "Chromium not installed: sudo apt-get install chromium"


def _unavailable(reason: str) -> None:
    if os.environ.get("COURSE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (COURSE_REQUIRE_BROWSER=1: browser tests must run here)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (``playwright.sync_api.Browser``), shared by the session's browser tests."""
    if not CHROMIUM.exists():
        _unavailable(MISSING)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright's Python package is missing: .venv/bin/pip install -r requirements.txt")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """``artifacts/screenshots/``: browser tests save what they saw here, for a person to look at."""
    from course_utils.paths import ARTIFACTS_DIR

    folder = ARTIFACTS_DIR / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
