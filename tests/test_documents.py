"""Pages read their guide's documents (films/documents.py): built on the write,
at the guide's version, filtered by the horizon in Python — and that filter
agrees with the database's (``Horizon.q``) for every row of every guide."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from films import derived, documents
from films.models import (
    Character,
    CharacterBeat,
    Film,
    FilmDocument,
    FilmTheme,
    PlotSection,
    Scene,
)
from films.spoilers import ALL, NONE, Horizon
from tests.factories import build_guide, make_character, make_film, make_scene
from tests.shipped import shipped_guides  # noqa: F401 — a fixture

pytestmark = pytest.mark.django_db


def horizons(film):
    """Nothing, everything, and every reveal point with a second either side."""
    points = set(film.reveal_index["points"])
    found = [Horizon(NONE), Horizon(ALL)]
    for seconds in sorted(points):
        for at in (seconds - 1, seconds, seconds + 1):
            if at >= 0:
                found.append(Horizon.at_time(timedelta(seconds=at)))
    return found


def stored(film):
    rows = FilmDocument.objects.filter(film=film).values_list("name", "data")
    return {name: json.loads(data) for name, data in rows}


@pytest.mark.usefixtures("shipped_guides")
def test_the_python_filter_agrees_with_the_database_for_every_row_of_every_guide():
    films = list(Film.objects.all())
    assert len(films) >= 7
    checked = 0
    for film in films:
        parts = documents.load(film, list(documents.PARTS))
        characters = {c["slug"]: c for c in parts["characters"]}
        for horizon in horizons(film):
            kept = {
                "plot": [
                    s.position
                    for s in documents.revealed(parts["overview"]["plot"], horizon)
                ],
                "scenes": [
                    s.slug
                    for s in documents.revealed(
                        parts["scenes"]["scenes"], horizon, "starts_at"
                    )
                ],
                "characters": [
                    c.slug for c in documents.revealed(parts["characters"], horizon)
                ],
                "analyses": [
                    a.theme.slug for a in documents.revealed(parts["themes"], horizon)
                ],
                "beats": sorted(
                    (slug, b.position)
                    for slug, c in characters.items()
                    for b in documents.revealed(c["beats"], horizon)
                ),
            }
            database = {
                "plot": list(
                    PlotSection.objects.filter(film=film)
                    .up_to(horizon)
                    .order_by("position")
                    .values_list("position", flat=True)
                ),
                "scenes": list(
                    Scene.objects.filter(film=film)
                    .up_to(horizon)
                    .in_screen_order()
                    .values_list("slug", flat=True)
                ),
                "characters": list(
                    Character.objects.filter(film=film)
                    .up_to(horizon)
                    .values_list("slug", flat=True)
                ),
                "analyses": list(
                    FilmTheme.objects.filter(film=film)
                    .up_to(horizon)
                    .values_list("theme__slug", flat=True)
                ),
                "beats": sorted(
                    CharacterBeat.objects.filter(character__film=film)
                    .up_to(horizon)
                    .values_list("character__slug", "position")
                ),
            }
            assert kept == database, (film.slug, str(horizon))
            checked += 1
    assert checked > 100


@pytest.mark.usefixtures("shipped_guides")
def test_stored_documents_are_a_fresh_build_at_the_guides_version():
    for film in Film.objects.all():
        rows = FilmDocument.objects.filter(film=film)
        assert sorted(rows.values_list("name", flat=True)) == sorted(documents.PARTS)
        assert set(rows.values_list("version", flat=True)) == {film.version}
        assert set(rows.values_list("format", flat=True)) == {
            documents.current_format()
        }
        fresh = json.loads(json.dumps(documents.build([film.pk])[film.pk]))
        assert stored(film) == fresh, film.slug


def test_an_edit_stores_the_new_document_in_the_same_transaction(client):
    film = build_guide(3)
    scene = film.scenes.get(screen_position=2)
    scene.title = "A freshly renamed scene"
    scene.save()
    film.refresh_from_db()
    titles = [s["title"] for s in stored(film)["scenes"]["scenes"]]
    assert "A freshly renamed scene" in titles
    assert set(
        FilmDocument.objects.filter(film=film).values_list("version", flat=True)
    ) == {film.version}
    page = client.get(f"/films/{film.slug}/timeline/", {"seen": ALL})
    assert "A freshly renamed scene" in page.content.decode()


def test_writes_with_bumps_deferred_bump_the_guide_once_at_the_end():
    film = make_film(runtime=20)
    before = Film.objects.get(pk=film.pk).version
    with derived.bumps_deferred():
        make_scene(film, 1, title="The first scene")
        make_scene(film, 2, title="The second scene")
        assert Film.objects.get(pk=film.pk).version == before  # not yet
    film.refresh_from_db()
    assert film.version > before
    assert film.reveal_index == derived.reveal_index([film.pk])[film.pk]
    rows = FilmDocument.objects.filter(film=film)
    assert set(rows.values_list("version", flat=True)) == {film.version}
    assert stored(film) == json.loads(json.dumps(documents.build([film.pk])[film.pk]))
    titles = [s["title"] for s in stored(film)["scenes"]["scenes"]]
    assert titles == ["The first scene", "The second scene"]


def test_nothing_is_bumped_when_bumps_deferred_ends_with_an_error():
    film = make_film(runtime=20)
    before = Film.objects.get(pk=film.pk).version
    with pytest.raises(ValueError), derived.bumps_deferred():
        make_scene(film, 1)
        raise ValueError
    assert Film.objects.get(pk=film.pk).version == before
    # and writes after it are bumped as ever, one by one
    make_scene(film, 2)
    assert Film.objects.get(pk=film.pk).version > before


# With the page cache, a page reads the film's head, then the rest of it with
# its parts of the document; without it, all of that in one query: both ways
# check each part's version and format.
both_ways = pytest.mark.parametrize("page_cache", [True, False], ids=["cache", "none"])


@both_ways
def test_a_document_of_another_version_is_never_shown(client, settings, page_cache):
    settings.PAGE_CACHE = page_cache
    film = build_guide(3)
    # The stored parts say one thing, the rows (at a newer version) another:
    # as after a write by code that did not store documents.
    Scene.objects.filter(film=film, screen_position=1).update(title="Rows win")
    Film.objects.filter(pk=film.pk).update(version=film.version + 1000)
    page = client.get(f"/films/{film.slug}/timeline/", {"seen": ALL})
    assert "Rows win" in page.content.decode()


@both_ways
def test_a_document_of_another_format_is_never_shown(client, settings, page_cache):
    settings.PAGE_CACHE = page_cache
    film = build_guide(3)
    Scene.objects.filter(film=film, screen_position=1).update(title="Rows again")
    FilmDocument.objects.filter(film=film).update(format=documents.current_format() + 1)
    page = client.get(f"/films/{film.slug}/timeline/", {"seen": ALL})
    assert "Rows again" in page.content.decode()


@both_ways
def test_a_missing_document_is_built_from_the_rows(client, settings, page_cache):
    settings.PAGE_CACHE = page_cache
    film = build_guide(3)
    Scene.objects.filter(film=film, screen_position=1).update(title="Rows alone")
    FilmDocument.objects.filter(film=film, name="scenes").delete()
    page = client.get(f"/films/{film.slug}/timeline/", {"seen": ALL})
    assert "Rows alone" in page.content.decode()
    assert client.get(f"/films/{film.slug}/", {"seen": ALL}).status_code == 200


def test_render_text_stores_missing_and_stale_documents():
    film = build_guide(2)
    other = make_film(slug="other-2001")
    FilmDocument.objects.filter(film=film).delete()
    FilmDocument.objects.filter(film=other).update(
        format=documents.current_format() + 1
    )
    out = StringIO()
    call_command("render_text", stdout=out)
    assert "documents of 2 films rebuilt" in out.getvalue()
    for one in (film, other):
        one.refresh_from_db()
        rows = FilmDocument.objects.filter(film=one, format=documents.current_format())
        assert rows.filter(version=one.version).count() == len(documents.PARTS)
    out = StringIO()
    call_command("render_text", stdout=out)
    assert "documents of 0 films rebuilt" in out.getvalue()


def test_deleting_a_film_deletes_its_documents():
    film = build_guide(2)
    pk = film.pk
    assert FilmDocument.objects.filter(film_id=pk).exists()
    film.delete()
    assert not FilmDocument.objects.filter(film_id=pk).exists()


def test_a_page_reads_its_documents_in_one_query():
    film = build_guide(4)
    make_character(film, slug="late", reveals_at=timedelta(minutes=12))
    film.refresh_from_db()
    with CaptureQueriesContext(connection) as queries:
        documents.load(film, ["scenes", "themes", "characters"])
    assert len(queries) == 1


def test_documents_keep_every_row_and_pages_only_what_the_horizon_reveals(client):
    film = build_guide(2)
    make_scene(
        film,
        3,
        title="The late secret scene",
        starts_at=timedelta(minutes=40),
        ends_at=timedelta(minutes=45),
    )
    stored_titles = [s["title"] for s in stored(film)["scenes"]["scenes"]]
    assert "The late secret scene" in stored_titles  # the document has it all
    page = client.get(f"/films/{film.slug}/timeline/", {"seen": "0:05"})
    assert "The late secret scene" not in page.content.decode()
