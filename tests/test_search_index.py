"""What search reads is kept in step with the guides on every path that
writes them: a save, a queryset update, the loader, loaddata, a delete, a
cascade — and a write rolled back leaves it as it was. A search made right
after an edit sees it."""

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from films import search_index
from films.models import Film, Person, Scene
from tests.factories import build_guide, make_character, make_credit, make_person

pytestmark = pytest.mark.django_db

sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the FTS5 tables are SQLite's"
)


def found(client, query, kind=None, cookies=None):
    from tests.test_search import hit_urls

    client.cookies.clear()
    for name, value in (cookies or {}).items():
        client.cookies[name] = value
    params = {"q": query, **({"kind": kind} if kind else {})}
    return hit_urls(client.get("/search/", params))


def fts_rows(kind):
    """Every row of a kind's FTS5 tables, as stored."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT rowid, * FROM {search_index.table(kind)} ORDER BY rowid"  # noqa: S608
        )
        rows = cursor.fetchall()
        if kind in search_index.NAMES:
            cursor.execute(
                f"SELECT rowid, * FROM {search_index.trigram_table(kind)} ORDER BY rowid"  # noqa: S608
            )
            rows += cursor.fetchall()
    return rows


def rebuilt_rows():
    """The FTS5 tables as a fresh build from the guides would make them."""
    with connection.cursor() as cursor:
        search_index.drop_tables(cursor)
        search_index.create_tables(cursor)
    return {kind: fts_rows(kind) for kind in search_index.TABLES}


def test_an_edit_is_found_by_the_very_next_search(client):
    film = build_guide(slug="edit-2000", title="Before")
    assert "/films/edit-2000/" in found(client, "Before")
    film.title = "Afterwards"
    film.save()
    assert "/films/edit-2000/" in found(client, "Afterwards")
    assert "/films/edit-2000/" not in found(client, "Before")


def test_a_queryset_update_is_found(client):
    film = build_guide(slug="upd-2000", title="Upd")
    Scene.objects.filter(film=film, screen_position=2).update(title="Quicksilver")
    assert found(client, "quicksilver", "scenes", {"seen_upd-2000": "all"}) == [
        "/films/upd-2000/timeline/#scene-2"
    ]


def test_a_film_is_found_by_its_cast_but_not_by_its_later_characters(client):
    film = build_guide(slug="cast-2000", title="Cast")
    make_credit(film, make_person("zoltan-kovacs", name="Zoltán Kovács"), "cast")
    film.refresh_from_db()
    assert "Zoltán Kovács" in film.search_names
    assert "Hero" in film.search_names  # spoiler-free
    assert "Late Arrival" not in film.search_names  # met at 0:10
    assert "/films/cast-2000/" in found(client, "zoltan kovacs", "films")
    assert "/films/cast-2000/" not in found(client, "late arrival", "films")


def test_a_renamed_person_is_found_by_the_new_name(client):
    film = build_guide(slug="ren-2000", title="Ren")
    person = make_person("old-name", name="Oldname Person")
    make_credit(film, person, "cast")
    person.name = "Newname Person"
    person.save()
    assert found(client, "Newname", "people") == ["/people/old-name/"]
    assert found(client, "Newname", "films") == ["/films/ren-2000/"]
    assert found(client, "Oldname", "films") == []


def test_deleting_a_film_takes_its_rows_with_it(client):
    film = build_guide(slug="gone-2000", title="Vanishing")
    film.delete()
    assert found(client, "Vanishing") == []
    assert found(client, "Scene", "scenes", {"seen_gone-2000": "all"}) == []


def test_a_write_rolled_back_leaves_search_as_it_was(client):
    film = build_guide(slug="rb-2000", title="Steady")
    with pytest.raises(RuntimeError), transaction.atomic():
        Film.objects.filter(pk=film.pk).update(title="Shaky")
        make_character(film, "ghost", name="Phantasm")
        raise RuntimeError
    assert "/films/rb-2000/" in found(client, "Steady")
    assert found(client, "Shaky") == []
    assert found(client, "Phantasm") == []


def test_loaded_guides_are_found(client, tmp_path):
    from tests.shipped import FIXTURES

    call_command("load_guides", *FIXTURES, verbosity=0)
    assert found(client, "Roadside Picnic", "films")[0] == "/films/stalker-1979/"
    assert found(client, "Banionis", "films")[0] == "/films/solaris-1972/"
    call_command("load_guides", *FIXTURES, verbosity=0)  # again: unchanged
    assert found(client, "Banionis", "films")[0] == "/films/solaris-1972/"


def test_loaddata_is_found(client):
    call_command("loaddata", "solaris-1972", verbosity=0)
    assert found(client, "Stanislaw Lem", "people") == ["/people/stanislaw-lem/"]
    assert found(client, "Solyaris", "films") == ["/films/solaris-1972/"]


@sqlite_only
def test_the_fts_tables_equal_a_fresh_build_after_many_kinds_of_writes():
    from tests.shipped import FIXTURES

    call_command("load_guides", *FIXTURES[:3], verbosity=0)
    film = Film.objects.get(slug="ivans-childhood-1962")
    film.other_titles = "My Name Is Ivan"
    film.save()
    Scene.objects.filter(film=film, screen_position=1).update(summary="Changed.")
    Scene.objects.filter(film=film, screen_position=2).delete()
    Person.objects.filter(slug="vladimir-bogomolov").update(name="V. Bogomolov")
    Film.objects.get(slug=FIXTURES[0].stem).delete()
    with pytest.raises(RuntimeError), transaction.atomic():
        Film.objects.all().delete()
        raise RuntimeError
    kept = {kind: fts_rows(kind) for kind in search_index.TABLES}
    assert all(kept.values())
    assert kept == rebuilt_rows()


def test_a_reverted_and_a_recovered_guide_are_found(client):
    import reversion
    from reversion.models import Version

    film = build_guide(slug="rev-2000", title="Original")
    Scene.objects.filter(film=film, screen_position=1).update(title="Lantern")
    film.refresh_from_db()
    with reversion.create_revision():
        film.save()
    film.title = "Changed"
    film.save()
    assert "/films/rev-2000/" in found(client, "Changed")
    Version.objects.get_for_object(film).first().revision.revert(delete=True)
    assert "/films/rev-2000/" in found(client, "Original")
    assert found(client, "Changed") == []

    pk = film.pk
    film.delete()
    assert found(client, "Original") == []
    Version.objects.get_deleted(Film).get(object_id=str(pk)).revision.revert()
    assert "/films/rev-2000/" in found(client, "Original")
    assert found(client, "Lantern", "scenes", {"seen_rev-2000": "all"}) == [
        "/films/rev-2000/timeline/#scene-1"
    ]
