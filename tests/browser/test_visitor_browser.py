"""A visitor in a real browser: the horizon control, the two orders, the
placeholders' links — with JavaScript on and off — and an accessibility scan
(axe-core) of every page."""

import pytest
from django.core.management import call_command

from tests.browser.accessibility import serious_accessibility_problems

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STALKER = "/films/stalker-1979"


@pytest.fixture
def stalker():
    call_command("loaddata", "stalker-1979", verbosity=0)


@pytest.fixture(params=[True, False], ids=["js", "no-js"])
def visitor(request, browser, live_server, stalker):
    """A page in a fresh browser context, with JavaScript on or off."""
    context = browser.new_context(
        base_url=live_server.url, java_script_enabled=request.param
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def scene_ids(page):
    return [
        item.get_attribute("id")
        for item in page.locator("ol.timeline:not(.timeline-hidden) > li.scene").all()
    ]


def test_switch_spoilers_on_and_off(visitor):
    page = visitor
    page.goto(f"{STALKER}/timeline/")
    assert page.locator("text=Showing: nothing yet — no spoilers.").count() == 1
    assert scene_ids(page) == []
    page.get_by_role("link", name="Show everything").click()
    page.wait_for_url("**/timeline/?seen=all")
    assert len(scene_ids(page)) == 29
    assert page.get_by_text("The Meat Grinder").count() >= 1
    page.get_by_role("link", name="No spoilers").click()
    page.wait_for_url("**/timeline/?seen=none")
    assert scene_ids(page) == []
    assert page.get_by_text("The Meat Grinder").count() == 0


def test_pick_a_horizon_and_it_is_remembered(visitor):
    page = visitor
    page.goto(f"{STALKER}/timeline/")
    page.get_by_label("I have watched").select_option("0:37")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**seen=0%3A37**")
    assert scene_ids(page)[-1] == "arrival-in-the-zone"
    assert "the-meat-grinder" not in scene_ids(page)
    # Remembered for this film: the overview now shows the plot up to 0:37.
    page.goto(f"{STALKER}/")
    assert page.locator("text=Showing: up to 0:37.").count() == 1


def test_type_a_time(visitor):
    page = visitor
    page.goto(f"{STALKER}/timeline/")
    page.get_by_label("or up to a time").fill("2:02")
    page.get_by_role("button", name="Go").click()
    page.wait_for_url("**seen=2%3A02**")
    assert scene_ids(page)[-1] == "porcupines-story"


def test_switch_to_story_order_and_back(visitor):
    page = visitor
    page.goto(f"{STALKER}/timeline/?seen=all")
    page.get_by_role("link", name="Story order").click()
    page.wait_for_url("**order=story**")
    assert (
        page.locator("text=Scenes in the order events happen in the story.").count()
        == 1
    )
    assert len(scene_ids(page)) == 29
    page.get_by_role("link", name="Screen order").click()
    page.wait_for_url("**order=screen**")
    assert scene_ids(page)[0] == "opening-credits"


def test_follow_a_placeholders_link(visitor):
    page = visitor
    page.goto(f"{STALKER}/timeline/?seen=0:47")
    placeholder = page.locator(".placeholder", has_text="Scene 10 — hidden until 0:47")
    assert placeholder.count() == 0  # scene 10 starts at 0:47: already shown
    placeholder = page.locator(".placeholder", has_text="Scene 11 — hidden until 0:53")
    placeholder.get_by_role("link").click()
    page.wait_for_url("**seen=0%3A53**")
    assert scene_ids(page)[-1] == "a-system-of-traps"


def test_the_ending_appears_only_at_the_end(visitor):
    page = visitor
    page.goto(f"{STALKER}/ending/?seen=2:40")
    assert page.get_by_text("The ending explained — hidden until the end.").count() == 1
    page.get_by_role("link", name="Show spoilers up to the end").click()
    page.wait_for_url("**seen=all**")
    assert page.locator(".spoiler[data-nosnippet]").count() == 1


def test_the_skip_link_moves_focus_to_the_content(browser, live_server, stalker):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.goto(f"{STALKER}/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    context.close()


# --- Accessibility ------------------------------------------------------------------

PAGES = [
    "/",
    "/films/",
    "/films/?decade=banana",
    f"{STALKER}/",
    f"{STALKER}/?seen=all",
    f"{STALKER}/timeline/?seen=1:00",
    f"{STALKER}/timeline/?seen=all&order=story",
    f"{STALKER}/characters/?seen=all",
    f"{STALKER}/characters/the-stalker/?seen=all",
    f"{STALKER}/characters/porcupine/",
    f"{STALKER}/themes/?seen=1:00",
    f"{STALKER}/ending/",
    f"{STALKER}/next/",
    "/themes/faith/",
    "/people/andrei-tarkovsky/",
    "/search/?q=stalker",
    "/films/no-such-film/",
]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_accessibility_violations(browser, live_server, stalker, scheme):
    assert serious_accessibility_problems(browser, live_server.url, PAGES, scheme) == []
