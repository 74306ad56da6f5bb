"""History: every model under django-reversion, a film's guide as one revision,
and the comparison of two revisions that the film's history page shows.

Registration with django-reversion happens here, on import, before any
``VersionAdmin`` is registered (which would register its model without the
rows a film's revision must follow).
"""

import difflib
import re
from datetime import timedelta

import reversion
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.text import capfirst

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
    Scene,
    Theme,
)
from films.spoilers import format_timecode

# --- History -----------------------------------------------------------------

# A film's revision holds every row of its guide, so reverting or recovering
# it brings them all back together.
GUIDE_PARTS = [
    "credits",
    "characters",
    "scenes",
    "plot_sections",
    "film_themes",
    "recommendations",
]

for _model in (
    Country,
    Language,
    Genre,
    Person,
    Theme,
    Credit,
    Scene,
    PlotSection,
    FilmTheme,
    Recommendation,
    CharacterBeat,
):
    reversion.register(_model)
reversion.register(Character, follow=["beats"])
reversion.register(Film, follow=GUIDE_PARTS)


def record_film(request, film, comment):
    """Save the whole guide of ``film`` as a revision of its own."""
    with reversion.create_revision():
        reversion.set_user(request.user)
        reversion.set_comment(comment)
        reversion.add_to_revision(film)


# --- Comparing revisions -------------------------------------------------------

# Bookkeeping fields, and the film link that every row of a guide has.
NOT_COMPARED = {"id", "film", "created_at", "updated_at"}


def compare_guides(old_revision, new_revision):
    """What changed between two revisions of a guide, row by row.

    Returns a list of ``{"label", "state", "fields"}`` where ``state`` is
    added, removed or changed and ``fields`` a list of
    ``{"name", "old", "new", "diff"}`` (``diff`` is a list of
    ``(kind, text)`` word runs for text fields, for the template to mark up).
    """
    old_rows = _rows(old_revision)
    new_rows = _rows(new_revision)
    changes = []
    for key in sorted(old_rows.keys() | new_rows.keys(), key=_row_order):
        old, new = old_rows.get(key), new_rows.get(key)
        model = (old or new)._model
        label = f"{capfirst(model._meta.verbose_name)}: {(new or old).object_repr}"
        if old is None or new is None:
            version = old or new
            fields = [
                _field_change(model, name, None, value)
                for name, value in version.field_dict.items()
                if _compared(model, name) and value not in (None, "", [])
            ]
            state = "added" if old is None else "removed"
            if state == "removed":
                fields = [
                    {**f, "old": f["new"], "new": "", "diff": None} for f in fields
                ]
            changes.append({"label": label, "state": state, "fields": fields})
            continue
        fields = [
            _field_change(model, name, old.field_dict.get(name), value)
            for name, value in new.field_dict.items()
            if _compared(model, name) and old.field_dict.get(name) != value
        ]
        if fields:
            changes.append({"label": label, "state": "changed", "fields": fields})
    return changes


_MODEL_ORDER = [
    Film,
    Credit,
    Character,
    CharacterBeat,
    Scene,
    PlotSection,
    FilmTheme,
    Recommendation,
]


def _compared(model, attname):
    return model._meta.get_field(attname).name not in NOT_COMPARED


def _rows(revision):
    return {
        (version.content_type_id, version.object_id): version
        for version in revision.version_set.select_related("content_type")
    }


def _row_order(key):
    content_type_id, object_id = key
    model = ContentType.objects.get_for_id(content_type_id).model_class()
    rank = _MODEL_ORDER.index(model) if model in _MODEL_ORDER else len(_MODEL_ORDER)
    return (rank, int(object_id) if object_id.isdigit() else 0)


def _field_change(model, name, old, new):
    field = model._meta.get_field(name)
    old_text, new_text = _display(field, old), _display(field, new)
    diff = None
    if isinstance(field, models.TextField) and old_text and new_text:
        diff = _word_diff(old_text, new_text)
    return {
        "name": capfirst(field.verbose_name),
        "old": old_text,
        "new": new_text,
        "diff": diff,
    }


def _display(field, value):
    if value is None or value == "":
        return ""
    if isinstance(value, timedelta):
        return format_timecode(value)
    if field.is_relation:
        pks = value if isinstance(value, list) else [value]
        related = field.related_model._default_manager.in_bulk(pks)
        return ", ".join(
            str(related[pk]) if pk in related else f"(deleted #{pk})" for pk in pks
        )
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    return str(value)


def _word_diff(old, new):
    """Word runs of ``new`` against ``old``: ``[("equal"|"delete"|"insert", text)]``."""
    a, b = re.split(r"(\s+)", old), re.split(r"(\s+)", new)
    runs = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("delete", "replace"):
            runs.append(("delete", "".join(a[i1:i2])))
        if tag in ("insert", "replace"):
            runs.append(("insert", "".join(b[j1:j2])))
        if tag == "equal":
            runs.append(("equal", "".join(a[i1:i2])))
    return runs
