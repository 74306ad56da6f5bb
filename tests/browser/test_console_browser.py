"""Every page loads in a real browser without a console error or a failed
request — the site icon included (browsers ask for /favicon.ico)."""

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STALKER = "/films/stalker-1979"
PAGES = [
    "/",
    "/films/",
    f"{STALKER}/",
    f"{STALKER}/timeline/?seen=1:00",
    f"{STALKER}/timeline/?seen=all&order=story",
    f"{STALKER}/characters/?seen=all",
    f"{STALKER}/themes/",
    f"{STALKER}/ending/?seen=all",
    f"{STALKER}/next/",
    "/people/andrei-tarkovsky/",
    "/themes/faith/",
    "/search/?q=zone",
]


def test_no_page_logs_a_console_error(browser, live_server):
    call_command("loaddata", "stalker-1979", verbosity=0)
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    problems = []
    page.on(
        "console",
        lambda message: (
            message.type == "error" and problems.append(f"{page.url}: {message.text}")
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    page.on(
        "response",
        lambda response: (
            response.status >= 400
            and problems.append(f"{response.url}: HTTP {response.status}")
        ),
    )
    for url in PAGES:
        page.goto(url)
        page.wait_for_load_state("networkidle")
    context.close()
    assert problems == []
