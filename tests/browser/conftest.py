"""Browser tests: Playwright for Python driving Debian's Chromium, headless.

Shared fixtures for every browser test (admin and visitor pages):

* ``browser`` — one Chromium for each test module;
* ``page`` — a fresh context and page per test, its base URL pytest-django's
  ``live_server``, so ``page.goto("/films/…")`` works.

Mark browser tests ``@pytest.mark.browser``. Chromium comes from Debian
(``apt-get install chromium``; ``make setup`` and ``.ci/run`` install it when
missing), never from ``playwright install``. ``CHROMIUM`` overrides its path.
"""

import os

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"No Chromium at {CHROMIUM}. Install Debian's (apt-get install -y "
            "chromium; `make setup` does it as root) or set CHROMIUM=/path."
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread while
    # it is started, and Django refuses database work from a thread with a
    # running loop. The tests' own database work (fixtures, assertions, the
    # flush after each test) is synchronous and safe, so allow it while the
    # browser is up — and only then: module scope stops Playwright, and
    # restores the variable, before other modules' tests run.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()
