"""``manage.py export_guides``: the guide file format, in a fixed order and layout.

What an operator relies on: the file loads anywhere (natural keys, no ids),
diffs cleanly (same data, same bytes, whatever the ids), and export → load
into an empty database → export gives back the very same bytes.
"""

import json
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from films.guide_files import GUIDE_MODELS
from films.models import (
    CharacterBeat,
    Country,
    Film,
    FilmTheme,
    Genre,
    Language,
    PlotSection,
    Recommendation,
)
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

FIXTURES = sorted((Path(settings.BASE_DIR) / "fixtures").glob("*.json"))


def build_film(slug="one-2000", *, scenes=3, theme="memory", person="jane-doe"):
    """A film with a row of every kind, made as the admin would make it."""
    film = make_film(slug=slug, title=slug.title(), runtime=100)
    film.languages.add(Language.objects.get_or_create(code="ru", name="Russian")[0])
    film.countries.add(Country.objects.get_or_create(code="SU", name="Soviet Union")[0])
    film.genres.add(Genre.objects.get_or_create(slug="drama", name="Drama")[0])
    memory = make_theme(theme)
    hero = make_character(film, "hero", is_main=True, position=1)
    ghost = make_character(film, "ghost", position=2, reveals_at=minutes(9))
    CharacterBeat.objects.create(character=hero, position=1, text="Sets out.")
    for n in range(scenes, 0, -1):  # made in reverse: ids must not decide order
        made = make_scene(film, n)
        made.characters.set([ghost, hero])
        made.themes.set([memory])
    PlotSection.objects.create(film=film, position=1, heading="Set-up", body="x")
    FilmTheme.objects.create(
        film=film, theme=memory, analysis="y", reveals_at=minutes(5)
    )
    make_credit(film, make_person(person))
    make_credit(
        film, make_person(f"{person}-actor"), "cast", character=hero, position=2
    )
    Recommendation.objects.create(
        film=film, target_slug="stalker-1979", target_title="Stalker", target_year=1979,
        reason="z",
    )  # fmt: skip
    return film


def export(*slugs, **options):
    out = StringIO()
    call_command("export_guides", *slugs, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def export_file(path, *slugs, **options):
    export(*slugs, output=str(path), **options)
    return path.read_bytes()


def load(*paths):
    call_command("load_guides", *map(str, paths), stdout=StringIO(), stderr=StringIO())


def empty_the_database():
    for model in reversed(GUIDE_MODELS):
        model.objects.all().delete()


def test_an_export_is_a_fixture_with_natural_keys_and_no_ids():
    build_film()

    objects = json.loads(export("one-2000"))

    assert all(set(o) == {"model", "fields"} for o in objects)
    scene = next(o["fields"] for o in objects if o["model"] == "films.scene")
    assert scene["film"] == ["one-2000"]
    assert scene["characters"] == [["one-2000", "ghost"], ["one-2000", "hero"]]
    assert scene["themes"] == [["memory"]]
    assert (scene["starts_at"], scene["ends_at"]) == ("00:00:00", "00:05:00")
    credit = next(o["fields"] for o in objects if o["fields"].get("role") == "cast")
    assert credit["character"] == ["one-2000", "hero"]


def test_the_layout_is_that_of_the_shipped_guides():
    build_film()

    text = export()

    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


def test_objects_come_in_a_fixed_order_whatever_the_ids():
    build_film("two-2001", theme="faith", person="ann")
    build_film("one-2000")

    models = [(o["model"], o["fields"]) for o in json.loads(export())]

    assert [m for m, _ in models][:6] == [
        "films.country",
        "films.language",
        "films.genre",
        "films.person",
        "films.person",
        "films.person",
    ]
    films = [f["slug"] for m, f in models if m == "films.film"]
    assert films == ["one-2000", "two-2001"]
    scenes = [f["screen_position"] for m, f in models if m == "films.scene"]
    assert scenes == [1, 2, 3, 1, 2, 3]
    themes = [f["slug"] for m, f in models if m == "films.theme"]
    assert themes == ["faith", "memory"]


def test_one_film_carries_only_the_rows_it_uses(tmp_path):
    build_film("one-2000")
    build_film("two-2001", theme="faith", person="ann")
    path = tmp_path / "one.json"

    objects = json.loads(export_file(path, "one-2000"))

    assert {o["fields"]["slug"] for o in objects if o["model"] == "films.film"} == {
        "one-2000"
    }
    assert [o["fields"]["slug"] for o in objects if o["model"] == "films.theme"] == [
        "memory"
    ]
    assert "ann" not in {o["fields"].get("slug") for o in objects}
    empty_the_database()
    load(path)
    assert list(Film.objects.values_list("slug", flat=True)) == ["one-2000"]


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_export_load_into_an_empty_database_export_gives_the_same_bytes(
    tmp_path, suffix
):
    build_film("one-2000")
    build_film("two-2001", theme="faith", person="ann")
    first = export_file(tmp_path / f"first{suffix}")

    empty_the_database()
    load(tmp_path / f"first{suffix}")
    second = export_file(tmp_path / f"second{suffix}")

    assert second == first


def test_stdout_and_a_file_hold_the_same_export(tmp_path):
    build_film()
    assert export_file(tmp_path / "all.json").decode() == export()
    lines = export(file_format="jsonl").splitlines()
    assert [json.loads(line) for line in lines] == json.loads(export())


def test_the_export_reports_what_it_wrote(tmp_path):
    build_film()
    output = export(output=str(tmp_path / "out.json"))
    assert output == f"Exported 18 objects (1 film) to {tmp_path / 'out.json'}.\n"


def test_dry_run_writes_no_file(tmp_path):
    build_film()
    output = export(output=str(tmp_path / "out.json"), dry_run=True)
    assert "Dry run: would export 18 objects (1 film)" in output
    assert not (tmp_path / "out.json").exists()


def test_an_unknown_slug_is_refused_with_a_suggestion():
    build_film("stalker-1979")
    with pytest.raises(CommandError) as caught:
        export("stalker-1980")
    assert str(caught.value) == (
        "No film with the slug stalker-1980 (did you mean stalker-1979?). A film's "
        "slug is its title and year, e.g. stalker-1979."
    )


def test_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        export(output=str(tmp_path / "nowhere" / "out.json"))


def test_export_queries_do_not_grow_with_the_guide(django_assert_num_queries):
    # The reference tables once, then nine queries a film, whatever its size
    # (and a savepoint around them, the export's transaction inside the test's).
    build_film("one-2000", scenes=2)
    with django_assert_num_queries(2 + 5 + 4 + 9):
        export()
    build_film("two-2001", scenes=12, theme="faith", person="ann")
    with django_assert_num_queries(2 + 5 + 4 + 9 * 2):
        export()


def test_timestamps_survive_the_round_trip_to_the_millisecond(tmp_path):
    film = build_film()
    Film.objects.filter(pk=film.pk).update(
        updated_at=film.updated_at.replace(microsecond=123456)
    )
    first = export_file(tmp_path / "first.json")
    assert '"updated_at": "' in first.decode()

    empty_the_database()
    load(tmp_path / "first.json")

    assert Film.objects.get().updated_at.microsecond == 123000
    assert export_file(tmp_path / "second.json") == first


def test_a_time_with_less_than_a_millisecond_is_written_as_it_reads_back(tmp_path):
    film = build_film()
    Film.objects.filter(pk=film.pk).update(
        created_at=film.created_at.replace(microsecond=456)
    )
    first = export_file(tmp_path / "first.json")

    empty_the_database()
    load(tmp_path / "first.json")

    assert Film.objects.get().created_at.microsecond == 0
    assert export_file(tmp_path / "second.json") == first


@pytest.mark.skipif(not FIXTURES, reason="no fixtures shipped yet")
def test_the_shipped_guides_export_load_export_to_the_same_bytes(tmp_path):
    load(*FIXTURES)
    first = export_file(tmp_path / "first.json")

    empty_the_database()
    load(tmp_path / "first.json")

    assert export_file(tmp_path / "second.json") == first


def test_a_scene_reveals_at_its_start_in_the_file():
    film = build_film()
    film.scenes.filter(screen_position=2).update(
        starts_at=timedelta(minutes=5, seconds=7)
    )
    scene = next(
        o["fields"]
        for o in json.loads(export())
        if o["model"] == "films.scene" and o["fields"]["screen_position"] == 2
    )
    assert scene["starts_at"] == "00:05:07"
