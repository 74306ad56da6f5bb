"""Pruning: the rows of a guide that its files no longer have.

``load_guides --prune`` makes a film's guide in the database match its file:
:func:`stale_rows` reads the files for natural keys only and finds the parts
of those films' guides (characters, beats, scenes, plot, themes, credits,
recommendations) that no file gives; :func:`prune_rows` deletes them. Shared
rows (people, themes, genres, countries, languages) are never pruned.
"""

from itertools import batched

from django.db import DEFAULT_DB_ALIAS

from films.guide_files.reading import JsonLines, read_json
from films.guide_files.report import GuideError, LoadFailed
from films.guide_files.schema import (
    IN_LIST_SIZE,
    MODELS_BY_LABEL,
    PRUNED,
    _key_as_given,
)
from films.models import CharacterBeat, Film


def _records(paths):
    for path in paths:
        if path.suffix == ".jsonl":
            yield from JsonLines(path, str(path))
        else:
            yield from read_json(path, str(path))


def stale_rows(paths, *, using=DEFAULT_DB_ALIAS):
    """Rows of the films these files give that the files no longer have.

    Returns ``{model: [row, …]}`` in :data:`PRUNED` order. Only the parts of
    the guides of films the files hold a ``films.film`` object for are
    considered, matched by natural key: never another film's rows, never a
    shared row. Reads the files once, keeping only natural keys; raises
    ``LoadFailed`` if a file cannot be read (then nothing may be pruned).
    """
    films = set()
    given = {model: set() for model in PRUNED}
    try:
        for record in _records(paths):
            model = MODELS_BY_LABEL.get(record.model.lower())
            if model is Film:
                slug = record.fields.get("slug")
                if isinstance(slug, str):
                    films.add(slug)
            elif model in given:
                key = _key_as_given(model, record.fields)
                if key is not None:
                    given[model].add(key)
    except GuideError as error:
        raise LoadFailed([error]) from None
    stale = {}
    for model, (film_path, related) in PRUNED.items():
        rows = []
        for chunk in batched(sorted(films), IN_LIST_SIZE):
            found = (
                model._default_manager.using(using)
                .filter(**{f"{film_path}__slug__in": chunk})
                .select_related(*related)
                .order_by(*(f"{film_path}__slug", "pk"))
            )
            rows.extend(row for row in found if row.natural_key() not in given[model])
        stale[model] = rows
    return stale


def prune_rows(stale, *, using=DEFAULT_DB_ALIAS):
    """Delete the rows :func:`stale_rows` found (signals bump their guides)."""
    for model, rows in stale.items():
        for chunk in batched([row.pk for row in rows], IN_LIST_SIZE):
            model._default_manager.using(using).filter(pk__in=chunk).delete()


def film_of(row):
    """The film a pruned row belongs to."""
    return row.character.film if isinstance(row, CharacterBeat) else row.film
