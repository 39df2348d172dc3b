"""Browser tests: Playwright for Python driving the system Chromium against a live server.

The browser is Debian's /usr/bin/chromium (.ci/run installs it when missing); Playwright never
downloads one. Without it these tests skip loudly, and fail under RETURNDESK_TEST_STRICT=1.
Every page a test visits can be checked with axe-core (bundled by axe-playwright-python):
`accessible(page)` fails on any serious or critical violation.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import require_outside

CHROMIUM = Path(os.environ.get("RETURNDESK_CHROMIUM", "/usr/bin/chromium"))
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
BLOCKING = {"serious", "critical"}
SCREENSHOTS = os.environ.get("RETURNDESK_SCREENSHOTS", "")  # a folder: keep each page's picture


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    require_outside(
        "Chromium",
        CHROMIUM.is_file(),
        f"{CHROMIUM} is absent; install Debian's chromium (apt-get install -y chromium)",
    )
    # Playwright's sync API keeps an event loop on this thread between calls, which makes
    # Django refuse ORM calls from the test thread (database setup, test data, checks) for
    # the rest of this worker's session.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


def _page(browser: Browser, viewport: dict[str, int]) -> Iterator[Page]:
    context = browser.new_context(viewport=viewport, locale="en-US")  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[tuple[str, str]] = []
    answered_with_error: set[str] = set()  # pages a test opens on purpose that answer 4xx

    def on_response(response: Any) -> None:
        if response.request.resource_type == "document" and response.status >= 400:
            answered_with_error.add(response.url)

    page.on("response", on_response)
    page.on(
        "console",
        lambda m: errors.append((m.text, m.location.get("url", ""))) if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: errors.append((str(e), "")))
    yield page
    context.close()
    # A Content-Security-Policy refusal or a script error is a defect, not noise; the only
    # console error let through is Chromium's note that a page itself answered 4xx (a 404
    # page, an expired link), which the test asked for.
    real = [
        text
        for text, url in errors
        if not (text.startswith("Failed to load resource") and url in answered_with_error)
    ]
    assert not real, f"the browser reported errors: {real}"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    yield from _page(browser, DESKTOP)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    yield from _page(browser, PHONE)


def sign_in(page: Page, base: str, email: str, password: str) -> None:
    """Through the sign-in page, by keyboard: type, then Enter."""
    page.goto(f"{base}/console/login/")
    accessible(page, "console-login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login/" not in url)


def accessible(page: Page, name: str = "") -> None:
    """axe-core on the page as it stands: no serious or critical violation."""
    results = Axe().run(page)
    blocking = [v for v in results.response["violations"] if v.get("impact") in BLOCKING]
    if SCREENSHOTS and name:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)
    assert not blocking, f"axe-core on {page.url}:\n" + "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(" ".join(n["target"]) for n in v["nodes"][:5])
        for v in blocking
    )
