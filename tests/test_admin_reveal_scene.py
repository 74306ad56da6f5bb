"""Revealed in scene N: an editor picks a scene beside a reveal point's time and
the row stores that scene's start. Plain form fields, no JavaScript."""

import re

import pytest

from films.models import CharacterBeat, FilmTheme, PlotSection
from tests.admin_helpers import (
    add_row,
    change_url,
    form_data,
    guide_state,
    make_editor,
    row_errors,
    row_index,
)
from tests.factories import make_character, make_film, make_scene, make_theme, minutes

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor_client(client, django_user_model):
    client.force_login(make_editor(django_user_model))
    return client


@pytest.fixture
def film():
    """Scenes 1–4 run back to back from 0:00, five minutes each."""
    film = make_film(runtime=100)
    for position in (1, 2, 3, 4):
        make_scene(film, position, title=f"Scene title {position}")
    return film


def test_every_reveal_point_on_the_film_page_offers_the_films_scenes(
    editor_client, film
):
    make_character(film, "hero", name="Hero")
    PlotSection.objects.create(film=film, position=1, heading="Start", body="…")
    FilmTheme.objects.create(film=film, theme=make_theme(), analysis="…")
    other = make_film(slug="other-2000")
    make_scene(other, 1, title="A scene of another film")

    response = editor_client.get(change_url(film))

    for prefix in ("characters", "plot_sections", "film_themes"):
        field = re.search(
            f'<input[^>]*name="{prefix}-0-reveals_in_scene"[^>]*>', response.text
        )
        assert field, prefix
        assert 'list="reveal-scenes"' in field.group(0)
    assert response.text.count('<datalist id="reveal-scenes">') == 1
    assert '<option value="3">0:10 · Scene title 3</option>' in response.text
    assert "A scene of another film" not in response.text


def test_picking_a_scene_stores_its_start(editor_client, film):
    hero = make_character(film, "hero", name="Hero", reveals_at=None)
    section = PlotSection.objects.create(film=film, position=1, heading="H", body="B")
    analysis = FilmTheme.objects.create(film=film, theme=make_theme(), analysis="A")
    data = form_data(editor_client.get(change_url(film)))
    data["characters-0-reveals_in_scene"] = "2"
    data["plot_sections-0-reveals_in_scene"] = "3"
    data["film_themes-0-reveals_in_scene"] = "4"

    response = editor_client.post(change_url(film), data)

    assert response.status_code == 302, response.context and [
        f.errors for f in response.context["inline_admin_formsets"][1].formset.forms
    ]
    hero.refresh_from_db()
    section.refresh_from_db()
    analysis.refresh_from_db()
    assert hero.reveals_at == minutes(5)
    assert section.reveals_at == minutes(10)
    assert analysis.reveals_at == minutes(15)


def test_a_new_row_can_be_revealed_in_a_scene(editor_client, film):
    data = form_data(editor_client.get(change_url(film)))
    add_row(
        data,
        "plot_sections",
        position="1",
        heading="The zone",
        body="They go in.",
        reveals_at="",
        reveals_in_scene="3",
    )

    response = editor_client.post(change_url(film), data)

    assert response.status_code == 302
    assert PlotSection.objects.get(film=film).reveals_at == minutes(10)


def test_the_pick_shows_the_scene_that_starts_at_the_reveal_point(editor_client, film):
    make_character(film, "hero", name="Hero", reveals_at=minutes(10))
    make_character(film, "between", name="Between", reveals_at=minutes(12), position=2)

    data = form_data(editor_client.get(change_url(film)))

    assert data["characters-0-reveals_in_scene"] == "3"
    assert data["characters-1-reveals_in_scene"] == ""


def test_a_changed_time_wins_over_the_pick_it_left_alone(editor_client, film):
    hero = make_character(film, "hero", name="Hero", reveals_at=minutes(10))
    data = form_data(editor_client.get(change_url(film)))
    data["characters-0-reveals_at"] = "0:12"  # the pick still shows scene 3

    assert editor_client.post(change_url(film), data).status_code == 302
    hero.refresh_from_db()
    assert hero.reveals_at == minutes(12)


def test_a_pick_and_a_time_that_disagree_are_refused(editor_client, film):
    make_character(film, "hero", name="Hero", reveals_at=None)
    before = guide_state(film)
    data = form_data(editor_client.get(change_url(film)))
    data["characters-0-reveals_at"] = "0:07"
    data["characters-0-reveals_in_scene"] = "3"

    response = editor_client.post(change_url(film), data)

    assert response.status_code == 200
    assert row_errors(response, "characters", 0) == {
        "reveals_in_scene": [
            "Scene 3 starts at 0:10, but the time says 0:07: keep one of them."
        ]
    }
    assert guide_state(film) == before


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("9", "There is no scene 9: the film's scenes are numbered 1 to 4."),
        ("0", "Ensure this value is greater than or equal to 1."),
        ("twelve", "Write a scene's number, e.g. 12."),
    ],
)
def test_a_scene_the_film_does_not_have_is_refused_clearly(
    editor_client, film, number, message
):
    make_character(film, "hero", name="Hero")
    before = guide_state(film)
    data = form_data(editor_client.get(change_url(film)))
    data["characters-0-reveals_in_scene"] = number

    response = editor_client.post(change_url(film), data)

    assert response.status_code == 200
    assert row_errors(response, "characters", 0) == {"reveals_in_scene": [message]}
    assert guide_state(film) == before


def test_a_film_without_scenes_says_so(editor_client):
    film = make_film(runtime=100)
    make_character(film, "hero", name="Hero")
    data = form_data(editor_client.get(change_url(film)))
    data["characters-0-reveals_in_scene"] = "1"

    response = editor_client.post(change_url(film), data)

    assert row_errors(response, "characters", 0) == {
        "reveals_in_scene": ["The film has no scenes yet: write a time instead."]
    }


def test_a_characters_beats_can_be_revealed_in_a_scene(editor_client, film):
    hero = make_character(film, "hero", name="Hero")
    beat = CharacterBeat.objects.create(character=hero, position=1, text="Arrives.")
    url = f"/admin/films/character/{hero.pk}/change/"
    response = editor_client.get(url)
    assert '<option value="4">0:15 · Scene title 4</option>' in response.text
    data = form_data(response)
    index = row_index(data, "beats", "position", 1)
    data[f"beats-{index}-reveals_in_scene"] = "4"
    data["reveals_in_scene"] = "2"  # the character's own reveal point

    response = editor_client.post(url, data)

    assert response.status_code == 302
    beat.refresh_from_db()
    hero.refresh_from_db()
    assert beat.reveals_at == minutes(15)
    assert hero.reveals_at == minutes(5)


def test_scene_titles_in_the_pick_are_escaped(editor_client, film):
    film.scenes.filter(screen_position=1).update(title="<script>alert(1)</script>")
    make_character(film, "hero", name="Hero")
    html = editor_client.get(change_url(film)).text
    assert "<script>alert(1)</script>" not in html
    assert (
        '<option value="1">0:00 · &lt;script&gt;alert(1)&lt;/script&gt;</option>'
        in (html)
    )
