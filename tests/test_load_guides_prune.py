"""``load_guides --prune``: remove what a guide's file no longer has — of the films
the file gives, never another film's rows or shared rows — in one transaction,
recorded in each guide's history so that it can be brought back."""

from io import StringIO

import pytest
from django.core.management import call_command
from reversion.models import Version

from films.models import (
    Character,
    CharacterBeat,
    Credit,
    Film,
    FilmTheme,
    Person,
    PlotSection,
    Recommendation,
    Scene,
    Theme,
)
from tests.admin_helpers import form_data, make_editor
from tests.test_load_guides import (
    database_state,
    film_guide,
    find,
    load,
    refused,
    scene,
    write_json,
)

pytestmark = pytest.mark.django_db


def trimmed(objects):
    """The guide of ``one-2000`` without Ghost, scene 3, its analysis, its
    director's credit and its recommendation."""
    drop = [
        find(objects, "films.character", slug="ghost"),
        find(objects, "films.scene", slug="scene-3"),
        find(objects, "films.filmtheme", film=["one-2000"]),
        find(objects, "films.credit", role="director", film=["one-2000"]),
        find(objects, "films.recommendation", film=["one-2000"]),
    ]
    find(objects, "films.scene", slug="scene-2")["fields"]["characters"] = [
        ["one-2000", "hero"]
    ]
    return [o for o in objects if not any(o is d for d in drop)]


@pytest.fixture
def loaded(tmp_path):
    """Guides one and two, loaded; one's file as it was."""
    load(write_json(tmp_path / "two.json", film_guide("two-2001", title="Two")))
    objects = film_guide()
    load(write_json(tmp_path / "one.json", objects))
    return objects


def guide_of(slug):
    film = Film.objects.get(slug=slug)
    return {
        "characters": sorted(film.characters.values_list("slug", flat=True)),
        "beats": CharacterBeat.objects.filter(character__film=film).count(),
        "scenes": sorted(film.scenes.values_list("slug", flat=True)),
        "plot": film.plot_sections.count(),
        "analyses": film.film_themes.count(),
        "credits": sorted(film.credits.values_list("role", flat=True)),
        "recommendations": film.recommendations.count(),
    }


WHOLE = {
    "characters": ["ghost", "hero"],
    "beats": 1,
    "scenes": ["scene-1", "scene-2", "scene-3"],
    "plot": 1,
    "analyses": 1,
    "credits": ["cast", "director"],
    "recommendations": 1,
}


def test_prune_removes_what_the_file_no_longer_has(tmp_path, loaded):
    output = load(write_json(tmp_path / "one.json", trimmed(loaded)), prune=True)

    assert guide_of("one-2000") == {
        **WHOLE,
        "characters": ["hero"],
        "scenes": ["scene-1", "scene-2"],
        "analyses": 0,
        "credits": ["cast"],
        "recommendations": 0,
    }
    assert (
        "Pruned 1 scene, 1 film theme, 1 credit, 1 recommendation, 1 character from "
        "One (2000); each guide's history has its version from before"
    ) in output


def test_prune_never_touches_other_films_or_shared_rows(tmp_path, loaded):
    load(write_json(tmp_path / "one.json", trimmed(loaded)), prune=True)

    assert guide_of("two-2001") == WHOLE
    assert set(Person.objects.values_list("slug", flat=True)) == {"ann", "bob"}
    assert list(Theme.objects.values_list("slug", flat=True)) == ["faith"]


def test_without_prune_nothing_is_removed(tmp_path, loaded):
    output = load(write_json(tmp_path / "one.json", trimmed(loaded)))
    assert guide_of("one-2000")["scenes"] == WHOLE["scenes"]
    assert "prune" not in output.lower()


def test_prune_dry_run_lists_what_would_go_and_removes_nothing(tmp_path, loaded):
    before = database_state()
    versions = Version.objects.count()

    output = load(
        write_json(tmp_path / "one.json", trimmed(loaded)), prune=True, dry_run=True
    )

    assert '  would remove films.scene ["one-2000", "scene-3"] “3. Scene 3”' in output
    assert '  would remove films.character ["one-2000", "ghost"] “Ghost”' in output
    assert (
        '  would remove films.credit ["one-2000", "ann", "director"] '
        "“Ann Director — Director — One (2000)”"
    ) in output
    assert "Dry run: --prune would remove 1 scene, 1 film theme, 1 credit" in output
    assert "Nothing was removed." in output
    assert database_state() == before
    assert Version.objects.count() == versions


def test_prune_frees_positions_for_a_renumbered_timeline(tmp_path, loaded):
    objects = [
        o for o in loaded if o is not find(loaded, "films.scene", slug="scene-2")
    ]
    objects.remove(find(objects, "films.scene", slug="scene-3"))
    objects.append(scene("one-2000", 2, start=30, end=90, slug="the-long-scene"))
    path = write_json(tmp_path / "one.json", objects)
    assert "Screen position 2 is also used" in refused(path)

    load(path, prune=True)

    film = Film.objects.get(slug="one-2000")
    assert list(film.scenes.order_by("screen_position").values_list("slug")) == [
        ("scene-1",),
        ("the-long-scene",),
    ]


def test_a_bad_file_prunes_nothing(tmp_path, loaded):
    objects = trimmed(loaded)
    find(objects, "films.scene", slug="scene-2")["fields"]["ends_at"] = "09:00:00"
    before = database_state()

    message = refused(write_json(tmp_path / "one.json", objects), prune=True)

    assert message.startswith("Nothing was loaded: ")
    assert database_state() == before


def test_an_unreadable_file_prunes_nothing(tmp_path, loaded):
    path = tmp_path / "one.json"
    path.write_text("[{", encoding="utf-8")
    before = database_state()
    assert "Nothing was loaded" in refused(path, prune=True)
    assert database_state() == before


def test_pruning_twice_finds_nothing_more(tmp_path, loaded):
    path = write_json(tmp_path / "one.json", trimmed(loaded))
    load(path, prune=True)
    output = load(path, prune=True)
    assert "Nothing to prune" in output


def test_prune_output_respects_verbosity(tmp_path, loaded):
    path = write_json(tmp_path / "one.json", trimmed(loaded))
    out = StringIO()
    call_command(
        "load_guides", str(path), prune=True, verbosity=0, stdout=out, stderr=out
    )
    assert out.getvalue() == ""
    assert guide_of("one-2000")["scenes"] == ["scene-1", "scene-2"]


def test_prune_lists_each_row_at_verbosity_2(tmp_path, loaded):
    output = load(
        write_json(tmp_path / "one.json", trimmed(loaded)), prune=True, verbosity=2
    )
    assert '  removing films.recommendation ["one-2000", "stalker-1979"]' in output


def test_pruned_rows_are_recorded_and_can_be_brought_back(
    tmp_path, loaded, client, django_user_model
):
    load(write_json(tmp_path / "one.json", trimmed(loaded)), prune=True)
    film = Film.objects.get(slug="one-2000")
    after, before = Version.objects.get_for_object(film)[:2]
    assert after.revision.comment == (
        "load_guides --prune removed 1 scene, 1 film theme, 1 credit, 1 "
        "recommendation, 1 character, which the guide file no longer has."
    )
    assert before.revision.comment.startswith(
        "As it stood before load_guides --prune removed 1 scene"
    )
    assert {
        v.field_dict.get("slug")
        for v in before.revision.version_set.filter(content_type__model="scene")
    } == {"scene-1", "scene-2", "scene-3"}

    client.force_login(make_editor(django_user_model))
    url = f"/admin/films/film/{film.pk}/history/{before.pk}/"
    response = client.post(url, form_data(client.get(url)))

    assert response.status_code == 302
    assert guide_of("one-2000") == WHOLE
    assert Character.objects.get(film=film, slug="ghost").scenes.count() == 1
    assert Credit.objects.filter(film=film, role="director").exists()
    assert FilmTheme.objects.filter(film=film).exists()
    assert Recommendation.objects.filter(film=film).exists()
    assert Scene.objects.filter(film=film, slug="scene-3").exists()
    assert PlotSection.objects.filter(film=film).count() == 1
