"""Headless Debian chromium for the browser tests (dashboard, review server, written answers, lab).

One place for what every such test needs: skip (with the install line) where chromium or the
playwright package is missing, launch Debian's chromium (never a downloaded one: `playwright
install` fetches binaries from the internet), collect the page's errors, and always close.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"  # screenshots a reviewer can open
# Headless and offline: no GPU, no background fetches, so a test's only requests are its own.
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]


def sync_api() -> Any:
    """playwright.sync_api, or skip the test that needs it (or chromium) with what to install."""
    if not CHROMIUM.is_file():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")
    return pytest.importorskip("playwright.sync_api", reason="needs the playwright package (pip install playwright)")


@contextmanager
def chromium_page(width: int, height: int, errors: list[str] | None = None, *,
                  console_errors: bool = True) -> Iterator[Any]:
    """A fresh page in headless chromium, closed afterwards even when the test fails.

    With ``errors``, the page's uncaught exceptions (and, with ``console_errors``, its console
    errors) are appended to it, for the test to assert it stayed empty.
    """
    api = sync_api()
    ARTIFACTS.mkdir(exist_ok=True)
    with api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            if errors is not None:
                page.on("pageerror", lambda e: errors.append(str(e)))
                if console_errors:
                    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            yield page
        finally:
            browser.close()
