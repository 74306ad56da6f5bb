"""The scene-by-scene timeline, in screen order and story order."""

import re

import pytest

from films.models import Film
from tests.factories import build_guide

pytestmark = pytest.mark.django_db


def scene_ids(html):
    return re.findall(r'<li class="scene" id="([^"]+)"', html)


def test_screen_order_lists_scenes_by_screen_position(client):
    film = build_guide(story_reversed=True)
    response = client.get(f"/films/{film.slug}/timeline/?seen=all")
    assert scene_ids(response.text) == [f"scene-{n}" for n in range(1, 6)]


def test_story_order_lists_scenes_by_story_position(client):
    film = build_guide(story_reversed=True)
    response = client.get(f"/films/{film.slug}/timeline/?seen=all&order=story")
    assert scene_ids(response.text) == [f"scene-{n}" for n in range(5, 0, -1)]


def test_the_horizon_counts_in_screen_time_in_story_order(client):
    film = build_guide(story_reversed=True)
    response = client.get(f"/films/{film.slug}/timeline/?seen=0:05&order=story")
    # Scenes 1 and 2 are on screen by 0:05; in story order they come last.
    assert scene_ids(response.text) == ["scene-2", "scene-1"]
    assert "SCENE-3-SECRET" not in response.text
    assert "3 more scenes — hidden until 0:10." in response.text
    assert 'href="/films/guide-2000/timeline/?seen=0%3A10&amp;order=story"' in (
        response.text
    )


def test_each_scene_shows_its_place_in_the_other_order(client):
    film = build_guide(story_reversed=True)
    scene = film.scenes.get(screen_position=1)
    scene.story_label = "the present"
    scene.save()  # as an editor would: the guide's version moves
    response = client.get(f"/films/{film.slug}/timeline/?seen=all")
    assert "on screen 1st, in the story 5th" in response.text
    assert "on screen 5th, in the story 1st" in response.text
    assert '<span class="story-label">the present</span>' in response.text


def test_a_film_told_in_order_says_so(client):
    film = build_guide()
    response = client.get(f"/films/{film.slug}/timeline/?seen=all")
    assert "both orders are the same" in response.text
    assert "in the story" not in response.text
    assert "scene 3 of 5" in response.text


def test_a_scene_shows_times_location_characters_and_theme_tags(client):
    film = build_guide()
    scene = film.scenes.get(screen_position=3)
    scene.location = "The bar"
    scene.save()
    response = client.get(f"/films/{film.slug}/timeline/?seen=all")
    html = response.text
    assert '<li class="scene" id="scene-3" data-nosnippet>' in html
    assert '<a class="anchor" href="#scene-3">Scene title 3</a>' in html
    assert '<span class="timecode">0:10–0:15</span>' in html
    assert '<span class="location">The bar</span>' in html
    assert (
        '<a href="/films/guide-2000/characters/late-arrival/?seen=all">Late Arrival</a>'
        in html
    )
    # Themes keep one colour down the page.
    assert html.count('class="tag theme-c0" href="/films/guide-2000/themes/') >= 3
    assert html.count('class="tag theme-c1" href="/films/guide-2000/themes/') >= 2


def test_hidden_scenes_are_placeholders_that_move_the_horizon(client):
    film = build_guide()
    response = client.get(f"/films/{film.slug}/timeline/?seen=0:05")
    html = response.text
    assert "Scene title 3" not in html
    assert "SCENE-3-SECRET" not in html
    assert (
        'Scene 3 — hidden until 0:10. <a href="/films/guide-2000/timeline/?seen=0%3A10">'
        "Show spoilers up to 0:10</a>" in html
    )


def test_a_character_introduced_later_is_not_named_in_an_earlier_scene(client):
    film = build_guide()
    # Put the late arrival into scene 1 by mistake: the name still stays hidden.
    film.scenes.get(screen_position=1).characters.add(
        film.characters.get(slug="late-arrival")
    )
    response = client.get(f"/films/{film.slug}/timeline/?seen=0:05")
    assert "Late Arrival" not in response.text


@pytest.mark.parametrize("order", ["sideways", "STORY", "", "<b>x</b>"])
def test_a_bad_order_gives_screen_order_with_a_message(client, order):
    film = build_guide(story_reversed=True)
    response = client.get(
        f"/films/{film.slug}/timeline/", {"order": order, "seen": "all"}
    )
    assert response.status_code == 200
    assert "is not an order: showing screen order" in response.text
    assert scene_ids(response.text) == [f"scene-{n}" for n in range(1, 6)]
    assert "<b>x</b>" not in response.text


def test_a_film_without_scenes_says_so(client):
    film = Film.objects.create(
        title="Empty",
        slug="empty-2000",
        year=2000,
        runtime=90,
        premise="p",
        status=Film.Status.PUBLISHED,
    )
    response = client.get(f"/films/{film.slug}/timeline/?seen=all")
    assert "no scene-by-scene timeline yet" in response.text


def test_a_scene_is_placed_in_the_story_among_the_scenes_revealed(client):
    # Scenes 1 and 2 are the story's last two: that the story has three more
    # scenes before them is for later.
    film = build_guide(story_reversed=True)
    response = client.get(f"/films/{film.slug}/timeline/?seen=0:07")
    assert "on screen 1st, in the story 2nd of those you have seen" in response.text
    assert "on screen 2nd, in the story 1st of those you have seen" in response.text
    assert "in the story 5th" not in response.text and "4th" not in response.text


def test_a_film_out_of_order_only_later_does_not_say_so_early(client):
    film = build_guide()  # told in order …
    film.scenes.filter(screen_position=5).update(story_position=99)
    film.scenes.filter(screen_position=4).update(story_position=5)
    film.scenes.filter(screen_position=5).update(story_position=4)  # … but the end
    response = client.get(f"/films/{film.slug}/timeline/?seen=0:07&order=story")
    assert "So far, both orders are the same." in response.text
    assert 'class="braid"' not in response.text
    assert "told out of order" not in response.text
