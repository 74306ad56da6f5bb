"""Watch along and "what did I miss?": the guide at the visitor's moment in
the film, and a recap of a stretch — never a word past the horizon."""

import html
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings

from films.models import Film
from films.spoilers import Horizon
from tests.factories import build_guide
from tests.shipped import shipped_guides  # noqa: F401

pytestmark = pytest.mark.django_db

WATCH = "/films/guide-2000/watch/"


def test_a_new_visitor_sees_nothing_but_when_the_film_starts(client):
    build_guide(5)
    response = client.get(WATCH)
    assert response.status_code == 200
    text = response.text
    assert "Before the film" in text
    assert "SECRET" not in text and "Scene title" not in text
    assert "The next scene, scene 1, starts at" in text


def test_at_a_moment_the_scene_playing_what_just_became_known_and_the_next_start(
    client,
):
    build_guide(5)
    text = client.get(WATCH, {"seen": "0:07"}).text
    assert "Now: scene 2 of 5" in text
    assert "SCENE-2-SECRET" in text
    assert "HERO-BEAT-2-SECRET" in text  # revealed at 0:05, as scene 2 began
    assert "MEMORY-ANALYSIS-SECRET" in text
    assert "The next scene, scene 3, starts at" in text
    # The next scene's time only: nothing of it, nor of anything later.
    for secret in ["SCENE-3", "Scene title 3", "SCENE-4", "HERO-BEAT-3", "PLOT-2"]:
        assert secret not in text
    assert "HERO-BEAT-1-SECRET" not in text  # spoiler-free from the start: not news


def test_the_watch_page_moves_the_horizon_for_the_whole_site(client):
    build_guide(5)
    client.get(WATCH, {"seen": "0:07"})
    timeline = client.get("/films/guide-2000/timeline/").text
    assert "SCENE-2-SECRET" in timeline and "SCENE-3-SECRET" not in timeline


def test_what_did_i_miss_recaps_just_that_stretch(client):
    build_guide(5)
    response = client.get(WATCH, {"from": "0:06", "to": "0:16"})
    text = response.text
    recap = text[text.index('id="recap"') :]
    assert "SCENE-2-SECRET" in recap  # left during it
    assert "you left during this scene" in recap
    assert "SCENE-3-SECRET" in recap and "SCENE-4-SECRET" in recap
    assert "SCENE-1-SECRET" not in recap  # over before they left
    assert "HERO-BEAT-3-SECRET" in recap and "PLOT-2-SECRET" in recap
    assert "HERO-BEAT-2-SECRET" not in recap  # known before they left
    assert "SCENE-5" not in text and "Scene title 5" not in text  # past `to`
    assert response.cookies["seen_guide-2000"].value == "0:16"


@pytest.mark.parametrize(
    "query, message",
    [
        ({"from": "banana", "to": "0:16"}, "is not a point in the film"),
        ({"from": "0:20", "to": "0:16"}, "must be later than that"),
        ({"from": "all", "to": "0:16"}, "use a time"),
        ({"from": "0:05"}, "must be later than that"),  # no `to`: nothing seen
    ],
)
def test_a_bad_recap_gives_a_message_and_no_recap(client, query, message):
    build_guide(5)
    response = client.get(WATCH, query)
    assert response.status_code == 200
    assert message in html.unescape(response.text)
    assert 'id="recap"' not in response.text


def test_a_bad_time_gives_a_message_and_nothing_seen(client):
    build_guide(5)
    response = client.get(WATCH, {"seen": "99:99"})
    assert response.status_code == 200
    assert "SECRET" not in response.text
    assert 'role="alert"' in response.text


def test_the_watch_page_is_cached_per_variant(client, django_assert_num_queries):
    build_guide(5)
    first = client.get(WATCH, {"seen": "0:07"})
    with django_assert_num_queries(1):  # the film's version only
        again = client.get(WATCH, {"seen": "0:08"})
    assert again.status_code == 200
    assert "SCENE-2-SECRET" in again.text
    assert first.text.count("SCENE-2-SECRET") == again.text.count("SCENE-2-SECRET")


def test_the_script_is_ours_small_and_not_inline(client):
    build_guide(5)
    text = client.get(WATCH).text
    assert '<script src="/static/js/watch.js" defer></script>' in text
    script = Path(settings.BASE_DIR / "static" / "js" / "watch.js")
    assert script.stat().st_size <= 5 * 1024
    assert "<script>" not in text


def test_every_film_page_links_to_watch_along(client):
    build_guide(5)
    assert 'href="/films/guide-2000/watch/"' in client.get("/films/guide-2000/").text


# --- the shipped guides ------------------------------------------------------------


def shipped_films():
    from tests.shipped import FIXTURES, film_slug

    return [film_slug(path) for path in FIXTURES]


@pytest.mark.usefixtures("shipped_guides")
@pytest.mark.parametrize("slug", shipped_films())
def test_no_recap_of_a_shipped_guide_shows_past_its_end(client, slug):
    from tests.test_leaks import page_text, secrets

    film = Film.objects.get(slug=slug)
    for start, end in [("0:10", "0:40"), ("0:40", "1:20"), ("1:00", "1:30")]:
        sent = page_text(
            client.get(f"/films/{slug}/watch/", {"from": start, "to": end})
        )
        for secret in secrets(film, Horizon.parse(end)):
            assert secret not in sent, f"{slug} {start}–{end} leaks: {secret[:80]}"


def test_an_empty_back_at_keeps_the_remembered_horizon(client):
    build_guide(5)
    client.get(WATCH, {"seen": "0:12"})
    response = client.get(WATCH, {"from": "0:06", "to": ""})
    assert "seen_guide-2000" not in response.cookies  # not reset to nothing
    assert "SCENE-3-SECRET" in response.text  # still at 0:12
    recap = response.text[response.text.index('id="recap"') :]
    assert "SCENE-2-SECRET" in recap
    both = client.get(WATCH, {"to": "", "seen": "0:07"})
    assert "Now: scene 2 of 5" in both.text


def test_a_recap_after_a_gap_leaves_out_the_scene_that_had_ended(client):
    from films.models import Scene

    film = build_guide(5)
    # Scene 1 ends at 0:04 now: at 0:04:30 the visitor had seen it whole.
    Scene.objects.filter(film=film, screen_position=1).update(
        ends_at=Scene.objects.get(film=film, screen_position=1).starts_at
        + timedelta(minutes=4)
    )
    from films.derived import bump_films

    bump_films([film.pk])
    recap_page = client.get(WATCH, {"from": "0:04:30", "to": "0:07"}).text
    recap = recap_page[recap_page.index('id="recap"') :]
    assert "SCENE-1-SECRET" not in recap
    assert "SCENE-2-SECRET" in recap
    assert "you left during this scene" not in recap


def test_no_with_when_everyone_in_the_scene_is_still_hidden(client):
    from films.models import Scene

    film = build_guide(5)
    scene = Scene.objects.get(film=film, screen_position=1)
    scene.characters.set([film.characters.get(slug="late-arrival")])
    from films.derived import bump_films

    bump_films([film.pk])
    text = client.get(WATCH, {"seen": "0:02"}).text
    assert "Now: scene 1 of 5" in text
    assert "scene-characters" not in text and "Late Arrival" not in text
