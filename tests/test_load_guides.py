"""``manage.py load_guides``: validated, all-or-nothing, idempotent loading.

Bad input is refused with a message that says where (file, line or object),
what (model, natural key, field) and what was expected, and the database is
left exactly as it was. Good input is loaded once; loading it again changes
nothing; a changed file updates the rows it names.
"""

import json
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, models

from films.guide_files import (
    GUIDE_MODELS,
    KEY_FIELDS,
    PARKED_FIELDS,
    Loader,
    check_holds,
)
from films.models import Character, Credit, Film, Scene

pytestmark = pytest.mark.django_db

FIXTURES = sorted((Path(settings.BASE_DIR) / "fixtures").glob("*.json"))


# --- Building guide files ------------------------------------------------------


def obj(model, **fields):
    return {"model": model, "fields": fields}


def scene(film, n, *, start, end, **fields):
    """Scene ``n`` of ``film``, from minute ``start`` to minute ``end``."""
    values = {
        "film": [film],
        "slug": f"scene-{n}",
        "screen_position": n,
        "starts_at": f"{start // 60:02d}:{start % 60:02d}:00",
        "ends_at": f"{end // 60:02d}:{end % 60:02d}:00",
        "story_position": n,
        "story_label": "",
        "title": f"Scene {n}",
        "summary": f"What happens in scene {n}.",
        "location": "",
        "characters": [[film, "hero"]],
        "themes": [["faith"]],
        **fields,
    }
    return obj("films.scene", **values)


def film_guide(slug="one-2000", *, title="One", year=2000, runtime=100):
    """A small, valid guide as a file holds it: every model, three scenes."""
    film = [slug]
    return [
        obj("films.country", code="SU", name="Soviet Union"),
        obj("films.language", code="ru", name="Russian"),
        obj("films.genre", name="Drama", slug="drama"),
        obj(
            "films.person", name="Ann Director", original_name="", slug="ann", born=1930
        ),
        obj("films.person", name="Bob Actor", original_name="", slug="bob", born=None),
        obj("films.theme", name="Faith", slug="faith", description="Belief."),
        obj(
            "films.film",
            title=title,
            original_title="",
            slug=slug,
            year=year,
            runtime=runtime,
            production_companies="Mosfilm",
            based_on="",
            premise="A spoiler-free premise.",
            ending_explained="THE ENDING.",
            status="published",
            featured=False,
            created_at="2026-01-01T12:00:00Z",
            updated_at="2026-01-02T12:00:00Z",
            languages=[["ru"]],
            countries=[["SU"]],
            genres=[["drama"]],
        ),
        obj(
            "films.character",
            film=film,
            name="Hero",
            slug="hero",
            description="Who they are.",
            is_main=True,
            position=1,
            reveals_at=None,
        ),
        obj(
            "films.character",
            film=film,
            name="Ghost",
            slug="ghost",
            description="A late arrival.",
            is_main=False,
            position=2,
            reveals_at="00:50:00",
        ),
        obj(
            "films.characterbeat",
            character=[slug, "hero"],
            position=1,
            text="Sets out.",
            reveals_at="00:10:00",
        ),
        scene(slug, 1, start=0, end=30),
        scene(slug, 2, start=30, end=60, characters=[[slug, "hero"], [slug, "ghost"]]),
        scene(slug, 3, start=60, end=90, themes=[]),
        obj(
            "films.plotsection",
            film=film,
            position=1,
            heading="Set-up",
            body="How it begins.",
            reveals_at=None,
        ),
        obj(
            "films.filmtheme",
            film=film,
            theme=["faith"],
            position=1,
            analysis="Faith, analysed.",
            reveals_at="01:30:00",
        ),
        obj(
            "films.credit",
            film=film,
            person=["ann"],
            role="director",
            character=None,
            note="",
            position=1,
        ),
        obj(
            "films.credit",
            film=film,
            person=["bob"],
            role="cast",
            character=[slug, "hero"],
            note="",
            position=2,
        ),
        obj(
            "films.recommendation",
            film=film,
            target_slug="stalker-1979",
            target_title="Stalker",
            target_year=1979,
            reason="Another journey.",
            position=1,
        ),
    ]


def find(objects, model, **match):
    """The one object of ``model`` whose fields include ``match``."""
    found = [
        o
        for o in objects
        if o["model"] == model
        and all(o["fields"].get(k) == v for k, v in match.items())
    ]
    assert len(found) == 1, (model, match, found)
    return found[0]


def write_json(path, objects):
    path.write_text(json.dumps(objects, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def write_jsonl(path, objects):
    path.write_text(
        "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects),
        encoding="utf-8",
    )
    return path


def where(path, objects, target):
    """How a message places ``target`` in a file written by ``write_json``."""
    number = next(i for i, o in enumerate(objects, 1) if o is target)
    lines = path.read_text(encoding="utf-8").splitlines()
    starts = [n for n, line in enumerate(lines, 1) if line == "  {"]
    return f"{path}, object {number} (line {starts[number - 1]})"


def load(*paths, **options):
    out = StringIO()
    call_command(
        "load_guides", *map(str, paths), stdout=out, stderr=StringIO(), **options
    )
    return out.getvalue()


def refused(*paths, **options):
    with pytest.raises(CommandError) as caught:
        load(*paths, **options)
    return str(caught.value)


def database_state():
    """Every guide row and link, in full: what a refused load must leave alone."""
    state = {}
    for model in GUIDE_MODELS:
        state[model._meta.label] = list(model.objects.order_by("pk").values_list())
        for field in model._meta.local_many_to_many:
            through = field.remote_field.through
            state[through._meta.db_table] = list(
                through.objects.order_by("pk").values_list()
            )
    return state


# --- Bad input: a clear message, and nothing written ------------------------------


def changed_guides(tmp_path, mutate):
    """A file that would change guide one and add guide two, with ``mutate``
    applied: if any of it were written, the database would show it."""
    objects = film_guide(title="One, retitled") + film_guide(
        "two-2001", title="Two", year=2001
    )
    target = mutate(objects)
    path = write_json(tmp_path / "bad.json", objects)
    return path, where(path, objects, target) if target is not None else None


def malformed_json(tmp_path):
    text = json.dumps(film_guide(), indent=2)
    broken = text.replace("  },\n  {", "  }\n  {", 1)  # a comma missing
    path = tmp_path / "bad.json"
    path.write_text(broken, encoding="utf-8")
    line = broken[: broken.index("  }\n  {") + 4].count("\n") + 1
    return path, [
        f"{path}, line {line}, column 3: not valid JSON: Expecting ',' delimiter"
    ]


def malformed_object(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[\n  {"model": "films.genre",\n   "fields": {"slug": "x",}}\n]')
    return path, [
        f"{path}, line 3, column 26: not valid JSON: Illegal trailing comma before "
        "end of object"
    ]


def empty_file(tmp_path):
    path = tmp_path / "empty.json"
    path.write_bytes(b"")
    return path, [
        f"{path}: the file is empty; a guide file holds a JSON list of objects"
    ]


def not_a_fixture(tmp_path):
    path = tmp_path / "film.json"
    path.write_text('{"title": "Stalker", "year": 1979}')
    return path, [
        f"{path}: this is not a guide file: it holds a JSON object; a guide file "
        'holds a JSON list of objects such as {"model": "films.film", "fields": {…}}'
    ]


def not_fixture_objects(tmp_path):
    path = tmp_path / "films.json"
    path.write_text('[{"title": "Stalker", "year": 1979}]')
    return path, [
        f'{path}, object 1 (line 1): expected an object {{"model": …, "fields": '
        '{…}}, found "title", "year"'
    ]


def not_utf8(tmp_path):
    text = json.dumps(film_guide(title="Café"), indent=2, ensure_ascii=False)
    data = text.encode("utf-8").replace("Café".encode(), "Café".encode("latin-1"))
    path = tmp_path / "latin1.json"
    path.write_bytes(data)
    line = text[: text.index("Café")].count("\n") + 1
    column = len(text[: text.index("Café")].rsplit("\n", 1)[1]) + 4
    return path, [
        f"{path}, line {line}, column {column}: not UTF-8 text: byte 0xe9 cannot be "
        "read; save the file as UTF-8"
    ]


def unknown_model(tmp_path):
    def mutate(objects):
        objects.append(obj("films.movie", title="Mirror"))
        return objects[-1]

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: unknown model "films.movie"; a guide file holds only '
        "films.country, films.language,"
    ]


def unknown_field(tmp_path):
    def mutate(objects):
        film = find(objects, "films.film", slug="two-2001")
        film["fields"]["titel"] = film["fields"].pop("title")
        return film

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: films.film ["two-2001"], field "titel": unknown field; '
        "films.film has title, original_title, other_titles, slug,",
        f'{place}: films.film ["two-2001"], field "title": is missing; it is '
        "required: text (a JSON string)",
    ]


def missing_field(tmp_path):
    def mutate(objects):
        film = find(objects, "films.film", slug="two-2001")
        del film["fields"]["premise"]
        return film

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: films.film ["two-2001"], field "premise": is missing; it is '
        "required: text (a JSON string)"
    ]


def wrong_type(tmp_path):
    def mutate(objects):
        film = find(objects, "films.film", slug="two-2001")
        film["fields"]["runtime"] = "long"
        return film

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: films.film ["two-2001"], field "runtime": expected a whole '
        'number, got "long"'
    ]


def wrong_duration(tmp_path):
    def mutate(objects):
        target = find(objects, "films.scene", film=["two-2001"], slug="scene-2")
        target["fields"]["starts_at"] = "half past"
        return target

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: films.scene ["two-2001", "scene-2"], field "starts_at": '
        'expected a time into the film, "HH:MM:SS", e.g. "01:12:30", got "half past"'
    ]


def missing_film(tmp_path):
    def mutate(objects):
        target = find(objects, "films.scene", film=["two-2001"], slug="scene-2")
        target["fields"]["film"] = ["nostalghia-1983"]
        return target

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: films.scene ["nostalghia-1983", "scene-2"], field "film": refers '
        'to films.film ["nostalghia-1983"], which does not exist: neither in the '
        "database nor in the input"
    ]


def missing_person(tmp_path):
    def mutate(objects):
        target = find(objects, "films.credit", film=["two-2001"], role="director")
        target["fields"]["person"] = ["nobody"]
        return target

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: films.credit ["two-2001", "nobody", "director"], field "person": '
        'refers to films.person ["nobody"], which does not exist'
    ]


def missing_character(tmp_path):
    def mutate(objects):
        target = find(objects, "films.scene", film=["two-2001"], slug="scene-1")
        target["fields"]["characters"] = [["two-2001", "hero"], ["two-2001", "nemo"]]
        return target

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: films.scene ["two-2001", "scene-1"], field "characters": refers '
        'to films.character ["two-2001", "nemo"], which does not exist'
    ]


def character_of_another_film(tmp_path):
    def mutate(objects):
        target = find(objects, "films.scene", film=["two-2001"], slug="scene-1")
        target["fields"]["characters"] = [["one-2000", "hero"]]
        return target

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: films.scene ["two-2001", "scene-1"], field "characters": Not '
        "characters of Two (2001): Hero (One, retitled (2000))."
    ]


def same_position(tmp_path):
    def mutate(objects):
        target = find(objects, "films.scene", film=["two-2001"], slug="scene-3")
        target["fields"]["screen_position"] = 2
        return target

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: films.scene ["two-2001", "scene-3"], field "screen_position": '
        "Screen position 2 is also used by “Scene 2”."
    ]


def past_the_runtime(tmp_path):
    def mutate(objects):
        target = find(objects, "films.scene", film=["two-2001"], slug="scene-3")
        target["fields"]["ends_at"] = "01:45:00"
        return target

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: films.scene ["two-2001", "scene-3"], field "ends_at": Ends at '
        "1:45, after the film's end (1:40)."
    ]


def overlapping_scenes(tmp_path):
    def mutate(objects):
        target = find(objects, "films.scene", film=["two-2001"], slug="scene-3")
        target["fields"]["starts_at"] = "00:55:00"
        return target

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: films.scene ["two-2001", "scene-3"], field "starts_at": Starts '
        "at 0:55, while “Scene 2” is still running (until 1:00)."
    ]


def before_zero(tmp_path):
    def mutate(objects):
        target = find(objects, "films.scene", film=["two-2001"], slug="scene-1")
        target["fields"]["starts_at"] = "-00:00:05"
        return target

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: films.scene ["two-2001", "scene-1"], field "starts_at": A scene '
        "cannot start before 0:00."
    ]


def reveal_outside_the_film(tmp_path):
    def mutate(objects):
        target = find(objects, "films.plotsection", film=["two-2001"], position=1)
        target["fields"]["reveals_at"] = "02:00:00"
        return target

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: films.plotsection ["two-2001", 1], field "reveals_at": 2:00 is '
        "outside the film, which runs 0:00 to 1:40."
    ]


def duplicate_slug(tmp_path):
    def mutate(objects):
        first = find(objects, "films.film", slug="two-2001")
        twin = json.loads(json.dumps(first))
        twin["fields"]["title"] = "Deux"
        objects.append(twin)
        return twin

    path, place = changed_guides(tmp_path, mutate)
    objects = json.loads(path.read_text())
    first = next(o for o in objects if o["fields"].get("slug") == "two-2001")
    return path, [
        f'{place}: films.film ["two-2001"]: is given twice, differently (title): '
        f"also at {where(path, objects, first)}"
    ]


def has_a_pk(tmp_path):
    def mutate(objects):
        objects[0]["pk"] = 7
        return objects[0]

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: has a "pk": guide objects are matched by their natural key'
    ]


def bad_jsonl_line(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", film_guide("two-2001"))
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:-1]  # the closing brace of the third object
    path.write_text("\n".join(lines) + "\n")
    return path, [f"{path}, line 3, column {len(lines[2]) + 1}: not valid JSON:"]


# --- Input no guide needs: limits, and what a database cannot store ---------------


def text_case(tmp_path, objects, old, new, *, name="bad.json", lines=False):
    """A file of ``objects`` with the first ``old`` in its text made ``new``;
    the line and column where ``new`` stands."""
    path = tmp_path / name
    if lines:
        text = "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects)
    else:
        text = json.dumps(objects, indent=2, ensure_ascii=False)
    at = text.index(old)
    text = text[:at] + new + text[at + len(old) :]
    path.write_text(text, encoding="utf-8")
    line = text.count("\n", 0, at) + 1
    column = at - text.rfind("\n", 0, at)
    return path, f"line {line}, column {column}"


def nested_too_deep(tmp_path):
    def mutate(objects):
        film = find(objects, "films.film", slug="two-2001")
        film["fields"]["genres"] = [[[[[[[[["drama"]]]]]]]]]
        return film

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: films.film, field "genres": lists and objects are nested more '
        "than 8 deep; a guide object goes 4 deep at most"
    ]


def nested_deeper_than_python_can_parse(tmp_path):
    # Deep enough to exhaust the JSON parser's stack (a RecursionError).
    path, place = text_case(
        tmp_path, changed_guides_objects(), '"Two"', "[" * 100_000 + "]" * 100_000
    )
    line, column = place.split(", ")
    # The object and its "fields" are 2 deep: the 7th bracket is the 9th level.
    column = int(column.removeprefix("column ")) + 6
    return path, [
        f"{path}, {line}, column {column}: lists and objects are nested more than "
        "8 deep"
    ]


def changed_guides_objects():
    return film_guide(title="One, retitled") + film_guide(
        "two-2001", title="Two", year=2001
    )


def nested_too_deep_in_a_jsonl_line(tmp_path):
    objects = changed_guides_objects()
    deep = "[" * 50_000 + "]" * 50_000
    path, place = text_case(
        tmp_path, objects, '"Two"', deep, name="bad.jsonl", lines=True
    )
    line = place.split(", ")[0]
    return path, [f"{path}, {line}, column ", "nested more than 8 deep"]


def nan(tmp_path):
    path, place = text_case(
        tmp_path, changed_guides_objects(), '"runtime": 100', '"runtime": NaN'
    )
    line, column = place.split(", ")
    column = int(column.removeprefix("column ")) + len('"runtime": ')
    return path, [
        f"{path}, {line}, column {column}: NaN is not a number JSON allows; give a "
        "number, or null where the field may be empty"
    ]


def infinity_in_a_jsonl_line(tmp_path):
    path, place = text_case(
        tmp_path,
        changed_guides_objects(),
        '"born": 1930',
        '"born": -Infinity',
        name="bad.jsonl",
        lines=True,
    )
    line, column = place.split(", ")
    column = int(column.removeprefix("column ")) + len('"born": ')
    return path, [
        f"{path}, {line}, column {column}: -Infinity is not a number JSON allows"
    ]


def number_too_large_for_a_float(tmp_path):
    path, _ = text_case(
        tmp_path, changed_guides_objects(), '"runtime": 100', '"runtime": 1e999'
    )
    return path, [
        'films.film, field "runtime": a number too large for any field '
        "(JSON has no NaN or Infinity)"
    ]


def number_with_thousands_of_digits(tmp_path):
    path, place = text_case(
        tmp_path, changed_guides_objects(), '"runtime": 100', '"runtime": ' + "9" * 5000
    )
    line, column = place.split(", ")
    column = int(column.removeprefix("column ")) + len('"runtime": ')
    return path, [
        f"{path}, {line}, column {column}: a number with 5000 digits; no field "
        "holds one that long"
    ]


def number_out_of_range_for_its_column(tmp_path):
    # SQLite would store it; PostgreSQL's smallint refuses it.
    def mutate(objects):
        beat = find(objects, "films.characterbeat", character=["two-2001", "hero"])
        beat["fields"]["position"] = 40_000
        return beat

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: films.characterbeat ["two-2001", "hero", 40000], field '
        '"position": 40000 is out of range: this field holds a whole number from 0 '
        "to 32767"
    ]


def big_integer_out_of_range(tmp_path):
    def mutate(objects):
        person = [o for o in objects if o["fields"].get("slug") == "ann"][-1]
        person["fields"]["born"] = 10**20
        return person

    path, place = changed_guides(tmp_path, mutate)
    return path, [f'{place}: films.person ["ann"], field "born": ', "is out of range"]


def time_out_of_range(tmp_path):
    def mutate(objects):
        beat = find(objects, "films.characterbeat", character=["two-2001", "hero"])
        beat["fields"]["reveals_at"] = "99999999999:00:00"
        return beat

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: films.characterbeat ["two-2001", "hero", 1], field "reveals_at": '
    ]


def date_out_of_range(tmp_path):
    def mutate(objects):
        film = find(objects, "films.film", slug="two-2001")
        film["fields"]["created_at"] = "9999-12-31T23:00:00-05:00"
        return film

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: films.film ["two-2001"], field "created_at": '
        '"9999-12-31T23:00:00-05:00" is out of range for a date'
    ]


def nul_in_a_title(tmp_path):
    def mutate(objects):
        film = find(objects, "films.film", slug="two-2001")
        film["fields"]["title"] = "Tw\u0000o"
        return film

    path, place = changed_guides(tmp_path, mutate)
    return path, [
        f'{place}: films.film, field "title": text holds a NUL character (\\u0000) '
        "at position 3; remove it"
    ]


def nul_in_a_natural_key(tmp_path):
    def mutate(objects):
        film = find(objects, "films.film", slug="two-2001")
        film["fields"]["genres"] = [["dra\u0000ma"]]
        return film

    path, place = changed_guides(tmp_path, mutate)
    return path, [f'{place}: films.film, field "genres": text holds a NUL character']


def nul_in_a_field_name(tmp_path):
    def mutate(objects):
        genre = objects[2]
        genre["fields"]["na\u0000me"] = "x"
        return genre

    path, place = changed_guides(tmp_path, mutate)
    return path, [f"{place}: a name holds a NUL character or a lone surrogate"]


def nul_in_a_jsonl_line(tmp_path):
    objects = changed_guides_objects()
    find(objects, "films.film", slug="two-2001")["fields"]["premise"] = "A\u0000"
    path = write_jsonl(tmp_path / "bad.jsonl", objects)
    number = next(
        n for n, o in enumerate(objects, 1) if o["fields"].get("slug") == "two-2001"
    )
    return path, [
        f'{path}, line {number}: films.film, field "premise": text holds a NUL '
        "character"
    ]


def lone_surrogate(tmp_path):
    path, _ = text_case(tmp_path, changed_guides_objects(), '"Two"', '"Tw\\ud800o"')
    return path, [
        'films.film, field "title": text holds a lone surrogate (\\ud800), which is '
        "not a character"
    ]


def not_utf8_in_a_jsonl_line(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", changed_guides_objects())
    lines = path.read_bytes().splitlines(keepends=True)
    lines[4] = lines[4].replace(b"Bob", b"B\xe9b")
    path.write_bytes(b"".join(lines))
    column = lines[4].index(b"\xe9") + 1
    return path, [
        f"{path}, line 5, column {column}: not UTF-8 text: byte 0xe9 cannot be read"
    ]


def jsonl_line_too_long(tmp_path):
    objects = changed_guides_objects()
    find(objects, "films.film", slug="two-2001")["fields"]["premise"] = "x" * 1_100_000
    path = write_jsonl(tmp_path / "bad.jsonl", objects)
    number = next(
        n for n, o in enumerate(objects, 1) if o["fields"].get("slug") == "two-2001"
    )
    return path, [f"{path}, line {number}: the line is longer than 1024 KB"]


BAD_INPUT = [
    malformed_json,
    malformed_object,
    empty_file,
    not_a_fixture,
    not_fixture_objects,
    not_utf8,
    unknown_model,
    unknown_field,
    missing_field,
    wrong_type,
    wrong_duration,
    missing_film,
    missing_person,
    missing_character,
    character_of_another_film,
    same_position,
    past_the_runtime,
    overlapping_scenes,
    before_zero,
    reveal_outside_the_film,
    duplicate_slug,
    has_a_pk,
    bad_jsonl_line,
    nested_too_deep,
    nested_deeper_than_python_can_parse,
    nested_too_deep_in_a_jsonl_line,
    nan,
    infinity_in_a_jsonl_line,
    number_too_large_for_a_float,
    number_with_thousands_of_digits,
    number_out_of_range_for_its_column,
    big_integer_out_of_range,
    time_out_of_range,
    date_out_of_range,
    nul_in_a_title,
    nul_in_a_natural_key,
    nul_in_a_field_name,
    nul_in_a_jsonl_line,
    lone_surrogate,
    not_utf8_in_a_jsonl_line,
    jsonl_line_too_long,
]


@pytest.mark.parametrize("case", BAD_INPUT, ids=[case.__name__ for case in BAD_INPUT])
def test_bad_input_is_refused_with_a_clear_message_and_nothing_written(tmp_path, case):
    load(write_json(tmp_path / "good.json", film_guide()))
    before = database_state()
    path, expected = case(tmp_path)

    message = refused(path)

    assert message.startswith("Nothing was loaded: ")
    for words in expected:
        assert words in message
    assert database_state() == before


@pytest.mark.parametrize("name", ["big.json", "big.jsonl"])
def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
    tmp_path, settings, name
):
    load(write_json(tmp_path / "good.json", film_guide()))
    before = database_state()
    settings.GUIDE_FILE_MAX_BYTES = 2 * 2**20
    path = tmp_path / name
    path.write_bytes(b" " * (3 * 2**20))

    message = refused(path)

    assert message == (
        f"Nothing was loaded: 1 problem in the input.\n  {path}: the file is 3.0 "
        "MB, over the limit of 2 MB for a guide file (GUIDE_FILE_MAX_MB); split it "
        "into several files or raise the limit"
    )
    assert database_state() == before


def test_one_bad_object_at_the_end_of_a_long_jsonl_file_loads_nothing(tmp_path):
    catalogue = tmp_path / "catalogue.jsonl"
    call_command(
        "generate_catalogue",
        films=80,
        scenes_per_film=100,
        seed=5,
        output=str(catalogue),
        stdout=StringIO(),
    )
    # The first 9,999 objects are a valid catalogue (each object only refers
    # to earlier ones); the 10,000th is a scene that runs past its film.
    good = catalogue.read_text(encoding="utf-8").splitlines()[:9999]
    last_film = json.loads(
        next(line for line in reversed(good) if '"films.film"' in line)
    )
    bad = scene(
        last_film["fields"]["slug"],
        9999,
        start=0,
        end=last_film["fields"]["runtime"] + 1,
        characters=[],
        themes=[],
    )
    catalogue.write_text("\n".join([*good, json.dumps(bad)]) + "\n", encoding="utf-8")
    before = database_state()

    message = refused(catalogue)

    assert f"{catalogue}, line 10000: films.scene " in message
    assert 'field "ends_at": Ends at ' in message
    assert database_state() == before
    assert not Scene.objects.exists()


def test_every_problem_is_listed_in_file_order(tmp_path):
    objects = film_guide("two-2001")
    find(objects, "films.film", slug="two-2001")["fields"]["year"] = 1500
    find(objects, "films.scene", slug="scene-3")["fields"]["ends_at"] = "01:45:00"
    path = write_json(tmp_path / "bad.json", objects)

    message = refused(path)

    lines = message.splitlines()
    assert lines[0] == "Nothing was loaded: 2 problems in the input."
    assert (
        'films.film ["two-2001"], field "year": Ensure this value is greater'
        in lines[1]
    )
    assert 'films.scene ["two-2001", "scene-3"], field "ends_at"' in lines[2]


def test_a_reference_must_come_before_it_in_a_jsonl_file(tmp_path):
    objects = film_guide("two-2001")
    path = write_jsonl(tmp_path / "late.jsonl", objects[6:] + objects[:6])

    message = refused(path, batch_size=5)

    assert "(or, in a .jsonl file, not before this line)" in message
    assert not Film.objects.exists()


def test_a_write_the_database_refuses_is_reported_and_undone(tmp_path, monkeypatch):
    # Everything is checked first, but another session can still create the
    # same row between the check and the write.
    load(write_json(tmp_path / "one.json", film_guide()))
    before = database_state()
    insert = Loader._insert

    def refuse_scenes(self, table, fields, rows):
        if table == Scene._meta.db_table:
            raise IntegrityError("duplicate key value violates unique constraint")
        insert(self, table, fields, rows)

    monkeypatch.setattr(Loader, "_insert", refuse_scenes)
    objects = film_guide("two-2001")
    path = write_json(tmp_path / "two.json", objects)
    last = where(path, objects, objects[-1]).removeprefix(f"{path}, ")

    message = refused(path)

    assert (
        f"{path}: the database refused the objects from object 1 (line 2) to {last}: "
        "duplicate key value violates unique constraint (was another load running "
        "at the same time?)"
    ) in message
    assert database_state() == before


def test_paths_that_are_not_guide_files_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    assert (
        refused(tmp_path / "missing.json")
        == f"{tmp_path / 'missing.json'}: no such file."
    )
    assert "expected a .json or .jsonl guide file" in refused(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    assert "no .json or .jsonl files in it" in refused(tmp_path / "empty")


# --- Good input ----------------------------------------------------------------------


def test_a_guide_is_loaded_in_full(tmp_path):
    output = load(write_json(tmp_path / "one.json", film_guide()))

    assert (
        "Loaded 18 objects from 1 file: 18 created, 0 updated, 0 unchanged." in output
    )
    film = Film.objects.get(slug="one-2000")
    assert [s.slug for s in film.scenes.in_screen_order()] == [
        "scene-1",
        "scene-2",
        "scene-3",
    ]
    second = film.scenes.get(slug="scene-2")
    assert sorted(c.slug for c in second.characters.all()) == ["ghost", "hero"]
    assert second.starts_at == timedelta(minutes=30)
    cast = Credit.objects.get(film=film, role="cast")
    assert (cast.person.slug, cast.character.slug) == ("bob", "hero")
    assert [lang.code for lang in film.languages.all()] == ["ru"]
    assert film.characters.get(slug="ghost").reveals_at == timedelta(minutes=50)


def test_the_files_timestamps_are_kept(tmp_path):
    load(write_json(tmp_path / "one.json", film_guide()))

    film = Film.objects.get(slug="one-2000")
    assert film.created_at.isoformat() == "2026-01-01T12:00:00+00:00"
    assert film.updated_at.isoformat() == "2026-01-02T12:00:00+00:00"


def test_loading_twice_changes_nothing_and_says_so(tmp_path):
    path = write_json(tmp_path / "one.json", film_guide())
    load(path)
    before = database_state()

    output = load(path)

    assert (
        "Nothing to change: all 18 objects in 1 file are already in the database."
        in (output)
    )
    assert database_state() == before


def test_a_changed_file_updates_the_rows_it_names(tmp_path):
    objects = film_guide()
    load(write_json(tmp_path / "one.json", objects))
    film_before = Film.objects.get(slug="one-2000")
    scene_pks = dict(Scene.objects.values_list("slug", "pk"))
    find(objects, "films.film")["fields"]["title"] = "One, restored"
    second = find(objects, "films.scene", slug="scene-2")
    second["fields"]["summary"] = "A corrected summary."
    second["fields"]["characters"] = [["one-2000", "ghost"]]
    find(objects, "films.person", slug="bob")["fields"]["born"] = 1950

    output = load(write_json(tmp_path / "one.json", objects))

    assert "3 updated, 15 unchanged" in output
    film = Film.objects.get(slug="one-2000")
    assert (film.pk, film.title) == (film_before.pk, "One, restored")
    changed = Scene.objects.get(slug="scene-2")
    assert changed.pk == scene_pks["scene-2"]
    assert changed.summary == "A corrected summary."
    assert [c.slug for c in changed.characters.all()] == ["ghost"]
    assert dict(Scene.objects.values_list("slug", "pk")) == scene_pks
    assert Film.objects.count() == 1


def test_a_file_can_reorder_scenes(tmp_path):
    objects = film_guide()
    load(write_json(tmp_path / "one.json", objects))
    # Swap the first two scenes on screen, and insert a new one between them:
    # positions that collide row by row, though not once all is done.
    first = find(objects, "films.scene", slug="scene-1")["fields"]
    second = find(objects, "films.scene", slug="scene-2")["fields"]
    first.update(
        screen_position=3, story_position=3, starts_at="00:40:00", ends_at="01:00:00"
    )
    second.update(
        screen_position=1, story_position=1, starts_at="00:00:00", ends_at="00:30:00"
    )
    third = find(objects, "films.scene", slug="scene-3")["fields"]
    third.update(screen_position=4, story_position=4)
    objects.append(scene("one-2000", 2, start=30, end=40, slug="new"))

    load(write_json(tmp_path / "one.json", objects))

    film = Film.objects.get(slug="one-2000")
    assert [s.slug for s in film.scenes.in_screen_order()] == [
        "scene-2",
        "new",
        "scene-1",
        "scene-3",
    ]


def test_a_row_the_file_omits_still_counts_in_the_timeline(tmp_path):
    load(write_json(tmp_path / "one.json", film_guide()))
    newcomer = scene("one-2000", 3, start=90, end=95, slug="newcomer")

    message = refused(write_json(tmp_path / "more.json", [newcomer]))

    assert (
        'films.scene ["one-2000", "newcomer"], field "screen_position": Screen '
        "position 3 is also used by “Scene 3”."
    ) in message


def test_a_film_shortened_below_its_stored_scenes_is_refused(tmp_path):
    objects = film_guide()
    load(write_json(tmp_path / "one.json", objects))
    film = find(objects, "films.film")

    message = refused(
        write_json(
            tmp_path / "film.json",
            [{**film, "fields": {**film["fields"], "runtime": 80}}],
        )
    )

    assert (
        'films.scene ["one-2000", "scene-3"], field "ends_at": Ends at 1:30, after '
        "the film's end (1:20). (a scene already in the database)"
    ) in message


def test_the_same_object_twice_in_the_same_way_is_loaded_once(tmp_path):
    # Each shipped guide carries the people and themes it uses, so files
    # loaded together name the same rows again.
    one = write_json(tmp_path / "one.json", film_guide())
    two = write_json(tmp_path / "two.json", film_guide("two-2001", title="Two"))

    output = load(one, two)

    assert "Loaded 30 objects from 2 files: 30 created" in output


def test_dry_run_checks_and_reports_but_writes_nothing(tmp_path):
    path = write_json(tmp_path / "one.json", film_guide())

    output = load(path, dry_run=True)

    assert (
        "Dry run: 18 objects in 1 file are valid; 18 would be created, 0 updated, "
        "0 unchanged. Nothing was written."
    ) in output
    assert database_state() == {label: [] for label in database_state()}


def test_dry_run_of_a_changed_file_leaves_the_database_alone(tmp_path):
    objects = film_guide()
    load(write_json(tmp_path / "one.json", objects))
    before = database_state()
    find(objects, "films.film")["fields"]["title"] = "Changed"

    output = load(write_json(tmp_path / "one.json", objects), dry_run=True)

    assert "0 would be created, 1 updated, 17 unchanged" in output
    assert database_state() == before


def test_dry_run_still_refuses_bad_input(tmp_path):
    objects = film_guide()
    find(objects, "films.film")["fields"]["runtime"] = 0

    message = refused(write_json(tmp_path / "bad.json", objects), dry_run=True)

    assert 'films.film ["one-2000"], field "runtime"' in message


def test_jsonl_streams_in_batches_with_the_same_result(tmp_path):
    path = write_jsonl(tmp_path / "one.jsonl", film_guide())

    output = load(path, batch_size=3)

    assert "Loaded 18 objects from 1 file: 18 created" in output
    assert Scene.objects.filter(film__slug="one-2000").count() == 3
    assert "Nothing to change" in load(path, batch_size=3)


def test_a_repeat_that_differs_across_batches_is_refused(tmp_path):
    objects = film_guide()
    twin = json.loads(json.dumps(find(objects, "films.person", slug="bob")))
    twin["fields"]["born"] = 1960

    message = refused(
        write_jsonl(tmp_path / "one.jsonl", [*objects, twin]), batch_size=4
    )

    assert (
        f'{tmp_path / "one.jsonl"}, line 19: films.person ["bob"]: is given twice, '
        "differently (born): it came earlier in the input"
    ) in message


def test_verbosity(tmp_path):
    path = write_json(tmp_path / "one.json", film_guide())
    assert load(path, verbosity=0) == ""
    verbose = load(
        write_json(tmp_path / "two.json", film_guide("two-2001")), verbosity=3
    )
    assert 'created films.scene ["two-2001", "scene-1"]' in verbose
    assert "objects/s)" in verbose
    assert "films.scene" in load(path, verbosity=1)


class Terminal(StringIO):
    def isatty(self):
        return True


def test_a_progress_bar_is_drawn_only_on_a_terminal(tmp_path):
    path = write_jsonl(tmp_path / "one.jsonl", film_guide())
    quiet = StringIO()
    call_command("load_guides", str(path), stdout=StringIO(), stderr=quiet)
    terminal = Terminal()
    call_command(
        "load_guides", str(path), stdout=StringIO(), stderr=terminal, batch_size=7
    )

    assert quiet.getvalue() == ""
    assert "100%" in terminal.getvalue()
    assert "█" in terminal.getvalue()


def test_with_no_paths_it_loads_every_fixture(monkeypatch, tmp_path):
    (tmp_path / "fixtures").mkdir()
    write_json(tmp_path / "fixtures" / "one.json", film_guide())
    write_jsonl(tmp_path / "fixtures" / "two.jsonl", film_guide("two-2001"))
    monkeypatch.setattr(settings, "BASE_DIR", tmp_path)

    output = load()

    assert "from 2 files" in output
    assert set(Film.objects.values_list("slug", flat=True)) == {"one-2000", "two-2001"}


def test_load_guides_writes_what_loaddata_writes(tmp_path):
    catalogue = tmp_path / "catalogue.jsonl"
    call_command(
        "generate_catalogue",
        films=5,
        scenes_per_film=10,
        output=str(catalogue),
        stdout=StringIO(),
    )

    def export():
        out = StringIO()
        call_command("export_guides", stdout=out)
        return out.getvalue()

    call_command("loaddata", str(catalogue), verbosity=0)
    by_loaddata = export()
    for model in reversed(GUIDE_MODELS):
        model.objects.all().delete()
    load(catalogue)

    assert export() == by_loaddata
    assert by_loaddata.count('"model": "films.scene"') == 50


# --- The loader's own rules agree with the models' ----------------------------------


@pytest.mark.parametrize("model", GUIDE_MODELS, ids=lambda m: m._meta.model_name)
def test_key_fields_spell_the_natural_key(tmp_path, model):
    load(write_json(tmp_path / "one.json", film_guide()))
    row = model.objects.first()
    parts = []
    for name in KEY_FIELDS[model]:
        value = getattr(row, name)
        parts.extend(
            value.natural_key() if isinstance(value, models.Model) else [value]
        )
    assert tuple(parts) == row.natural_key()


def test_unique_rules_beyond_natural_keys_are_only_scene_positions():
    """The loader matches rows by natural key and checks scene positions in the
    timeline; any other unique rule would need checking too."""
    extra = {}
    for model in GUIDE_MODELS:
        for constraint in model._meta.constraints:
            if isinstance(constraint, models.UniqueConstraint):
                fields = set(constraint.fields)
                if fields != set(KEY_FIELDS[model]):
                    extra.setdefault(model, []).extend(sorted(fields - {"film"}))
        unique = [
            f.name
            for f in model._meta.concrete_fields
            if f.unique and not f.primary_key
        ]
        assert unique in ([], list(KEY_FIELDS[model]))
    assert extra == {Scene: ["screen_position", "story_position"]}
    assert tuple(PARKED_FIELDS) == (Scene,)
    assert PARKED_FIELDS[Scene] == ("screen_position", "story_position")


def sample_objects():
    film = Film(slug="f-2000", title="F", year=2000, runtime=100, premise="p", pk=1)
    character = Character(film=film, slug="c", name="C", description="d", pk=1)
    yield film
    yield Film(slug="f-1800", title="F", year=1800, runtime=100, premise="p")
    yield Film(slug="f-2000", title="F", year=2000, runtime=0, premise="p")
    yield Film(
        slug="f-2000", title="F", year=2000, runtime=90, premise="p", status="old"
    )
    for start, end, screen in [(0, 5, 1), (5, 5, 1), (-1, 5, 1), (0, 5, 0), (9, 3, 2)]:
        yield Scene(
            film=film,
            slug="s",
            screen_position=screen,
            story_position=1,
            starts_at=timedelta(minutes=start),
            ends_at=timedelta(minutes=end),
            title="S",
            summary="x",
        )
    for reveals_at in [None, timedelta(0), timedelta(minutes=-1)]:
        yield Character(
            film=film, slug="c", name="C", description="d", reveals_at=reveals_at
        )
    for role, who in [("cast", character), ("director", character), ("director", None)]:
        yield Credit(film=film, role=role, character=who)


@pytest.mark.parametrize(
    "sample", list(sample_objects()), ids=lambda o: o._meta.model_name
)
def test_check_constraints_judged_in_python_agree_with_the_database(sample):
    for constraint in sample._meta.constraints:
        if not isinstance(constraint, models.CheckConstraint):
            continue
        try:
            constraint.validate(type(sample), sample)
            database_says = True
        except ValidationError:
            database_says = False
        assert (check_holds(constraint.condition, sample) is not False) == database_says


def test_the_loader_needs_no_query_per_object(tmp_path, django_assert_max_num_queries):
    small = write_jsonl(tmp_path / "small.jsonl", film_guide())
    objects = [o for n in range(10) for o in film_guide(f"film-{n}-2000")]
    large = write_jsonl(tmp_path / "large.jsonl", objects)

    def queries(path):
        with django_assert_max_num_queries(1000) as context:
            Loader(batch_size=1000).load([path])
        return len(context.captured_queries)

    assert queries(large) <= queries(small) + 5


# --- The shipped guides ------------------------------------------------------------------


@pytest.mark.skipif(not FIXTURES, reason="no fixtures shipped yet")
def test_every_shipped_guide_loads_and_loads_again_unchanged():
    output = load()
    assert f"from {len(FIXTURES)} files" in output
    before = database_state()

    assert "Nothing to change" in load()
    assert database_state() == before


def test_an_unmigrated_database_gets_a_clear_message(monkeypatch):
    from django.core.management import CommandError, call_command
    from django.db import connection

    monkeypatch.setattr(connection.introspection, "table_names", lambda *a, **k: [])
    with pytest.raises(
        CommandError, match=r"has no guide tables yet: run `manage\.py migrate` first"
    ):
        call_command("load_guides", verbosity=0)


def test_the_example_in_the_guide_format_document_loads(tmp_path, client):
    # docs/guide-format.md shows a small complete guide; it must stay loadable.
    document = (
        Path(__file__).resolve().parent.parent / "docs" / "guide-format.md"
    ).read_text(encoding="utf-8")
    example = document.split("## A small complete guide", 1)[1]
    example = example.split("```json", 1)[1].split("```", 1)[0]
    path = tmp_path / "the-river.json"
    path.write_text(example, encoding="utf-8")
    load(path)
    film = Film.objects.get(slug="the-river-2001")
    assert film.scenes.count() == 2
    html = client.get("/films/the-river-2001/timeline/", {"seen": "0:05"}).text
    assert "The empty house" in html and "The crossing" not in html


def test_the_release_a_guides_times_follow_is_loaded_and_defaults_when_left_out(
    tmp_path,
):
    objects = film_guide()
    load(write_json(tmp_path / "one.json", objects))
    film = Film.objects.get(slug="one-2000")
    assert (film.timing_release, film.timing_fps) == ("", 24)

    fields = find(objects, "films.film")["fields"]
    fields.update(timing_release="the PAL DVD, 96 min", timing_fps=25)
    output = load(write_json(tmp_path / "one.json", objects))

    assert "1 updated" in output
    film.refresh_from_db()
    assert (film.timing_release, film.timing_fps) == ("the PAL DVD, 96 min", 25)


def test_a_frame_rate_the_site_cannot_convert_is_refused(tmp_path):
    objects = film_guide()
    target = find(objects, "films.film")
    target["fields"]["timing_fps"] = 30
    path = write_json(tmp_path / "one.json", objects)

    message = refused(path)

    assert (
        f'{where(path, objects, target)}: films.film ["one-2000"], field '
        '"timing_fps": expected one of "24", "25", got 30'
    ) in message
    assert not Film.objects.exists()
