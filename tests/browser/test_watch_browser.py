"""Watch along in a real browser, on a fake clock: the guide follows the film
scene by scene and never asks the server for a moment the clock has not
reached."""

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from films.spoilers import Horizon
from tests.factories import build_guide

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WATCH = "/films/guide-2000/watch/"


def seconds(value):
    horizon = Horizon.parse(value)
    return horizon.at.total_seconds() if horizon.at is not None else 0


def test_the_clock_moves_the_guide_on_and_never_asks_ahead(browser, live_server):
    build_guide(5)  # scenes start every five minutes
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.clock.install(time=0)
    asked = []  # (seen asked for, film time the clock had reached by then)
    elapsed = {"film": 0.0}
    page.on(
        "request",
        lambda request: (
            WATCH in request.url
            and "seen" in parse_qs(urlsplit(request.url).query)
            and asked.append(
                (parse_qs(urlsplit(request.url).query)["seen"][0], elapsed["film"])
            )
        ),
    )
    page.goto(WATCH)
    # Time stands still but for run_for(), however slow the machine.
    page.clock.pause_at(3_600_000)
    assert page.locator("#watch-clock").is_visible()
    page.get_by_role("button", name="Start with the film").click()
    expect(page.locator("#watch-now h2")).to_contain_text("scene 1")
    for _ in range(11):  # eleven minutes of film, a minute at a time
        elapsed["film"] += 60
        page.clock.run_for(60_000)
    expect(page.locator("#watch-now h2")).to_contain_text("scene 3 of 5")
    now = page.locator("#watch-now").inner_text()
    assert "SCENE-3-SECRET" in now
    assert "SCENE-4" not in page.content()
    assert "0:15" in now  # when the next scene starts, and nothing of it
    assert len(asked) >= 3
    for seen, reached in asked:
        assert seconds(seen) <= reached + 1, f"asked for {seen} at {reached}s"
    # Paused, the clock asks for nothing more.
    page.keyboard.press("Space")
    before = len(asked)
    for _ in range(10):
        page.clock.run_for(60_000)
    assert len(asked) == before
    assert page.locator("#watch-clock-time").inner_text() == "0:11:00"
    # The horizon followed: the timeline is at the clock's point.
    timeline = page.goto("/films/guide-2000/timeline/")
    assert timeline.ok
    assert "SCENE-3-SECRET" in page.content() and "SCENE-4-SECRET" not in page.content()
    context.close()


def test_a_slow_answer_is_caught_up_even_when_the_clock_is_paused(browser, live_server):
    """The clock passes the next scene's start while the guide's answer for the
    scene before is still on its way, and the viewer pauses. When the answer
    comes, the guide asks again for where the clock is: it does not stay a
    scene behind, waiting for a tick that a paused clock never gives."""
    build_guide(5)
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.clock.install(time=0)
    held = []
    asked = []

    def hold_the_first_move(route):
        seen = parse_qs(urlsplit(route.request.url).query).get("seen", [""])[0]
        asked.append(seen)
        if seconds(seen) > 0 and not held:
            held.append(route)  # answered below, once the clock has gone on
        else:
            route.continue_()

    page.route(f"**{WATCH}?*", hold_the_first_move)
    page.goto(WATCH)
    page.clock.pause_at(3_600_000)
    page.get_by_role("button", name="Start with the film").click()
    expect(page.locator("#watch-now h2")).to_contain_text("scene 1")
    for _ in range(6):  # to 0:06: scene 2 starts at 0:05, and is asked for
        page.clock.run_for(60_000)
    assert len(held) == 1
    for _ in range(6):  # to 0:12, past scene 3's start, with the answer held
        page.clock.run_for(60_000)
    page.keyboard.press("Space")  # paused at 0:12
    assert page.locator("#watch-clock-time").inner_text() == "0:12:00"
    expect(page.locator("#watch-now h2")).to_contain_text("scene 1")
    held[0].continue_()
    expect(page.locator("#watch-now h2")).to_contain_text("scene 3 of 5")
    assert "SCENE-3-SECRET" in page.locator("#watch-now").inner_text()
    assert "SCENE-4" not in page.content()
    assert all(seconds(seen) <= 12 * 60 for seen in asked), asked
    assert page.locator("#watch-clock-time").inner_text() == "0:12:00"
    context.close()


def test_without_javascript_the_watch_page_works_with_its_forms(browser, live_server):
    build_guide(5)
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    page.goto(WATCH)
    assert not page.locator("#watch-clock").is_visible()
    page.fill("#watch-at", "0:07")
    page.locator("#watch-at").press("Enter")
    page.wait_for_url("**seen=0%3A07**")
    assert "SCENE-2-SECRET" in page.content() and "SCENE-3" not in page.content()
    page.fill("#recap-from", "0:06")
    page.fill("#recap-to", "0:12")
    page.get_by_role("button", name="Catch me up").click()
    page.wait_for_url("**to=0%3A12**")
    recap = page.locator("#recap").inner_text()
    assert "SCENE-2-SECRET" in recap and "SCENE-3-SECRET" in recap
    context.close()
