"""Validation: each object's fields and rules, and each film's timeline.

A field's value is converted from JSON strictly (``_convert``: a whole number
is not a string, a time has its time zone, every value fits the column on
SQLite and PostgreSQL alike). :class:`Checker` builds each object from its
record and runs the rules the admin runs — ``full_clean()``, the check
constraints (``check_holds``, in Python), the many-to-many rules — then checks
each film's timeline as a whole (``films.guide_checks``), stored scenes
included. It reports problems and writes nothing.
"""

import datetime
import operator
from collections import defaultdict
from itertools import batched

from django.core.exceptions import ValidationError
from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import F, Q
from django.utils import timezone

from films.guide_checks import timeline_errors
from films.guide_files.report import GuideError, _Bad, show_key, show_value
from films.guide_files.schema import (
    CREATED,
    IN_LIST_SIZE,
    KEY_EXAMPLES,
    PARKED_FIELDS,
    UNCHANGED,
    UPDATED,
    _check_constraints,
    _key_from,
    _label,
    _relations,
    _required,
)
from films.models import Film, Scene


def _expected(field_):
    if field_.many_to_many or field_.is_relation:
        related = field_.related_model
        example = KEY_EXAMPLES.get(related, "[…]")
        if field_.many_to_many:
            return f"a list of natural keys of {_label(related)}, e.g. [{example}]"
        return f"the natural key of a {_label(related)}, e.g. {example}" + (
            " (or null)" if field_.null else ""
        )
    if field_.choices:
        choices = ", ".join(f'"{value}"' for value, _ in field_.flatchoices)
        return f"one of {choices}"
    if isinstance(field_, models.BooleanField):
        kind = "true or false"
    elif isinstance(field_, models.IntegerField):
        kind = "a whole number"
    elif isinstance(field_, (models.FloatField, models.DecimalField)):
        kind = "a number"
    elif isinstance(field_, models.DurationField):
        kind = 'a time into the film, "HH:MM:SS", e.g. "01:12:30"'
    elif isinstance(field_, models.DateTimeField):
        kind = 'a date and time with its time zone, e.g. "2026-11-25T12:00:00Z"'
    elif isinstance(field_, models.DateField):
        kind = 'a date, e.g. "2026-11-25"'
    elif isinstance(field_, (models.CharField, models.TextField)):
        kind = "text (a JSON string)"
    else:
        kind = "a value"
    return kind + (" or null" if field_.null else "")


def _json_type_fits(field_, raw):
    if isinstance(field_, models.BooleanField):
        return isinstance(raw, bool)
    if isinstance(field_, models.IntegerField):
        return isinstance(raw, int) and not isinstance(raw, bool)
    if isinstance(field_, (models.FloatField, models.DecimalField)):
        return isinstance(raw, (int, float, str)) and not isinstance(raw, bool)
    if isinstance(
        field_,
        (models.CharField, models.TextField, models.DurationField, models.DateField),
    ):  # DateField covers DateTimeField
        return isinstance(raw, str)
    return True


def _convert(field_, raw):
    """A plain field's value from JSON, strictly typed; raises ``_Bad``."""
    if raw is None:
        if field_.null:
            return None
        raise _Bad(f"expected {_expected(field_)}, got null")
    if not _json_type_fits(field_, raw):
        raise _Bad(f"expected {_expected(field_)}, got {show_value(raw)}")
    if field_.choices and raw not in {value for value, _ in field_.flatchoices}:
        raise _Bad(f"expected {_expected(field_)}, got {show_value(raw)}")
    try:
        value = field_.to_python(raw)
    except (ValidationError, OverflowError):
        raise _Bad(f"expected {_expected(field_)}, got {show_value(raw)}") from None
    if isinstance(field_, models.DateTimeField):
        if timezone.is_naive(value):
            raise _Bad(
                f"{show_value(raw)} has no time zone; expected {_expected(field_)}"
            )
        try:
            value.astimezone(datetime.UTC)
        except OverflowError:
            raise _Bad(f"{show_value(raw)} is out of range for a date") from None
    if isinstance(field_, models.IntegerField):
        # The column's range on every database (SQLite would store more and
        # PostgreSQL refuse it: a file must load the same on both).
        low, high = BaseDatabaseOperations.integer_field_ranges[
            field_.get_internal_type()
        ]
        if not low <= value <= high:
            raise _Bad(
                f"{show_value(raw)} is out of range: this field holds a whole "
                f"number from {low} to {high}"
            )
    if isinstance(field_, models.DurationField) and abs(value) > _LONGEST:
        raise _Bad(f"{show_value(raw)} is out of range: {_expected(field_)}")
    return value


# The longest time a DurationField holds here: more than any film, and well
# within every database's interval.
_LONGEST = datetime.timedelta(days=10_000)


_COMPARISONS = {
    "exact": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


class _Unsupported(Exception):
    pass


def check_holds(condition, obj):
    """Evaluate a check constraint's condition on an object, in Python.

    ``CheckConstraint.validate()`` asks the database, a query per constraint and
    object; for a catalogue that would be most of the load's time. The conditions the
    guide models use are plain comparisons, evaluated here with SQL's logic: a
    NULL operand makes a comparison unknown (None), and a CHECK passes unless
    its condition is false. Anything else raises ``_Unsupported``, and the
    loader asks the database as Django would.
    """
    if isinstance(condition, Q):
        results = [check_holds(child, obj) for child in condition.children]
        if condition.connector == Q.AND:
            value = False if False in results else None if None in results else True
        elif condition.connector == Q.OR:
            value = True if True in results else None if None in results else False
        else:
            raise _Unsupported(condition.connector)
        return value if value is None or not condition.negated else not value
    if not isinstance(condition, tuple):
        raise _Unsupported(condition)
    lookup, expected = condition
    name, _, kind = lookup.partition("__")
    kind = kind or "exact"
    value = getattr(obj, obj._meta.get_field(name).attname)
    if isinstance(expected, F):
        expected = getattr(obj, obj._meta.get_field(expected.name).attname)
    elif hasattr(expected, "resolve_expression"):
        raise _Unsupported(expected)
    if kind == "isnull" or (kind == "exact" and expected is None):
        return (value is None) == (expected if kind == "isnull" else True)
    if value is None or expected is None:
        return None
    if kind == "in":
        return value in expected
    if kind not in _COMPARISONS:
        raise _Unsupported(kind)
    try:
        return _COMPARISONS[kind](value, expected)
    except TypeError:
        raise _Unsupported(lookup) from None


class Checker:
    """Builds a batch's objects from their records and checks them, as the
    admin would, reporting to ``problems``; it never writes."""

    def __init__(self, problems, using):
        self.problems = problems
        self.using = using
        # The highest position each film's scenes use, from check_timelines():
        # where the writer parks scenes that move (Writer._park).
        self.position_top = defaultdict(int)

    def build(self, item, fields, found):
        """Set the object's fields from its record, noting each that cannot be read."""
        model, record, obj = type(item.obj), item.record, item.obj
        for name, raw in record.fields.items():
            field_ = fields.get(name)
            if field_ is None:
                names = ", ".join(fields)
                self.problems.add(
                    item, name, f"unknown field; {_label(model)} has {names}"
                )
                continue
            try:
                if field_.many_to_many:
                    item.m2m[name] = self._related_list(field_, raw, found)
                elif field_.is_relation:
                    setattr(obj, field_.name, self._related(field_, raw, found))
                else:
                    setattr(obj, field_.attname, _convert(field_, raw))
            except _Bad as bad:
                item.broken.add(name)
                self.problems.add(item, name, str(bad))
        obj.render_text()
        for field_ in _required(model):
            if field_.name not in record.fields:
                item.broken.add(field_.name)
                self.problems.add(
                    item,
                    field_.name,
                    f"is missing; it is required: {_expected(field_)}",
                )
        return item

    def _related(self, field_, raw, found):
        if raw is None:
            if field_.null:
                return None
            raise _Bad(f"expected {_expected(field_)}, got null")
        related = field_.related_model
        key = _key_from(related, raw)
        if key is None:
            raise _Bad(f"expected {_expected(field_)}, got {show_value(raw)}")
        target = found.get(related, {}).get(key)
        if target is None:
            raise _Bad(self._missing(related, [key]))
        return target

    def _related_list(self, field_, raw, found):
        if not isinstance(raw, list):
            raise _Bad(f"expected {_expected(field_)}, got {show_value(raw)}")
        related = field_.related_model
        targets, missing = {}, []
        for item in raw:
            key = _key_from(related, item)
            if key is None:
                raise _Bad(
                    f"expected {_expected(field_)}, got {show_value(item)} in the list"
                )
            target = found.get(related, {}).get(key)
            if target is None:
                missing.append(key)
            else:
                targets[target.pk] = target
        if missing:
            raise _Bad(self._missing(related, missing))
        return list(targets.values())

    def _missing(self, model, keys):
        shown = ", ".join(show_key(key) for key in keys)
        verb = "does" if len(keys) == 1 else "do"
        return (
            f"refers to {_label(model)} {shown}, which {verb} not exist: "
            "neither in the database nor in the input (or, in a .jsonl file, "
            "not before this line)"
        )

    def validate(self, item):
        """The rules of ``full_clean()`` and the admin, without a query per object.

        ``full_clean()`` runs here without the parts that would query the
        database for every object, which the loader does in bulk instead:
        foreign keys (resolving a natural key proves the row exists), unique
        checks (natural keys are matched; scene positions are part of the
        timeline check), and check constraints (``check_holds``).
        """
        obj = item.obj
        model = type(obj)
        exclude = {f.name for f in _relations(model)} | item.broken
        failed = set(item.broken)
        try:
            obj.full_clean(
                exclude=exclude, validate_unique=False, validate_constraints=False
            )
        except ValidationError as error:
            failed |= self.problems.add_from(item, error)
        for constraint, reads, at_fault in _check_constraints(model):
            if reads & failed:
                continue
            if not self._constraint_holds(constraint, obj):
                self.problems.add(
                    item, at_fault, constraint.get_violation_error_message()
                )
        if any(
            f.name in item.broken or getattr(obj, f.attname) is None
            for f in _relations(model)
            if not f.null
        ):
            return
        for name, targets in item.m2m.items():
            rule = getattr(obj, f"clean_{name}", None)
            if callable(rule):
                try:
                    rule(targets)
                except ValidationError as error:
                    self.problems.add_from(item, error)

    def _constraint_holds(self, constraint, obj):
        try:
            return check_holds(constraint.condition, obj) is not False
        except _Unsupported:
            try:
                constraint.validate(type(obj), obj, using=self.using)
            except ValidationError:
                return False
            return True

    def check_timelines(self, staged):
        """Each film the batch touches: its scenes, stored and new, as a whole."""
        scenes = [
            item
            for item in staged.get(Scene, ())
            if item.state in (CREATED, UPDATED, UNCHANGED)
            and not item.broken
            and item.obj.film_id is not None
        ]
        films = {item.obj.film_id: item.obj.film for item in scenes}
        new_films = set()
        for item in staged.get(Film, ()):
            if item.state in (CREATED, UPDATED) and not item.broken:
                films[item.obj.pk] = item.obj
            if item.state is CREATED:
                new_films.add(item.obj.pk)
        if not films:
            return
        ours = {item.obj.pk: item for item in scenes}
        timelines = defaultdict(list)
        # The highest position each film uses, for the writer's parking.
        top = self.position_top = defaultdict(int)
        stored = [
            row
            for chunk in batched(
                [pk for pk in films if pk not in new_films], IN_LIST_SIZE
            )
            for row in Scene.objects.using(self.using)
            .filter(film_id__in=chunk)
            .only(
                "film_id",
                "slug",
                "title",
                "screen_position",
                "story_position",
                "starts_at",
                "ends_at",
            )
            .order_by()
        ]
        for row in stored:
            for name in PARKED_FIELDS[Scene]:
                top[row.film_id, name] = max(top[row.film_id, name], getattr(row, name))
            if row.pk not in ours:
                timelines[row.film_id].append(row)
        for item in scenes:
            timelines[item.obj.film_id].append(item.obj)
            for name in PARKED_FIELDS[Scene]:
                slot = (item.obj.film_id, name)
                top[slot] = max(top[slot], getattr(item.obj, name) or 0)
        by_scene = {id(item.obj): item for item in scenes}
        for pk, film in films.items():
            if not isinstance(film.runtime, int) or pk not in timelines:
                continue
            for scene, field_name, message in timeline_errors(film, timelines[pk]):
                item = by_scene.get(id(scene))
                if item is not None:
                    self.problems.add(item, field_name, message)
                else:
                    self.problems.add_error(
                        GuideError(
                            f"{message} (a scene already in the database)",
                            model=_label(Scene),
                            key=(film.slug, scene.slug),
                            field=field_name,
                        )
                    )
