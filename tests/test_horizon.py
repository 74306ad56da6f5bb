"""The spoiler horizon: ``?seen=``, the per-film cookie, bad values."""

import re
from datetime import timedelta

import pytest

from films.spoilers import Horizon, InvalidHorizon
from tests.factories import build_guide

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("none", "none"),
        ("", "none"),
        ("ALL", "all"),
        ("1:12", "1:12"),
        ("1:12:30", "1:12:30"),
        ("0:05", "0:05"),
        (" 2:00 ", "2:00"),
    ],
)
def test_horizon_values_are_read(raw, expected):
    assert str(Horizon.parse(raw)) == expected


@pytest.mark.parametrize(
    "raw", ["banana", "99:99", "1:60", "1:12:75", "-1:00", "1", "1:2"]
)
def test_bad_horizon_values_are_refused(raw):
    with pytest.raises(InvalidHorizon):
        Horizon.parse(raw)


def test_none_reveals_nothing_spoiler_bearing_not_even_the_opening():
    assert not Horizon.parse("none").reveals(timedelta(0))
    assert Horizon.parse("none").reveals(None)
    assert Horizon.parse("0:00").reveals(timedelta(0))
    assert Horizon.parse("all").reveals(timedelta(hours=9))


def test_seen_is_remembered_per_film_in_a_cookie(client):
    film = build_guide(slug="guide-2000")
    other = build_guide(slug="other-2000", title="Other")
    response = client.get(f"/films/{film.slug}/timeline/?seen=0:10")
    cookie = response.cookies["seen_guide-2000"]
    assert cookie.value == "0:10"
    assert cookie["samesite"] == "Lax"
    assert cookie["httponly"]
    # The cookie now sets the horizon for that film only.
    again = client.get(f"/films/{film.slug}/timeline/")
    assert "SCENE-3-SECRET" in again.text
    assert "SCENE-4-SECRET" not in again.text
    elsewhere = client.get(f"/films/{other.slug}/timeline/")
    assert "SCENE-1-SECRET" not in elsewhere.text


def test_a_shared_link_wins_over_the_cookie(client):
    film = build_guide()
    client.get(f"/films/{film.slug}/?seen=all")
    response = client.get(f"/films/{film.slug}/timeline/?seen=0:05")
    assert "SCENE-2-SECRET" in response.text
    assert "SCENE-3-SECRET" not in response.text


def test_the_control_shows_the_current_choice(client):
    film = build_guide()
    response = client.get(f"/films/{film.slug}/timeline/?seen=0:05")
    assert "Showing: <strong>up to 0:05</strong>." in response.text
    assert '<option value="0:05" selected>Scene 2, from 0:05</option>' in response.text
    response = client.get(f"/films/{film.slug}/timeline/?seen=none")
    assert "Showing: <strong>nothing yet — no spoilers</strong>." in response.text
    assert 'aria-current="true">No spoilers</a>' in response.text


def test_the_picker_keeps_a_time_between_two_scenes(client):
    film = build_guide()
    html = client.get(f"/films/{film.slug}/timeline/?seen=0:07").text
    picker = html[html.index('id="seen-picker"') : html.index('id="seen-time"')]
    options = re.findall(
        r'<option value="([^"]*)"( selected)?>([^<]*)</option>', picker
    )
    at = options.index(("0:07", " selected", "0:07 (your choice)"))
    assert options[at - 1] == ("0:05", "", "Scene 2, from 0:05")
    assert picker.count(" selected>") == 1


def test_the_picker_names_scenes_by_number_and_time_only(client):
    film = build_guide()
    response = client.get(f"/films/{film.slug}/")
    assert "Scene 5, from 0:20" in response.text
    assert "Scene title 5" not in response.text


@pytest.mark.parametrize(
    "seen", ["banana", "99:99", "1:60", "<script>alert(1)</script>", "x" * 5000]
)
def test_a_bad_seen_gives_the_default_with_a_message(client, seen):
    film = build_guide()
    client.cookies["seen_guide-2000"] = "all"
    response = client.get(f"/films/{film.slug}/timeline/", {"seen": seen})
    assert response.status_code == 200
    assert "Showing the guide without spoilers." in response.text
    assert "Showing: <strong>nothing yet — no spoilers</strong>." in response.text
    assert "SCENE-1-SECRET" not in response.text
    assert "<script>alert" not in response.text
    assert "seen_guide-2000" not in response.cookies  # a bad value is not remembered


def test_a_bad_cookie_is_ignored(client):
    film = build_guide()
    client.cookies["seen_guide-2000"] = "rubbish"
    response = client.get(f"/films/{film.slug}/timeline/")
    assert response.status_code == 200
    assert "SCENE-1-SECRET" not in response.text


def test_a_time_past_the_end_counts_as_everything(client):
    film = build_guide()
    response = client.get(f"/films/{film.slug}/ending/?seen=5:00")
    assert "ENDING-SECRET" in response.text
    assert response.cookies["seen_guide-2000"].value == "all"


def test_film_pages_vary_on_the_cookie_and_are_private(client):
    film = build_guide()
    response = client.get(f"/films/{film.slug}/")
    assert "Cookie" in response.headers["Vary"]
    assert "private" in response.headers["Cache-Control"]


def test_a_bad_value_is_refused_every_time_it_comes():
    # Values read once are remembered (films.spoilers._parsed); a refusal is
    # never remembered as a value.
    for _ in range(3):
        with pytest.raises(InvalidHorizon):
            Horizon.parse("1:99")
    assert str(Horizon.parse("1:09")) == "1:09"


def test_each_response_gets_a_cookie_of_its_own(client):
    """Two visitors in the same second get the same cookie; changing one
    response's cookie (as a later set_cookie would) changes no other."""
    film = build_guide(slug="guide-2000")
    first = client.get(f"/films/{film.slug}/timeline/?seen=0:10")
    first.cookies["seen_guide-2000"]["max-age"] = 0
    client.cookies.clear()
    second = client.get(f"/films/{film.slug}/timeline/?seen=0:10")
    cookie = second.cookies["seen_guide-2000"]
    assert cookie.value == "0:10"
    assert cookie["max-age"] == 365 * 24 * 3600
    assert cookie["expires"]
    assert cookie["samesite"] == "Lax"
    assert cookie["httponly"]


def test_too_many_query_fields_is_a_bad_request_not_an_error(client, settings):
    film = build_guide(slug="guide-2000")
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    query = "&".join(f"f{n}=1" for n in range(11))
    assert client.get(f"/films/{film.slug}/timeline/?{query}").status_code == 400
    # The same page with a query within the limit is served.
    ok = client.get(f"/films/{film.slug}/timeline/?seen=0:10&f1=1")
    assert ok.status_code == 200
    assert "SCENE-3-SECRET" in ok.text


def test_a_long_query_string_is_read_but_never_kept(client):
    """Film pages keep parsed query strings for the next request; a long
    one (nobody's link) is read as usual and not kept, so it cannot fill
    the worker's memory."""
    from films import pages

    film = build_guide(slug="guide-2000")
    kept = pages._query_dict.cache_info().currsize
    padding = "x" * (pages.MEMO_QUERY_LENGTH + 1)
    response = client.get(f"/films/{film.slug}/timeline/?seen=0:10&pad={padding}")
    assert response.status_code == 200
    assert "SCENE-3-SECRET" in response.text
    assert "SCENE-4-SECRET" not in response.text
    assert pages._query_dict.cache_info().currsize == kept
