"""History: every change recorded with who and when; compare, revert, recover."""

import pytest
from django.core.management import call_command
from reversion.models import Version

from films.models import (
    Character,
    CharacterBeat,
    Credit,
    Film,
    FilmTheme,
    PlotSection,
    Recommendation,
    Scene,
)
from tests.admin_helpers import add_row, change_url, form_data, make_editor, row_index
from tests.factories import (
    make_character,
    make_credit,
    make_film,
    make_person,
    make_scene,
    make_theme,
    minutes,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(django_user_model):
    return make_editor(django_user_model, username="ana")


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


def build_guide():
    film = make_film(slug="stalker-1979", title="Stalker", year=1979, runtime=162)
    stalker = make_character(film, "the-stalker", name="The Stalker")
    CharacterBeat.objects.create(
        character=stalker, position=1, text="He leads.", reveals_at=minutes(10)
    )
    for position in (1, 2, 3):
        scene = make_scene(film, position)
        scene.characters.add(stalker)
    memory = make_theme("faith")
    FilmTheme.objects.create(film=film, theme=memory, analysis="Faith, tested.")
    PlotSection.objects.create(film=film, position=1, heading="Setting out", body="b")
    Recommendation.objects.create(
        film=film,
        target_slug="solaris-1972",
        target_title="Solaris",
        target_year=1972,
        reason="Also Tarkovsky.",
    )
    make_credit(
        film,
        make_person("alexander-kaidanovsky", name="Alexander Kaidanovsky"),
        Credit.Role.CAST,
        character=stalker,
    )
    return film


def save_change(client, film, **changes):
    data = form_data(client.get(change_url(film)))
    data.update({key.replace("__", "-"): value for key, value in changes.items()})
    response = client.post(change_url(film), data)
    assert response.status_code == 302, response.context["errors"]
    return response


def film_versions(film):
    return Version.objects.get_for_object(film).select_related("revision__user")


def test_every_change_is_recorded_with_who_and_when(editor_client, editor):
    film = build_guide()
    save_change(editor_client, film, scenes__0__summary="A new summary.")
    version = film_versions(film).first()
    assert version.revision.user == editor
    assert version.revision.date_created is not None
    assert "Changed Summary for scene “1. Scene 1”." in version.revision.get_comment()
    # The revision holds the whole guide, not only the row that changed.
    models = {v.content_type.model for v in version.revision.version_set.all()}
    assert models >= {
        "film",
        "scene",
        "character",
        "characterbeat",
        "credit",
        "filmtheme",
        "plotsection",
        "recommendation",
    }
    history = editor_client.get(f"/admin/films/film/{film.pk}/history/")
    assert "ana" in history.text
    assert "Changed Summary for scene" in history.text


def test_two_versions_can_be_compared(editor_client):
    film = build_guide()
    save_change(editor_client, film, scenes__0__summary="The zone is quiet.")
    save_change(
        editor_client,
        film,
        scenes__0__summary="The zone is silent.",
        scenes__2__ends_at="0:16",
    )
    new, old = film_versions(film)[:2]
    history = editor_client.get(f"/admin/films/film/{film.pk}/history/")
    assert f'name="old" value="{old.revision_id}"' in history.text
    response = editor_client.get(
        f"/admin/films/film/{film.pk}/history/compare/",
        {"old": old.revision_id, "new": new.revision_id},
    )
    assert response.status_code == 200
    text = response.text
    assert "Scene: 1. Scene 1" in text
    assert "<del>quiet.</del><ins>silent.</ins>" in text
    assert "<del>0:15</del>" in text and "<ins>0:16</ins>" in text
    assert "Scene 2" not in text  # unchanged rows are not listed


def test_compare_shows_added_and_removed_rows(editor_client):
    film = build_guide()
    call_command("createinitialrevisions", "films.Film", verbosity=0)
    save_change(editor_client, film, scenes__2__DELETE="on")
    data = form_data(editor_client.get(change_url(film)))
    add_row(
        data,
        "characters",
        name="The Writer",
        slug="the-writer",
        description="d",
        position="2",
    )
    assert editor_client.post(change_url(film), data).status_code == 302
    new, _, old = film_versions(film)[:3]
    response = editor_client.get(
        f"/admin/films/film/{film.pk}/history/compare/",
        {"old": old.revision_id, "new": new.revision_id},
    )
    assert 'class="change-removed"' in response.text
    assert "Scene: 3. Scene 3" in response.text
    assert 'class="change-added"' in response.text
    assert "Character: The Writer" in response.text


def test_reverting_restores_the_whole_guide(editor_client):
    film = build_guide()
    save_change(editor_client, film, scenes__0__summary="Before.")
    good = film_versions(film).first()
    data = form_data(editor_client.get(change_url(film)))
    data["scenes-0-summary"] = "A bad edit."
    add_row(
        data,
        "scenes",
        screen_position="4",
        story_position="4",
        starts_at="0:20",
        ends_at="0:25",
        title="Added later",
        slug="added-later",
        summary="s",
    )
    assert editor_client.post(change_url(film), data).status_code == 302

    url = f"/admin/films/film/{film.pk}/history/{good.pk}/"
    preview = editor_client.get(url)
    assert "Press the save button below to revert" in preview.text
    assert Scene.objects.get(film=film, screen_position=1).summary == "A bad edit."
    response = editor_client.post(url, form_data(preview))
    assert response.status_code == 302
    assert list(film.scenes.values_list("summary", flat=True)) == [
        "Before.",
        "What happens in scene 2.",
        "What happens in scene 3.",
    ]
    assert (
        "Reverted to previous version" in film_versions(film).first().revision.comment
    )


def test_reverting_across_a_reordering_works(editor_client):
    """Positions are unique: restoring a swap must not collide with itself."""
    film = build_guide()
    save_change(editor_client, film, scenes__0__summary="Before the swap.")
    before = film_versions(film).first()
    save_change(
        editor_client,
        film,
        scenes__1__screen_position="3",
        scenes__1__story_position="3",
        scenes__1__starts_at="0:10",
        scenes__1__ends_at="0:15",
        scenes__2__screen_position="2",
        scenes__2__story_position="2",
        scenes__2__starts_at="0:05",
        scenes__2__ends_at="0:10",
    )
    url = f"/admin/films/film/{film.pk}/history/{before.pk}/"
    response = editor_client.post(url, form_data(editor_client.get(url)))
    assert response.status_code == 302
    assert list(film.scenes.in_screen_order().values_list("title", flat=True)) == [
        "Scene 1",
        "Scene 2",
        "Scene 3",
    ]


def test_previewing_an_old_version_changes_nothing(editor_client):
    film = build_guide()
    save_change(editor_client, film, scenes__0__summary="Old.")
    old = film_versions(film).first()
    save_change(editor_client, film, scenes__0__summary="New.")
    editor_client.get(f"/admin/films/film/{film.pk}/history/{old.pk}/")
    first = film.scenes.in_screen_order().values_list("screen_position", "summary")
    assert first.first() == (1, "New.")
    assert film.scenes.filter(screen_position__gt=100).count() == 0


def test_a_deleted_film_is_recovered_with_its_whole_guide(editor_client):
    film = build_guide()  # made outside the admin, as the loader does
    pk = film.pk
    response = editor_client.post(f"/admin/films/film/{pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Film.objects.filter(pk=pk).exists()
    assert not Scene.objects.filter(film_id=pk).exists()

    listing = editor_client.get("/admin/films/film/recover/")
    assert "Stalker (1979)" in listing.text
    version = Version.objects.get_deleted(Film).get(object_id=str(pk))
    url = f"/admin/films/film/recover/{version.pk}/"
    preview = editor_client.get(url)
    assert preview.status_code == 200
    assert not Film.objects.filter(pk=pk).exists()  # a preview restores nothing
    response = editor_client.post(url, form_data(preview))
    assert response.status_code == 302

    film = Film.objects.get(pk=pk)
    assert [s.title for s in film.scenes.in_screen_order()] == [
        "Scene 1",
        "Scene 2",
        "Scene 3",
    ]
    stalker = Character.objects.get(film=film, slug="the-stalker")
    assert list(stalker.beats.values_list("text", flat=True)) == ["He leads."]
    assert list(film.scenes.first().characters.all()) == [stalker]
    assert list(film.film_themes.values_list("theme__slug", "analysis")) == [
        ("faith", "Faith, tested.")
    ]
    assert film.credits.get().character == stalker
    assert film.plot_sections.count() == 1
    assert film.recommendations.count() == 1


def test_a_list_deletion_is_recoverable_too(editor_client):
    film = build_guide()
    response = editor_client.post(
        "/admin/films/film/",
        {"action": "delete_selected", "_selected_action": [film.pk], "post": "yes"},
    )
    assert response.status_code == 302
    version = Version.objects.get_deleted(Film).get(object_id=str(film.pk))
    assert version.revision.comment == "Deleted."
    assert {v.object_repr for v in version.revision.version_set.all()} >= {
        "1. Scene 1",
        "The Stalker",
    }


def test_publishing_records_one_revision_per_film(editor_client, editor):
    films = [make_film(slug=f"f-{n}", status=Film.Status.DRAFT) for n in range(2)]
    editor_client.post(
        "/admin/films/film/",
        {"action": "publish", "_selected_action": [f.pk for f in films]},
    )
    for film in films:
        (version,) = film_versions(film)
        assert version.revision.user == editor
        assert version.revision.get_comment() == "Published."
        assert [
            v.object_id
            for v in version.revision.version_set.filter(content_type__model="film")
        ] == [str(film.pk)]


def test_a_change_on_a_characters_page_is_in_the_films_history(editor_client, editor):
    film = build_guide()
    stalker = film.characters.get()
    url = f"/admin/films/character/{stalker.pk}/change/"
    data = form_data(editor_client.get(url))
    index = row_index(data, "beats", "position", 1)
    data[f"beats-{index}-text"] = "He leads them into the Zone."
    assert editor_client.post(url, data).status_code == 302
    (version,) = film_versions(film)
    assert version.revision.user == editor
    assert "The Stalker" in version.revision.comment
    beat = version.revision.version_set.get(content_type__model="characterbeat")
    assert beat.field_dict["text"] == "He leads them into the Zone."


def test_initial_revisions_exist_for_guides_loaded_outside_the_admin():
    film = build_guide()
    call_command("createinitialrevisions", "films.Film", verbosity=0)
    (version,) = film_versions(film)
    assert version.revision.version_set.filter(content_type__model="scene").count() == 3
    call_command("createinitialrevisions", "films.Film", verbosity=0)  # harmless twice
    assert film_versions(film).count() == 1
