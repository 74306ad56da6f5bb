"""Times tied to a release: the film names it, and a faster copy's time converts.

A guide's times follow one release (``Film.timing_release`` at
``Film.timing_fps``). A PAL copy runs at 25 fps, about 4% faster than film
speed, so 1:36 on it is 1:40 of film time. The site converts a copy's time and
redirects to the film time: the address, the cookie and the picker only ever
hold film time.
"""

from datetime import timedelta

import pytest

from films.spoilers import copy_time_to_film_time
from tests.factories import build_guide

pytestmark = pytest.mark.django_db


def at(hours=0, minutes=0, seconds=0):
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


@pytest.mark.parametrize(
    ("copy_time", "copy_fps", "film_fps", "film_time"),
    [
        (at(1, 36), 25, 24, at(1, 40)),  # a PAL copy is ahead of film time
        (at(1, 40), 24, 25, at(1, 36)),  # a film-speed copy of a PAL release
        (at(0, 14, 24), 25, 24, at(0, 15)),
        (at(1, 12), 24, 24, at(1, 12)),
        (at(0, 0, 1), 25, 24, at(0, 0, 1)),  # rounded down: never past what was seen
        (at(0), 25, 24, at(0)),
    ],
)
def test_a_copy_time_converts_to_film_time(copy_time, copy_fps, film_fps, film_time):
    assert copy_time_to_film_time(copy_time, copy_fps, film_fps) == film_time


def test_a_pal_copy_time_redirects_to_the_film_time(client):
    film = build_guide()  # 24 fps by default
    response = client.get(f"/films/{film.slug}/timeline/?seen=0:14:24&fps=25")
    assert response.status_code == 302
    assert response["Location"] == f"/films/{film.slug}/timeline/?seen=0%3A15"
    assert "seen_guide-2000" not in response.cookies  # the film-time page sets it
    assert "private" in response["Cache-Control"]

    page = client.get(response["Location"])
    assert "Showing: <strong>up to 0:15</strong>." in page.text
    assert "SCENE-4-SECRET" in page.text  # scene 4 starts at 0:15 of film time
    assert "SCENE-5-SECRET" not in page.text
    assert page.cookies["seen_guide-2000"].value == "0:15"


def test_without_the_conversion_the_same_copy_time_shows_less(client):
    film = build_guide()
    page = client.get(f"/films/{film.slug}/timeline/?seen=0:14:24")
    assert "SCENE-3-SECRET" in page.text
    assert "SCENE-4-SECRET" not in page.text


def test_the_redirect_keeps_the_other_parameters(client):
    film = build_guide()
    response = client.get(f"/films/{film.slug}/timeline/?order=story&seen=0:12&fps=25")
    assert response.status_code == 302
    assert response["Location"] == (
        f"/films/{film.slug}/timeline/?order=story&seen=0%3A12%3A30"
    )


def test_a_copy_at_the_releases_own_speed_is_not_converted(client):
    film = build_guide()
    response = client.get(f"/films/{film.slug}/timeline/?seen=0:14:24&fps=24")
    assert response.status_code == 200
    assert "Showing: <strong>up to 0:14:24</strong>." in response.text
    assert response.cookies["seen_guide-2000"].value == "0:14:24"


def test_a_film_speed_copy_of_a_pal_release_converts_the_other_way(client):
    film = build_guide(timing_fps=25)
    response = client.get(f"/films/{film.slug}/?seen=0:15&fps=24")
    assert response["Location"] == f"/films/{film.slug}/?seen=0%3A14%3A24"


def test_a_copy_time_past_the_end_counts_as_everything(client):
    film = build_guide()  # 25 minutes
    response = client.get(f"/films/{film.slug}/?seen=0:24&fps=25")
    assert response["Location"] == f"/films/{film.slug}/?seen=all"


@pytest.mark.parametrize("seen", ["none", "all"])
def test_the_ends_of_the_horizon_need_no_conversion(client, seen):
    film = build_guide()
    response = client.get(f"/films/{film.slug}/timeline/?seen={seen}&fps=25")
    assert response.status_code == 200
    assert response.cookies["seen_guide-2000"].value == seen


@pytest.mark.parametrize("fps", ["30", "banana", "", "-25", "<b>25</b>", "9" * 500])
def test_a_bad_frame_rate_gives_the_page_without_spoilers_and_a_message(client, fps):
    film = build_guide()
    client.cookies["seen_guide-2000"] = "all"
    response = client.get(f"/films/{film.slug}/timeline/", {"seen": "0:20", "fps": fps})
    assert response.status_code == 200
    assert "is not a frame rate the guide can convert from" in response.text
    assert "choose 24 or 25 frames a second" in response.text
    assert "Showing: <strong>nothing yet — no spoilers</strong>." in response.text
    assert "SCENE-1-SECRET" not in response.text
    assert "<b>25</b>" not in response.text
    assert "seen_guide-2000" not in response.cookies


def test_the_picker_names_the_release_and_offers_the_copy_speeds(client):
    film = build_guide(timing_release="the 24 fps restoration, 25 min")
    html = client.get(f"/films/{film.slug}/").text
    assert "Times follow the 24 fps restoration, 25 min." in html
    assert '<select id="seen-fps" name="fps">' in html
    assert (
        '<option value="24" selected>24 fps — film speed (cinema, Blu-ray, '
        "most streaming)</option>"
    ) in html
    assert '<option value="25">25 fps — PAL video' in html


def test_the_release_is_shown_escaped(client):
    film = build_guide(timing_release="<script>alert(1)</script> cut")
    html = client.get(f"/films/{film.slug}/").text
    assert "Times follow &lt;script&gt;alert(1)&lt;/script&gt; cut." in html
    assert "<script>alert(1)" not in html


def test_without_a_named_release_the_picker_states_the_frame_rate(client):
    film = build_guide(timing_fps=25)
    html = client.get(f"/films/{film.slug}/").text
    assert "Times follow the film at 25 frames a second." in html
    assert '<option value="25" selected>' in html


def test_an_edited_release_is_shown_on_the_next_request(client):
    film = build_guide(timing_release="the old print")
    assert "Times follow the old print." in client.get(f"/films/{film.slug}/").text
    film.timing_release = "the new restoration"
    film.save()
    assert (
        "Times follow the new restoration." in client.get(f"/films/{film.slug}/").text
    )


@pytest.mark.parametrize("query", ["", "?fps=25", "?fps=banana"])
def test_a_fresh_visitor_gets_no_more_than_before(client, query):
    film = build_guide(timing_release="the 24 fps restoration, 25 min")
    for page in ["", "timeline/", "characters/", "themes/", "ending/"]:
        response = client.get(f"/films/{film.slug}/{page}{query}")
        assert response.status_code == 200
        assert "SECRET" not in response.text, page
        assert "seen_guide-2000" not in response.cookies
