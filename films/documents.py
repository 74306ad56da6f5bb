"""A guide's rows as its pages read them: plain data, built when it changes.

A guide is read thousands of times for each edit, so what its pages show is
gathered once, on the write (``films/derived.py``, beside the reveal index),
into a few JSON *parts* stored with the guide's version (:class:`FilmDocument`).
A page then costs one query for the parts it needs, instead of one query (and
a model instance per row) for each kind of row.

Every part holds *all* of its rows, with their reveal points; a page keeps
those its visitor's horizon reveals with :meth:`Horizon.reveals`, the same
rule as :meth:`Horizon.q` in the database (``tests/test_documents.py`` checks
the two agree for every row of every shipped guide). Nothing beyond the
horizon reaches a template.

A part is used only if it is of the film's current version and of this code's
:func:`current_format`; otherwise (a guide changed by code that did not build parts,
or a deploy that changed their shape) the page builds the part from the
database, as the write would have, and ``manage.py render_text`` stores them
all again.
"""

import functools
import hashlib
import importlib
import json
from datetime import timedelta
from itertools import batched
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings
from django.db import connections, router
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.template import engines
from django.urls import get_script_prefix, reverse
from django.utils.safestring import SafeString

from films.db import prepared_cursor
from films.models import (
    Character,
    CharacterBeat,
    Country,
    Credit,
    Film,
    FilmDocument,
    FilmTheme,
    Genre,
    Language,
    PlotSection,
    Recommendation,
    Scene,
)
from films.spoilers import placeholder
from films.templating import QUERY_MARK

# Bumped whenever a part's shape changes.
SHAPE = 2

# What every visitor sees the same of a page, written here rather than on
# every page: the overview's facts and credits, each scene's pieces on the
# timeline (its ``timeline`` part) — and the templates that are written with.
FRAGMENTS = "films/_fragments.html"
WRITTEN_WITH = (FRAGMENTS, "films/_placeholder.html")

PARTS = ("overview", "scenes", "characters", "themes", "next", "timeline")

# Colours the themes of a film are shown in, by their place in its list.
THEME_COLOURS = 8


# The code the parts' HTML is written by, beside those templates.
WRITTEN_BY = (
    "films.documents",
    "films.spoilers",
    "films.templating",
    "films.templatetags.guide",
)

# The script prefix the site is served under (FORCE_SCRIPT_NAME, set before
# the apps load): links written into parts carry it, whichever request or
# command writes them.
SCRIPT_PREFIX = get_script_prefix()
URL_NAMES = ("films:timeline", "films:characters", "films:themes", "films:person")


def _path(name, slug):
    """``reverse()`` under :data:`SCRIPT_PREFIX`, not the current request's."""
    path = reverse(name, args=[slug])
    return SCRIPT_PREFIX + path[len(get_script_prefix()) :]


def _format():
    """The parts' format: their shape, and what their HTML was written with
    — the templates, the code, the page's mark for the visitor's query and
    the site's URLs. A change to any of them gives another format, so parts
    written by other code are never shown (the page builds its parts afresh,
    and ``manage.py render_text`` stores them again)."""
    env = engines["jinja2"].env
    sources = [env.loader.get_source(env, name)[0] for name in WRITTEN_WITH]
    code = [
        Path(importlib.import_module(name).__file__).read_text(encoding="utf-8")
        for name in WRITTEN_BY
    ]
    urls = [_path(name, "x") for name in URL_NAMES]
    text = "\0".join([str(SHAPE), QUERY_MARK, *sources, *code, *urls])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:6])


_format_once = functools.cache(_format)


def current_format():
    """:func:`_format`, worked out once a process — and on every call with
    ``DEBUG`` on, where templates are edited without a restart."""
    return _format() if settings.DEBUG else _format_once()


# --- Building parts (on the write) ------------------------------------------------


def _seconds(value):
    if value is None:
        return None
    seconds = value.total_seconds()
    return int(seconds) if seconds.is_integer() else seconds


def build(film_ids, using=None):
    """``{film id: {part name: data}}`` for these films, in a few queries
    whatever their number (no query per film or per row)."""
    film_ids = list(film_ids)
    parts = {pk: dict.fromkeys(PARTS) for pk in film_ids}
    if not film_ids:
        return parts
    overview = _overview(film_ids, using)
    scenes = _scenes(film_ids, using)
    characters = _characters(film_ids, using)
    themes = _themes(film_ids, using)
    recommendations = _recommendations(film_ids, using)
    fragments = _Fragments()
    films = Film.objects.using(using).filter(pk__in=film_ids)
    for values in films.values(*FACT_FIELDS):
        film = SimpleNamespace(**values)
        film.duration = timedelta(minutes=film.runtime)
        pk = film.pk
        urls = fragments.urls(film.slug)
        overview[pk]["facts_html"] = fragments.facts(film, overview[pk], urls)
        parts[pk] = {
            "overview": overview[pk],
            "scenes": scenes[pk],
            "characters": characters[pk],
            "themes": themes[pk],
            "next": recommendations[pk],
            "timeline": fragments.timeline(film, scenes[pk], themes[pk], urls),
        }
    return parts


def theme_colours(themes):
    """Each of a film's themes' colour, by its place in the film's list
    (``themes``: the film's themes part)."""
    return {item["theme_id"]: n % THEME_COLOURS for n, item in enumerate(themes)}


def theme_tags(scene_themes, colours):
    """A scene's themes (theme id, slug, name) as tags: (slug, name, colour);
    a theme the film's list lacks gets the colour after the last."""
    return [
        (slug, name, colours.get(theme_id, THEME_COLOURS))
        for theme_id, slug, name in scene_themes
    ]


def hidden_scene(url, at, film, position):
    """A hidden scene's place in the timeline, as the ``timeline`` part has
    it, written now (for a scene the part lacks)."""
    return _Fragments().hidden_scene(url, at, film, position)


# The film's own fields its facts and timeline show.
FACT_FIELDS = ("pk", "slug", "year", "runtime", "production_companies", "based_on")


def shown_credits(overview):
    """The overview part's credits as the page shows them: ``(crew, cast)``,
    the crew as (role, credits) for each role someone has. A part is named
    beside its actor only if naming it spoils nothing (no reveal time)."""
    credits = [row(credit) for credit in overview["credits"]]
    for credit in credits:
        if credit.character is not None and credit.character.reveals_at is not None:
            credit.character = None
    crew = [
        (role.label, [c for c in credits if c.role == role])
        for role in Credit.Role
        if role != Credit.Role.CAST
    ]
    return (
        [(label, people) for label, people in crew if people],
        [c for c in credits if c.role == Credit.Role.CAST],
    )


class _Fragments:
    """The HTML of :data:`FRAGMENTS`, written for a guide's parts."""

    def __init__(self):
        self.macros = engines["jinja2"].env.get_template(FRAGMENTS).module
        self.query = SafeString(QUERY_MARK)

    def urls(self, slug):
        return {
            **{
                name: _path(f"films:{name}", slug)
                for name in ("timeline", "characters", "themes")
            },
            "people": _path("films:person", "x")[:-2],
        }

    def facts(self, film, overview, urls):
        """The overview's facts and credits: the same at every horizon."""
        crew, cast = shown_credits(overview)
        return str(
            self.macros.facts_and_credits(
                film,
                {kind: overview[kind] for kind in ("languages", "countries", "genres")},
                crew,
                cast,
                urls,
                self.query,
            )
        )

    def hidden_scene(self, url, at, film, position):
        """A scene beyond the horizon, in the timeline's list of them."""
        return self.macros.hidden_scene(placeholder(url, at, film, f"Scene {position}"))

    def timeline(self, film, part, themes, urls):
        """The ``timeline`` part: each scene's head, tail and themes (by scene
        id), its placeholder in the list of hidden scenes (by its place on
        screen), and the link to each character a scene shows (by slug)."""
        colours = theme_colours(themes)
        scenes, hidden, people = {}, {}, {}
        for data in part["scenes"]:
            position = data["screen_position"]
            starts_at = seconds_to_time(data["starts_at"])
            hidden[str(position)] = str(
                self.hidden_scene(urls["timeline"], starts_at, film, position)
            )
            scene = row(data, without=("characters", "themes"))
            tags = theme_tags(data["themes"], colours)
            scenes[str(data["id"])] = {
                "head_html": str(self.macros.scene_head(scene)),
                "tail_html": str(self.macros.scene_tail(scene)),
                "themes_html": str(self.macros.scene_themes(tags, urls, self.query)),
            }
            for slug, name, *_ in data["characters"]:
                if slug not in people:
                    people[slug] = str(
                        self.macros.character_link(slug, name, urls, self.query)
                    )
        return {"scenes": scenes, "hidden": hidden, "people": people}


def _overview(film_ids, using):
    result = {
        pk: {"plot": [], "credits": [], "languages": [], "countries": [], "genres": []}
        for pk in film_ids
    }
    plot = (
        PlotSection.objects.using(using)
        .filter(film__in=film_ids)
        .order_by("film", "position")
        .values_list("film_id", "position", "heading", "body_html", "reveals_at")
    )
    for film_id, position, heading, body_html, reveals_at in plot:
        result[film_id]["plot"].append(
            {
                "position": position,
                "heading": heading,
                "body_html": body_html,
                "reveals_at": _seconds(reveals_at),
            }
        )
    credits = (
        Credit.objects.using(using)
        .filter(film__in=film_ids)
        .order_by("film", "position", "pk")
        .values_list(
            "film_id",
            "role",
            "note",
            "person__name",
            "person__slug",
            "character__slug",
            "character__name",
            "character__reveals_at",
        )
    )
    for film_id, role, note, name, slug, c_slug, c_name, c_reveals in credits:
        character = None
        if c_slug is not None:
            character = {
                "slug": c_slug,
                "name": c_name,
                "reveals_at": _seconds(c_reveals),
            }
        result[film_id]["credits"].append(
            {
                "role": role,
                "note": note,
                "person": {"name": name, "slug": slug},
                "character": character,
            }
        )
    for model, kind, key in (
        (Language, "languages", "code"),
        (Country, "countries", "code"),
        (Genre, "genres", "slug"),
    ):
        rows = (
            model.films.through.objects.using(using)
            .filter(film_id__in=film_ids)
            .values_list("film_id", f"{model._meta.model_name}__{key}")
        )
        names = dict(model.objects.using(using).values_list(key, "name"))
        for film_id, value in rows:
            result[film_id][kind].append([value, names[value]])
        for pk in film_ids:
            result[pk][kind].sort(key=lambda item: item[1])
    return result


def _scenes(film_ids, using):
    result = {pk: {"scenes": [], "themes": []} for pk in film_ids}
    scenes = {}
    rows = (
        Scene.objects.using(using)
        .filter(film__in=film_ids)
        .order_by("film", "screen_position")
        .values_list(
            "id",
            "film_id",
            "slug",
            "screen_position",
            "story_position",
            "story_label",
            "starts_at",
            "ends_at",
            "title",
            "summary_html",
            "location",
        )
    )
    for (
        pk,
        film_id,
        slug,
        screen,
        story,
        label,
        starts,
        ends,
        title,
        summary_html,
        location,
    ) in rows:
        scene = {
            "id": pk,
            "slug": slug,
            "screen_position": screen,
            "story_position": story,
            "story_label": label,
            "starts_at": _seconds(starts),
            "ends_at": _seconds(ends),
            "title": title,
            "summary_html": summary_html,
            "location": location,
            "characters": [],
            "themes": [],
        }
        scenes[pk] = scene
        result[film_id]["scenes"].append(scene)
    cast = (
        Scene.characters.through.objects.using(using)
        .filter(scene__film__in=film_ids)
        .order_by("character__position", "character__name")
        .values_list(
            "scene_id",
            "character__slug",
            "character__name",
            "character__is_main",
            "character__position",
            "character__reveals_at",
        )
    )
    for scene_id, slug, name, is_main, position, reveals_at in cast:
        scenes[scene_id]["characters"].append(
            [slug, name, is_main, position, _seconds(reveals_at)]
        )
    tags = (
        Scene.themes.through.objects.using(using)
        .filter(scene__film__in=film_ids)
        .order_by("theme__name")
        .values_list("scene_id", "theme_id", "theme__slug", "theme__name")
    )
    for scene_id, theme_id, slug, name in tags:
        scenes[scene_id]["themes"].append([theme_id, slug, name])
    return result


def _characters(film_ids, using):
    result = {pk: [] for pk in film_ids}
    characters = {}
    rows = (
        Character.objects.using(using)
        .filter(film__in=film_ids)
        .order_by("film", "position", "name")
        .values_list(
            "id",
            "film_id",
            "slug",
            "name",
            "description_html",
            "is_main",
            "position",
            "reveals_at",
        )
    )
    for pk, film_id, slug, name, description_html, is_main, position, at in rows:
        character = {
            "slug": slug,
            "name": name,
            "description_html": description_html,
            "is_main": is_main,
            "position": position,
            "reveals_at": _seconds(at),
            "credits": [],
            "beats": [],
        }
        characters[pk] = character
        result[film_id].append(character)
    credits = (
        Credit.objects.using(using)
        .filter(film__in=film_ids, character__isnull=False)
        .order_by("film", "position", "pk")
        .values_list("character_id", "person__name", "person__slug")
    )
    for character_id, name, slug in credits:
        characters[character_id]["credits"].append(
            {"person": {"name": name, "slug": slug}}
        )
    beats = (
        CharacterBeat.objects.using(using)
        .filter(character__film__in=film_ids)
        .order_by("character", "position")
        .values_list("character_id", "position", "text_html", "reveals_at")
    )
    for character_id, position, text_html, at in beats:
        characters[character_id]["beats"].append(
            {"position": position, "text_html": text_html, "reveals_at": _seconds(at)}
        )
    return result


def _themes(film_ids, using):
    result = {pk: [] for pk in film_ids}
    rows = (
        FilmTheme.objects.using(using)
        .filter(film__in=film_ids)
        .select_related("theme")
        .order_by("film", "position", "theme__name")
    )
    for analysis in rows:
        theme = analysis.theme
        result[analysis.film_id].append(
            {
                "theme_id": theme.pk,
                "theme": {
                    "slug": theme.slug,
                    "name": theme.name,
                    "description_html": theme.description_html,
                    "url": theme.get_absolute_url(),
                },
                "position": analysis.position,
                "analysis_html": analysis.analysis_html,
                "reveals_at": _seconds(analysis.reveals_at),
            }
        )
    return result


def _recommendations(film_ids, using):
    result = {pk: [] for pk in film_ids}
    rows = (
        Recommendation.objects.using(using)
        .filter(film__in=film_ids)
        .order_by("film", "position")
        .values_list(
            "film_id",
            "target_slug",
            "target_title",
            "target_year",
            "reason_html",
            "position",
        )
    )
    for film_id, slug, title, year, reason_html, position in rows:
        result[film_id].append(
            {
                "target_slug": slug,
                "target_title": title,
                "target_year": year,
                "reason_html": reason_html,
                "position": position,
            }
        )
    return result


def store(film_ids, using=None):
    """Build and store the parts of these films at their current versions."""
    for chunk in batched(sorted(film_ids), 500):
        versions = dict(
            Film.objects.using(using).filter(pk__in=chunk).values_list("pk", "version")
        )
        built = build(list(versions), using)
        documents = FilmDocument.objects.using(using)
        documents.filter(film_id__in=list(versions)).delete()
        documents.bulk_create(
            FilmDocument(
                film_id=pk,
                name=name,
                version=versions[pk],
                format=current_format(),
                data=json.dumps(data, ensure_ascii=False, separators=(",", ":")),
            )
            for pk, parts in built.items()
            for name, data in parts.items()
        )


def store_stale(using=None):
    """Store the parts of every film whose stored parts are missing, of an
    older version or of another format; returns how many films that was."""
    current = (
        FilmDocument.objects.using(using)
        .filter(
            format=current_format(), version=OuterRef("version"), film_id=OuterRef("pk")
        )
        .values("film_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    stale = list(
        Film.objects.using(using)
        .annotate(parts=Coalesce(Subquery(current), 0))
        .exclude(parts=len(PARTS))
        .values_list("pk", flat=True)
    )
    store(stale, using)
    return len(stale)


# --- Reading parts (on a page) ------------------------------------------------------


@functools.cache
def _statement(alias, count):
    """The one query a page makes for its parts (built once per shape, as
    ``pages._film_statement`` is)."""
    ops = connections[alias].ops
    table = ops.quote_name(FilmDocument._meta.db_table)
    marks = ", ".join(["%s"] * count)
    return (
        f"SELECT {ops.quote_name('name')}, {ops.quote_name('version')}, "  # noqa: S608 — our own names
        f"{ops.quote_name('format')}, {ops.quote_name('data')} FROM {table} "
        f"WHERE {ops.quote_name('film_id')} = %s AND {ops.quote_name('name')} IN ({marks})"
    )


def load(film, names):
    """The parts ``names`` of ``film`` at its version, as plain data: stored,
    or built now when the stored ones are of another version or format.

    One query — none when they were read with the film (``stored_parts``,
    from ``pages.film_for_page``)."""
    alias = router.db_for_read(Film)
    read, stored = getattr(film, "stored_parts", ((), {}))
    if read and read.issuperset(names):  # read with the film (pages.film_for_page)
        rows = [(name, *stored[name]) for name in names if name in stored]
    else:
        with prepared_cursor(alias) as cursor:
            cursor.execute(_statement(alias, len(names)), [film.pk, *names])
            rows = cursor.fetchall()
    current = current_format()
    found = {
        name: data
        for name, version, format_, data in rows
        if version == film.version and format_ == current
    }
    if len(found) < len(names):
        built = build([film.pk], alias)[film.pk]
        return {name: built[name] for name in names}
    return {name: json.loads(data) for name, data in found.items()}


# --- Rows as the templates read them ---------------------------------------------


def row(data, without=()):
    """A row of a part as an object: ``*_at`` as timedeltas, ``*_html`` as safe
    markup (it was sanitised when it was saved), nested rows alike; the keys
    ``without`` left out (rows a page must filter before showing)."""
    values = {}
    for key, value in data.items():
        if key in without:
            continue
        kind = _kinds.get(key)
        if kind is None:
            kind = _kinds[key] = (
                "time"
                if key.endswith("_at")
                else "html"
                if key.endswith("_html")
                else ""
            )
        if kind == "time":
            value = None if value is None else timedelta(seconds=value)
        elif kind == "html":
            value = SafeString(value)
        elif value.__class__ is dict:
            value = row(value)
        elif value and value.__class__ is list and value[0].__class__ is dict:
            value = [row(item) for item in value]
        values[key] = value
    return SimpleNamespace(**values)


_kinds = {}  # each key's kind, worked out once (keys are our own few names)


def seconds_to_time(value):
    return None if value is None else timedelta(seconds=value)


def revealed(rows, horizon, field="reveals_at", without=()):
    """The rows of a part (as objects) whose ``field`` the horizon reveals,
    the keys ``without`` left out."""
    return [
        row(data, without)
        for data in rows
        if horizon.reveals(seconds_to_time(data[field]))
    ]
