"""The story map in a real browser: it fits a phone and a wide screen without
sideways scrolling, its scenes are links a keyboard reaches, and axe finds
nothing serious in either colour scheme."""

import pytest
from django.core.management import call_command

from tests.browser.accessibility import serious_accessibility_problems

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MIRROR = "/films/mirror-1975"
WIDTHS = {"phone": (375, 812), "desktop": (1440, 900)}


@pytest.fixture
def guides():
    call_command("loaddata", "mirror-1975", "stalker-1979", verbosity=0)


@pytest.mark.parametrize("device", list(WIDTHS))
def test_the_map_fits_the_screen_without_sideways_scrolling(
    browser, live_server, guides, device
):
    width, height = WIDTHS[device]
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": height}
    )
    page = context.new_page()
    for url in [
        f"{MIRROR}/timeline/?seen=all&order=story",
        f"{MIRROR}/timeline/?seen=0:40",
        f"{MIRROR}/?seen=0:40",
        "/films/stalker-1979/timeline/?seen=1:30",
    ]:
        page.goto(url)
        svg = page.locator("svg.story-map").first
        assert svg.is_visible(), url
        box = svg.bounding_box()
        assert box["width"] <= width, url
        assert box["width"] > width * 0.6 or device == "desktop", url
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{url} scrolls sideways by {overflow}px on a {device}"
    context.close()


def test_a_keyboard_reaches_a_scene_on_the_map_and_follows_it(
    browser, live_server, guides
):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.goto(f"{MIRROR}/timeline/?seen=all")
    first = page.locator("svg.story-map a").first
    first.focus()
    label = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert label and label.startswith("Scene 1:")
    page.keyboard.press("Enter")
    page.wait_for_url("**#*")
    anchor = page.url.split("#", 1)[1]
    assert page.locator(f"li.scene#{anchor}").is_visible()
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_accessibility_violations_on_the_maps(
    browser, live_server, guides, scheme
):
    urls = [
        f"{MIRROR}/timeline/?seen=all&order=story",
        f"{MIRROR}/timeline/?seen=0:40&order=story",
        f"{MIRROR}/timeline/",
        f"{MIRROR}/?seen=1:00",
    ]
    assert serious_accessibility_problems(browser, live_server.url, urls, scheme) == []
