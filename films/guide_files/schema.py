"""The guide models as the loader sees them: which models and fields a file
may give, their natural keys, and which parts of a guide pruning may remove.

Everything here is read from the models' ``_meta`` once and cached; nothing
queries the database. The loader, the validation, the pruning and the export
all ask here rather than inspect the models themselves.
"""

from functools import cache

from django.db import models

from films.models import (
    Character,
    CharacterBeat,
    Country,
    Credit,
    Film,
    FilmTheme,
    Genre,
    Language,
    Person,
    PlotSection,
    Recommendation,
    RenderedHTMLField,
    Scene,
    Theme,
)

# Every model a guide file may hold, each after the models it refers to.
GUIDE_MODELS = (
    Country,
    Language,
    Genre,
    Person,
    Theme,
    Film,
    Character,
    CharacterBeat,
    Scene,
    PlotSection,
    FilmTheme,
    Credit,
    Recommendation,
)
MODELS_BY_LABEL = {model._meta.label_lower: model for model in GUIDE_MODELS}
# The models other rows refer to: their rows are cached between batches.
REFERENCED = {
    field.related_model
    for model in GUIDE_MODELS
    for field in [*model._meta.fields, *model._meta.many_to_many]
    if field.is_relation
}

# The fields each model's natural_key() is made of, in order, so that rows can
# be looked up by natural key many at a time (get_by_natural_key() does one).
# tests/test_load_guides.py checks that these agree with natural_key().
KEY_FIELDS = {
    Country: ("code",),
    Language: ("code",),
    Genre: ("slug",),
    Person: ("slug",),
    Theme: ("slug",),
    Film: ("slug",),
    Character: ("film", "slug"),
    CharacterBeat: ("character", "position"),
    Scene: ("film", "slug"),
    PlotSection: ("film", "position"),
    FilmTheme: ("film", "theme"),
    Credit: ("film", "person", "role"),
    Recommendation: ("film", "target_slug"),
}

KEY_EXAMPLES = {
    Country: '["SU"]',
    Language: '["ru"]',
    Genre: '["drama"]',
    Person: '["andrei-tarkovsky"]',
    Theme: '["faith"]',
    Film: '["stalker-1979"]',
    Character: '["stalker-1979", "the-stalker"]',
}

# The only uniqueness rules beyond natural keys: a film's scene positions. The
# timeline check enforces them; an update that moves scenes parks them first,
# since the database checks uniqueness row by row and a swap would collide.
PARKED_FIELDS = {Scene: ("screen_position", "story_position")}

# The parts of a guide that ``load_guides --prune`` may remove, each with the
# path to its film and the rows its natural key reads. Beats come before
# characters: a character removed takes its beats with it. Shared rows
# (people, themes, genres, countries, languages) are never pruned.
PRUNED = {
    CharacterBeat: ("character__film", ("character__film",)),
    Scene: ("film", ("film",)),
    PlotSection: ("film", ("film",)),
    FilmTheme: ("film", ("film", "theme")),
    Credit: ("film", ("film", "person")),
    Recommendation: ("film", ("film",)),
    Character: ("film", ("film",)),
}

IN_LIST_SIZE = 2000  # values per "IN (…)"; SQLite allows only so many parameters

# What became of each object of a load.
CREATED, UPDATED, UNCHANGED, REPEATED = "created", "updated", "unchanged", "repeated"


@cache
def _fields(model):
    """Every field a guide object may give, by name: concrete ones, then m2m."""
    names = {f.name: f for f in _concrete(model)}
    names.update((f.name, f) for f in model._meta.local_many_to_many)
    return names


@cache
def _concrete(model):
    """The fields a file gives: not the derived ones (stored HTML, versions),
    which the site makes itself and a file must never set."""
    return [f for f in model._meta.concrete_fields if not f.primary_key and f.serialize]


@cache
def _compared(model):
    """The fields that make a stored row differ from its object: those a file
    gives, and the HTML rendered from them (new when the renderer changed) —
    not the film's version and reveal index, which the loader bumps itself."""
    return [
        f
        for f in model._meta.concrete_fields
        if not f.primary_key and (f.serialize or isinstance(f, RenderedHTMLField))
    ]


@cache
def _relations(model):
    return [f for f in _concrete(model) if f.is_relation]


@cache
def _required(model):
    """Fields an object must give: no default, and neither blank nor null."""
    return [
        f
        for f in _concrete(model)
        if not (f.has_default() or f.has_db_default() or f.blank or f.null)
    ]


@cache
def _auto_times(model):
    """``auto_now``/``auto_now_add`` fields, whose values files keep."""
    return [
        f
        for f in _concrete(model)
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]


@cache
def _key_length(model):
    return sum(
        _key_length(model._meta.get_field(name).related_model)
        if model._meta.get_field(name).is_relation
        else 1
        for name in KEY_FIELDS[model]
    )


@cache
def _key_attnames(model):
    return tuple(model._meta.get_field(name).attname for name in KEY_FIELDS[model])


@cache
def _check_constraints(model):
    """(constraint, fields it reads, field its error belongs to) for each check."""
    at_fault = getattr(model, "constraint_error_fields", {})
    return [
        (
            constraint,
            frozenset(constraint.condition.referenced_base_fields),
            at_fault.get(constraint.name),
        )
        for constraint in model._meta.constraints
        if isinstance(constraint, models.CheckConstraint)
    ]


def _split_key(model, key):
    """A natural key cut into its fields' parts; related parts are keys too."""
    parts, at = [], 0
    for name in KEY_FIELDS[model]:
        field_ = model._meta.get_field(name)
        if field_.is_relation:
            size = _key_length(field_.related_model)
            parts.append(tuple(key[at : at + size]))
            at += size
        else:
            parts.append(key[at])
            at += 1
    return parts


def _key_as_given(model, fields):
    """An object's natural key as its file spells it, or None if it cannot be read.

    Messages use it for objects whose own key cannot be built, such as a scene
    of a film that does not exist.
    """
    parts = []
    for name in KEY_FIELDS[model]:
        field_ = model._meta.get_field(name)
        raw = fields.get(name)
        if field_.is_relation:
            key = _key_from(field_.related_model, raw)
            if key is None:
                return None
            parts.extend(key)
        elif isinstance(raw, (str, int)) and not isinstance(raw, bool):
            parts.append(raw)
        else:
            return None
    return tuple(parts)


def _key_values(obj):
    return tuple(getattr(obj, attname) for attname in _key_attnames(type(obj)))


def _label(model):
    return model._meta.label_lower


def _key_from(model, raw):
    """A natural key of ``model`` from JSON, or None if it is not one."""
    if (
        isinstance(raw, list)
        and len(raw) == _key_length(model)
        and all(
            isinstance(part, (str, int)) and not isinstance(part, bool) for part in raw
        )
    ):
        return tuple(raw)
    return None
