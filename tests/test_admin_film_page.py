"""A film's page an editor can find their way around: a jump list with counts,
and a long timeline listed, each scene edited on its own page (or all of them on
the film's page with ?scenes=edit)."""

import re

import pytest
from django.core.management import call_command

from films.models import Film, Scene
from tests.admin_helpers import change_url, form_data, guide_state, make_editor
from tests.factories import make_character, make_film, make_scene, minutes

pytestmark = pytest.mark.django_db

LONG = 13  # more scenes than the film's page edits in place


@pytest.fixture
def editor_client(client, django_user_model):
    client.force_login(make_editor(django_user_model))
    return client


@pytest.fixture
def long_film():
    film = make_film(runtime=LONG * 5)
    make_character(film, "hero", name="Hero")
    for position in range(1, LONG + 1):
        make_scene(film, position, title=f"Scene title {position}")
    return film


def scene_url(scene):
    return f"/admin/films/scene/{scene.pk}/change/"


def test_a_long_timeline_is_listed_with_links_to_each_scene(editor_client, long_film):
    response = editor_client.get(change_url(long_film))
    html = response.text

    assert 'name="scenes-TOTAL_FORMS"' not in html
    assert '<h2 id="scene-list-heading" class="inline-heading">Scenes (13)</h2>' in html
    scene = long_film.scenes.get(screen_position=7)
    assert (
        "<tr><td>7</td><td>0:30–0:35</td><td>7</td>"
        f'<td><a href="{scene_url(scene)}">Scene title 7</a></td></tr>'
    ) in html
    assert '<a href="?scenes=edit">edit all 13 scenes on this page</a>' in html
    assert f'href="/admin/films/scene/add/?film={long_film.pk}" class="addlink"' in html


def test_the_jump_list_leads_to_every_part_with_counts(editor_client, long_film):
    html = editor_client.get(change_url(long_film)).text
    nav = re.search(r'<nav class="guide-parts".*?</nav>', html, re.S).group(0)
    for anchor, label in [
        ("credits-group", "Credits (0)"),
        ("characters-group", "Characters (1)"),
        ("scene-list", "Scenes (13)"),
        ("plot_sections-group", "Plot sections (0)"),
        ("recommendations-group", "Recommendations (0)"),
    ]:
        assert f'<a href="#{anchor}">{label}</a>' in nav, label
    assert 'id="scene-list"' in html


def test_a_short_timeline_is_edited_on_the_films_page(editor_client):
    film = make_film()
    for position in (1, 2, 3):
        make_scene(film, position)
    html = editor_client.get(change_url(film)).text
    assert 'name="scenes-TOTAL_FORMS" value="3"' in html
    assert 'id="scene-list"' not in html
    assert '<a href="#scenes-group">Scenes (3)</a>' in html


def test_all_scenes_can_be_edited_on_the_films_page(editor_client, long_film):
    url = change_url(long_film) + "?scenes=edit"
    data = form_data(editor_client.get(url))
    assert data["scenes-TOTAL_FORMS"] == str(LONG)
    data["scenes-0-title"] = "Renamed on the film's page"
    data["scenes-0-story_position"], data["scenes-1-story_position"] = "2", "1"

    response = editor_client.post(url, data)

    assert response.status_code == 302
    assert long_film.scenes.get(screen_position=1).title == "Renamed on the film's page"
    assert long_film.scenes.get(screen_position=1).story_position == 2


def test_saving_a_film_whose_scenes_are_listed_keeps_them(editor_client, long_film):
    before = list(Scene.objects.filter(film=long_film).values_list())
    data = form_data(editor_client.get(change_url(long_film)))
    data["title"] = "Retitled"

    response = editor_client.post(change_url(long_film), data)

    assert response.status_code == 302
    assert Film.objects.get(pk=long_film.pk).title == "Retitled"
    assert list(Scene.objects.filter(film=long_film).values_list()) == before


def test_a_runtime_shorter_than_a_listed_scene_is_refused(editor_client, long_film):
    before = guide_state(long_film)
    data = form_data(editor_client.get(change_url(long_film)))
    data["runtime"] = "62"

    response = editor_client.post(change_url(long_film), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["runtime"] == [
        "These scenes would end after the film's end: 13. Scene title 13 (ends "
        "1:05). Change them first, on their own pages or with all scenes on this "
        "page."
    ]
    assert guide_state(long_film) == before


def test_saving_a_scene_on_its_own_page_goes_back_to_the_films_list(
    editor_client, long_film
):
    scene = long_film.scenes.get(screen_position=2)
    data = form_data(editor_client.get(scene_url(scene)))
    data["title"] = "A better title"

    response = editor_client.post(scene_url(scene), data)

    assert response.status_code == 302
    assert response["Location"] == f"{change_url(long_film)}#scene-list"
    scene.refresh_from_db()
    assert scene.title == "A better title"


def test_a_scene_on_its_own_page_is_checked_against_the_timeline(
    editor_client, long_film
):
    scene = long_film.scenes.get(screen_position=2)
    data = form_data(editor_client.get(scene_url(scene)))
    data["starts_at"] = "0:02"

    response = editor_client.post(scene_url(scene), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["starts_at"] == [
        "Starts at 0:02, while “Scene title 1” is still running (until 0:05)."
    ]
    scene.refresh_from_db()
    assert scene.starts_at == minutes(5)


def test_a_scene_added_from_the_film_offers_only_its_characters(
    editor_client, long_film
):
    make_character(make_film(slug="other-2000"), "stranger", name="Stranger")
    response = editor_client.get(f"/admin/films/scene/add/?film={long_film.pk}")
    assert response.status_code == 200
    assert response.context["adminform"].form["film"].value() == str(long_film.pk)
    assert " Hero</label>" in response.text
    assert "Stranger" not in response.text


def test_the_stalker_page_is_a_fraction_of_its_old_size(editor_client):
    call_command("loaddata", "stalker-1979", verbosity=0)
    film = Film.objects.get(slug="stalker-1979")
    response = editor_client.get(change_url(film))
    assert response.status_code == 200
    # 469 KB when every scene was edited on it.
    assert len(response.content) < 300_000
    assert "Scenes (29)" in response.text


def test_save_and_continue_keeps_every_scene_on_the_page(editor_client, long_film):
    url = change_url(long_film) + "?scenes=edit"
    data = form_data(editor_client.get(url))
    data["_continue"] = "Save and continue editing"

    response = editor_client.post(url, data)

    assert response.status_code == 302
    assert response["Location"] == url
