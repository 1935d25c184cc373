"""Browser fixtures: one headless Debian chromium (driven by Playwright) for the whole session, a fresh
page per test, axe-core on demand, screenshots kept under ``.data/artifacts/screenshots/``."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("AM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("AM_ARTIFACTS_DIR", Path(__file__).resolve().parents[2] / ".data" / "artifacts"))
MISSING = (f"the browser tests need Debian's chromium at {CHROMIUM}: install it with "
           "`apt-get update && apt-get install -y chromium` (or point AM_CHROMIUM at a chromium binary)")


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(MISSING)  # CI installs chromium (.ci/run): never skip there
        pytest.skip(MISSING)
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=20_000)
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US",
                                        timezone_id="UTC")
    context.set_default_timeout(20_000)
    p = await context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.js_errors = errors
    console: list[str] = []
    p.on("console", lambda m: console.append(f"{m.text} @ {m.location.get('url', '')}") if m.type == "error" else None)
    p.console_errors = console
    try:
        yield p
    finally:
        await context.close()


class Audit:
    """Screenshots and axe-core results of every page a test visits."""

    def __init__(self, name: str):
        self.dir = ARTIFACTS / "screenshots" / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.violations: dict[str, list[str]] = {}

    async def check(self, page: Any, label: str, full_page: bool = True, context: Any = None) -> None:
        from axe_playwright_python.async_playwright import Axe

        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        # a locator's wait (Playwright's own script): a polled string predicate is an eval in the page,
        # which the dashboard's Content-Security-Policy refuses when it has to poll
        await page.locator("#app[aria-busy]").wait_for(state="detached")
        await page.screenshot(path=str(self.dir / f"{slug}.png"), full_page=full_page)
        results = await Axe().run(page, context=context)
        bad = [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
               for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
        if bad:
            self.violations[label] = bad


@pytest.fixture
def audit(request: pytest.FixtureRequest) -> Audit:
    return Audit(request.node.name)
