"""Export: guide files written from the database, in a fixed order and layout.

:func:`export_rows` walks the rows of one, some or all films in file order;
:func:`dump_object` turns a row into a guide object (natural keys, no pk,
Django's formats); :class:`GuideWriter` streams objects as JSON or JSON
Lines. The order and layout never depend on ids, so exports diff cleanly and
export → load → export is byte-identical.
"""

import datetime
import json
import textwrap

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Prefetch, Q
from django.utils.encoding import is_protected_type

from films.guide_files.schema import _label
from films.models import (
    Character,
    CharacterBeat,
    Country,
    Film,
    Genre,
    Language,
    Person,
    Theme,
)


def dump_object(obj, m2m=None):
    """One object as a guide file holds it: natural keys, no pk, Django's formats.

    ``m2m`` gives the related objects of each many-to-many field (by name);
    they are written as natural keys, sorted, so the order never depends on ids.
    """
    fields = {}
    for field_ in obj._meta.local_fields:
        if not field_.serialize:  # the auto primary key
            continue
        if field_.is_relation:
            related = getattr(obj, field_.name)
            fields[field_.name] = (
                None if related is None else list(related.natural_key())
            )
        else:
            value = field_.value_from_object(obj)
            if isinstance(value, datetime.datetime):
                # A file holds milliseconds. Cut the rest here, so that a time
                # such as 12:00:00.000456 is written as it will read back
                # (12:00:00), not as "12:00:00.000" the first time only.
                value = value.replace(microsecond=value.microsecond // 1000 * 1000)
            fields[field_.name] = (
                value if is_protected_type(value) else field_.value_to_string(obj)
            )
    for field_ in obj._meta.local_many_to_many:
        related = (m2m or {}).get(field_.name, ())
        fields[field_.name] = sorted(list(other.natural_key()) for other in related)
    return {"model": _label(type(obj)), "fields": fields}


class GuideWriter:
    """Writes objects as a guide file, a chunk at a time.

    JSON is laid out as ``json.dumps(objects, indent=2, ensure_ascii=False)``
    would (the layout of the shipped fixtures), but streamed; JSON Lines puts
    each object on its own line.
    """

    def __init__(self, stream, *, lines=False):
        self.stream = stream
        self.lines = lines
        self.count = 0

    def write(self, obj, m2m=None):
        data = dump_object(obj, m2m)
        if self.lines:
            self.stream.write(
                json.dumps(data, ensure_ascii=False, cls=DjangoJSONEncoder)
            )
            self.stream.write("\n")
        else:
            text = json.dumps(data, ensure_ascii=False, indent=2, cls=DjangoJSONEncoder)
            self.stream.write("[\n" if self.count == 0 else ",\n")
            self.stream.write(textwrap.indent(text, "  "))
        self.count += 1

    def close(self):
        if not self.lines:
            self.stream.write("\n]\n" if self.count else "[]\n")


def _with_m2m(obj):
    return obj, {
        f.name: list(getattr(obj, f.name).all()) for f in obj._meta.local_many_to_many
    }


def export_rows(slugs=None, *, using=DEFAULT_DB_ALIAS):
    """``(object, many-to-many)`` for each row of a guide file, in file order.

    First the reference rows (countries, languages, genres, people, themes) by
    natural key — all of them, or with ``slugs`` only those the films use —
    then each film by slug with its characters, beats, scenes, plot, themes,
    credits and recommendations, each in the order the site shows them and
    then by natural key, so that the order is total and independent of ids.
    """
    films = Film.objects.using(using).order_by("slug")
    if slugs is not None:
        films = films.filter(slug__in=slugs)
    reference = [
        (Country, "code", Q(films__in=films)),
        (Language, "code", Q(films__in=films)),
        (Genre, "slug", Q(films__in=films)),
        (Person, "slug", Q(credits__film__in=films)),
        (Theme, "slug", Q(film_themes__film__in=films) | Q(scenes__film__in=films)),
    ]
    for model, key, used in reference:
        rows = model.objects.using(using).order_by(key)
        if slugs is not None:
            rows = rows.filter(
                pk__in=model.objects.using(using).filter(used).values("pk")
            )
        for row in rows.iterator(chunk_size=2000):
            yield row, {}
    films = films.prefetch_related("languages", "countries", "genres")
    for film in films:
        yield _with_m2m(film)
        for character in film.characters.order_by("position", "slug"):
            character.film = film
            yield character, {}
        beats = (
            CharacterBeat.objects.using(using)
            .filter(character__film=film)
            .select_related("character")
            .order_by("character__position", "character__slug", "position")
        )
        for beat in beats:
            beat.character.film = film
            yield beat, {}
        scenes = film.scenes.order_by("screen_position", "slug").prefetch_related(
            Prefetch(
                "characters",
                queryset=Character.objects.using(using).select_related("film"),
            ),
            "themes",
        )
        for scene in scenes:
            scene.film = film
            yield _with_m2m(scene)
        for section in film.plot_sections.order_by("position"):
            section.film = film
            yield section, {}
        for analysis in film.film_themes.select_related("theme").order_by(
            "position", "theme__slug"
        ):
            analysis.film = film
            yield analysis, {}
        for credit in film.credits.select_related("person", "character").order_by(
            "position", "person__slug", "role"
        ):
            credit.film = film
            if credit.character is not None and credit.character.film_id == film.pk:
                credit.character.film = film
            yield credit, {}
        for recommendation in film.recommendations.order_by("position", "target_slug"):
            recommendation.film = film
            yield recommendation, {}
