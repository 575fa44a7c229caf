"""A real browser on the site: Debian's Chromium driven by Playwright, WebGL in software.

A plugin of the root conftest, so that the site's tests and each module's page tests share one
browser (Playwright's sync API starts once per process).

Playwright's own browser downloads are never used (no ``playwright install``): the tests launch
``/usr/bin/chromium`` (``scripts/install-system.sh`` installs it) and skip when it is missing.
SwiftShader gives headless Chromium a WebGL context, so MapLibre really draws the map.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.features.live_server import serve

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--use-gl=swiftshader",
    "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@dataclass
class Session:
    """A page on the map site and what it did: every request URL, every console error."""

    page: Page
    base_url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def open_map(self, path: str = "/") -> None:
        self.page.goto(self.base_url + path)
        self.wait_until_idle()

    def wait_until_idle(self) -> None:
        self.page.wait_for_function("window.__mapIdle === true")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=path)
        return path


@pytest.fixture(scope="session")
def site_url(demo_app) -> Iterator[str]:
    with serve(demo_app) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: scripts/install-system.sh installs it (as root)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def session(browser, site_url) -> Iterator[Session]:
    context = browser.new_context(viewport={"width": 1200, "height": 800}, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    recorded = Session(page, site_url)
    page.on("request", lambda request: recorded.requests.append(request.url))
    page.on("pageerror", lambda error: recorded.errors.append(str(error)))
    page.on(
        "console",
        lambda message: recorded.errors.append(message.text) if message.type == "error" else None,
    )
    yield recorded
    context.close()
