"""A real browser for UI tests: the system's Chromium (Debian's ``/usr/bin/chromium``, installed by
``scripts/setup.sh``) driven by Playwright. Playwright's own browser downloads are never used: the test
machines have no internet, and the distribution's browser is the one radiologists' IT would ship.

Console errors and failed requests of the page are collected, so a test can assert the page itself
raised nothing while the user worked."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("SAMX_CHROMIUM", "/usr/bin/chromium"))
LAPTOP_VIEWPORT = {"width": 1366, "height": 768}


def chromium_missing() -> str | None:
    """Why there is no browser to test with, or None: for ``pytest.mark.skipif``, before any set-up."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return None
    return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set SAMX_CHROMIUM)"


def chromium_or_skip() -> Path:
    """The browser binary; skips the calling test (with the reason) where there is none."""
    if (why := chromium_missing()) is not None:
        pytest.skip(why)
    return CHROMIUM


@dataclass
class PageProblems:
    """What went wrong inside the page: console errors, uncaught exceptions, failed requests."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return self.console_errors + self.page_errors


@contextmanager
def browser_page(*, viewport: dict[str, int] = LAPTOP_VIEWPORT) -> Iterator[tuple[object, PageProblems]]:
    """A fresh headless page (own context: no storage shared between tests) and its problems."""
    from playwright.sync_api import sync_playwright  # imported here: only UI tests need it

    executable = chromium_or_skip()
    problems = PageProblems()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), headless=True)
        try:
            context = browser.new_context(viewport=viewport, device_scale_factor=1)
            context.set_default_timeout(15_000)  # shared CI machines are slow; real failures still fail
            page = context.new_page()
            page.on("console", lambda m: problems.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: problems.page_errors.append(str(exc)))
            yield page, problems
            context.close()
        finally:
            browser.close()
