"""Guide files: the fixture format, read with validation, loaded, and written.

A guide file is a Django fixture with natural keys: a list of
``{"model": "films.scene", "fields": {…}}`` objects that name other rows by
slug (``"film": ["stalker-1979"]``) and carry no ``pk``, so ``loaddata`` reads
it too. A ``.json`` file holds one JSON list; a ``.jsonl`` file (JSON Lines)
holds one object per line and is streamed.

Loading (:class:`Loader`) adds what ``loaddata`` lacks:

* validation before writing: each object's ``full_clean()``, the many-to-many
  rules (``Scene.clean_characters``) and each film's timeline as a whole
  (``films.guide_checks``), reported with the file, the line or object, the
  model, the natural key and the field;
* matching by natural key: an object names its row, which is created, updated
  or left alone when nothing changed, so loading twice changes nothing;
* speed and constant memory: objects are checked and written in batches, with
  a query per table and batch rather than several per object.

Writing (:func:`export_rows`, :func:`dump_object`, :class:`GuideWriter`) gives
the same format in a fixed order and layout, so exports diff cleanly and
export → load → export is byte-identical.
"""

import datetime
import json
import math
import operator
import os
import re
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from itertools import batched

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    connections,
    models,
    reset_queries,
)
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import F, Prefetch, Q
from django.utils import timezone
from django.utils.encoding import is_protected_type

from films.derived import bump_films, films_of, recommending
from films.guide_checks import timeline_errors
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

BATCH_SIZE = 5000  # objects read, checked and written together from JSON Lines
INSERT_BATCH_SIZE = 1000  # rows per INSERT statement
CACHE_SIZE = 2000  # rows per referenced model kept between batches
ERRORS_SHOWN = 20
IN_LIST_SIZE = 2000  # values per "IN (…)"; SQLite allows only so many parameters
# The deepest a guide goes is a list of objects → "fields" → a list of natural
# keys → a key: 4 levels. Anything much deeper is not a guide (and, deep
# enough, would exhaust Python's stack in the JSON parser).
MAX_DEPTH = 8
# One object on a line of a .jsonl file: the longest shipped object is a few
# kilobytes. A line is read whole, so a limit keeps memory bounded.
MAX_LINE_BYTES = 1024 * 1024

CREATED, UPDATED, UNCHANGED, REPEATED = "created", "updated", "unchanged", "repeated"

FILE_FORMAT = (
    'a guide file holds a JSON list of objects such as {"model": "films.film", '
    '"fields": {…}} (or, in a .jsonl file, one such object per line)'
)


# --- Errors --------------------------------------------------------------------


class GuideError(Exception):
    """One problem in the input: where it is, what it concerns, what was expected."""

    def __init__(
        self, message, *, source=None, position=None, model=None, key=None, field=None
    ):
        super().__init__(message)
        self.message = message
        self.source = source
        self.position = position
        self.model = model
        self.key = key
        self.field = field

    def __str__(self):
        """``file, position: model key, field "name": message``, as far as known."""
        where = ", ".join(part for part in (self.source, self.position) if part)
        what = []
        if self.model:
            what.append(
                self.model if self.key is None else f"{self.model} {show_key(self.key)}"
            )
        if self.field:
            what.append(f'field "{self.field}"')
        return ": ".join(
            part for part in (where, ", ".join(what), self.message) if part
        )


class LoadFailed(Exception):
    """The input has problems; nothing was written."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors

    def report(self):
        count = len(self.errors)
        lines = [
            f"Nothing was loaded: {count} problem{'s' if count != 1 else ''} "
            "in the input."
        ]
        lines += [f"  {error}" for error in self.errors[:ERRORS_SHOWN]]
        if count > ERRORS_SHOWN:
            lines.append(f"  … and {count - ERRORS_SHOWN} more.")
        return "\n".join(lines)


class _Bad(Exception):
    """A value that cannot be used; the message says what was expected."""


def show_key(key):
    return json.dumps(list(key), ensure_ascii=False)


def show_value(raw, limit=60):
    text = json.dumps(raw, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- Reading -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Record:
    """One object as read from a file, with where it was found."""

    source: str
    index: int  # the object's number in a .json file, its line in a .jsonl file
    position: str
    model: str
    fields: dict


_WHITESPACE = re.compile(r"[ \t\n\r]*")


def read_json(path, source=None):
    """Every object of a ``.json`` guide file, each with its number and line."""
    source = source or str(path)
    text = _read_text(path, source)
    if not text.strip():
        raise GuideError(f"the file is empty; {FILE_FORMAT}", source=source)
    pos = _WHITESPACE.match(text).end()
    if text[pos] != "[":
        try:
            value = _DECODER.decode(text)
        except json.JSONDecodeError as error:
            raise _json_error(error, source) from None
        except (RecursionError, ValueError) as error:
            raise _unreadable(error, text, 0, source) from None
        raise GuideError(
            f"this is not a guide file: it holds {_kind(value)}; {FILE_FORMAT}",
            source=source,
        )
    # Read the list one element at a time so each object's line is known.
    decoder = _DECODER
    records = []
    line, counted = 1, 0
    pos = _WHITESPACE.match(text, pos + 1).end()
    if text.startswith("]", pos):
        end = pos + 1
    else:
        while True:
            try:
                value, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as error:
                raise _json_error(error, source) from None
            except (RecursionError, ValueError) as error:
                raise _unreadable(error, text, pos, source) from None
            line += text.count("\n", counted, pos)
            counted = pos
            number = len(records) + 1
            records.append(
                _record(value, source, number, f"object {number} (line {line})")
            )
            pos = _WHITESPACE.match(text, end).end()
            if text.startswith(",", pos):
                pos = _WHITESPACE.match(text, pos + 1).end()
            elif text.startswith("]", pos):
                end = pos + 1
                break
            else:
                error = json.JSONDecodeError("Expecting ',' delimiter", text, pos)
                raise _json_error(error, source)
    rest = _WHITESPACE.match(text, end).end()
    if rest != len(text):
        raise _json_error(json.JSONDecodeError("Extra data", text, rest), source)
    return records


class JsonLines:
    """The objects of a ``.jsonl`` guide file, read one line at a time."""

    def __init__(self, path, source=None):
        self.path = path
        self.source = source or str(path)
        try:
            self.size = os.path.getsize(path)
        except OSError as error:
            raise GuideError(
                f"cannot be read: {error.strerror}", source=self.source
            ) from None
        _check_size(self.size, self.source)
        self.bytes_read = 0

    def __iter__(self):
        found = False
        with open(self.path, "rb") as lines:
            for number, raw in enumerate(
                iter(lambda: lines.readline(MAX_LINE_BYTES + 1), b""), 1
            ):
                if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                    raise GuideError(
                        f"the line is longer than {MAX_LINE_BYTES // 1024} KB; a "
                        "line holds one object, and no guide object is that long",
                        source=self.source,
                        position=f"line {number}",
                    )
                self.bytes_read += len(raw)
                if number == 1:
                    raw = raw.removeprefix(b"\xef\xbb\xbf")
                if not raw.strip():
                    continue
                try:
                    text = raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as error:
                    raise GuideError(
                        f"not UTF-8 text: byte 0x{raw[error.start]:02x} cannot be "
                        "read; save the file as UTF-8",
                        source=self.source,
                        position=f"line {number}, column {error.start + 1}",
                    ) from None
                try:
                    value = _DECODER.decode(text)
                except json.JSONDecodeError as error:
                    raise GuideError(
                        f"not valid JSON: {error.msg}",
                        source=self.source,
                        position=f"line {number}, column {error.colno}",
                    ) from None
                except (RecursionError, ValueError) as error:
                    raise _unreadable(
                        error, text, 0, self.source, line=number
                    ) from None
                found = True
                yield _record(value, self.source, number, f"line {number}", lines=True)
        if not found:
            raise GuideError(f"the file is empty; {FILE_FORMAT}", source=self.source)


def _check_size(size, source):
    limit = settings.GUIDE_FILE_MAX_BYTES
    if size > limit:
        raise GuideError(
            f"the file is {size / 2**20:.1f} MB, over the limit of "
            f"{limit / 2**20:g} MB for a guide file (GUIDE_FILE_MAX_MB); split it "
            "into several files or raise the limit",
            source=source,
        )


def _read_text(path, source):
    try:
        _check_size(path.stat().st_size, source)
        data = path.read_bytes()
    except OSError as error:
        raise GuideError(f"cannot be read: {error.strerror}", source=source) from None
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - data.rfind(b"\n", 0, error.start)
        raise GuideError(
            f"not UTF-8 text: byte 0x{data[error.start]:02x} cannot be read; save "
            "the file as UTF-8",
            source=source,
            position=f"line {line}, column {column}",
        ) from None


def _reject_constant(name):
    raise _NotJSON(
        f"{name} is not a number JSON allows; give a number, or null where the "
        "field may be empty"
    )


class _NotJSON(ValueError):
    """What Python's JSON parser would accept but JSON does not (NaN, Infinity)."""


# Strict: NaN, Infinity and -Infinity are refused as they are read.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)

_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]|-?Infinity|NaN|-?\d{100,}')


def _unreadable(error, text, start, source, *, line=None):
    """The error for a value the parser refused past JSON's grammar: nesting too
    deep for it, a constant JSON lacks, a number with thousands of digits —
    with the line and column of the first offending token from ``start``."""
    depth, where = 0, None
    for token in _JSON_TOKEN.finditer(text, start):
        kind = token.group()
        if kind in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                message = _too_deep()
                where = token.start()
                break
        elif kind in "]}":
            depth -= 1
        elif kind[0] != '"':
            if isinstance(error, RecursionError):
                continue
            where = token.start()
            message = (
                str(error)
                if isinstance(error, _NotJSON)
                else f"a number with {len(kind.lstrip('-'))} digits; no field "
                "holds one that long"
            )
            break
    if where is None:
        message = (
            _too_deep()
            if isinstance(error, RecursionError)
            else f"cannot be read: {error}"
        )
        return GuideError(
            message, source=source, position=f"line {line}" if line else None
        )
    if line is None:  # a whole file; else one line of a .jsonl file
        line = text.count("\n", 0, where) + 1
    column = where - text.rfind("\n", 0, where)
    return GuideError(message, source=source, position=f"line {line}, column {column}")


def _too_deep():
    return (
        f"lists and objects are nested more than {MAX_DEPTH} deep; a guide object "
        'goes 4 deep at most ({"fields": {"genres": [["drama"]]}})'
    )


# Text a database cannot store: NUL (PostgreSQL refuses it in text) and lone
# UTF-16 surrogates (JSON's "\ud800" escapes, which are not characters).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _value_problem(value, depth=1):
    """What is wrong with a value read from JSON, whatever field it is for:
    ``(path, message)`` or None. The depth counts from the object itself."""
    if isinstance(value, str):
        found = _UNSTORABLE.search(value)
        if found is None:
            return None
        char = found.group()
        what = (
            "a NUL character (\\u0000)"
            if char == "\x00"
            else f"a lone surrogate (\\u{ord(char):04x}), which is not a character"
        )
        return (), f"text holds {what} at position {found.start() + 1}; remove it"
    if isinstance(value, float) and not math.isfinite(value):
        return (), "a number too large for any field (JSON has no NaN or Infinity)"
    if isinstance(value, (dict, list)):
        if depth > MAX_DEPTH:
            return (), _too_deep()
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str) and _UNSTORABLE.search(key):
                return (), "a name holds a NUL character or a lone surrogate"
            problem = _value_problem(item, depth + 1)
            if problem is not None:
                return (key, *problem[0]), problem[1]
    return None


def _json_error(error, source):
    message = f"not valid JSON: {error.msg}"
    if error.msg == "Extra data":
        message += (
            " (a .json file holds one list; put one object per line in a .jsonl file)"
        )
    return GuideError(
        message, source=source, position=f"line {error.lineno}, column {error.colno}"
    )


def _kind(value):
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "a number"


def _record(value, source, index, position, *, lines=False):
    def bad(message):
        return GuideError(message, source=source, position=position)

    expected = 'an object {"model": …, "fields": {…}}'
    problem = _value_problem(value)
    if problem is not None:
        path, message = problem
        if len(path) >= 2 and path[0] == "fields":
            model = value.get("model") if isinstance(value, dict) else None
            raise GuideError(
                message,
                source=source,
                position=position,
                model=model if isinstance(model, str) else None,
                field=str(path[1]),
            )
        raise bad(message)
    if not isinstance(value, dict):
        hint = " (a list of objects belongs in a .json file)" if lines else ""
        raise bad(f"expected {expected}, found {_kind(value)}{hint}")
    if "pk" in value:
        raise bad(
            'has a "pk": guide objects are matched by their natural key (slugs), '
            'never by id; remove "pk"'
        )
    if "model" not in value or "fields" not in value or len(value) != 2:
        found = ", ".join(f'"{key}"' for key in value) or "nothing"
        raise bad(f"expected {expected}, found {found}")
    if not isinstance(value["model"], str):
        raise bad(
            f'expected "model" to be a name such as "films.film", found '
            f"{show_value(value['model'])}"
        )
    if not isinstance(value["fields"], dict):
        raise bad(f'expected "fields" to be an object, found {_kind(value["fields"])}')
    return Record(source, index, position, value["model"], value["fields"])


# --- What the models look like to the loader -----------------------------------


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


# --- Check constraints without a query each -----------------------------------

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


# --- Loading -------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class Staged:
    """An object on its way in: built from its record, matched, checked."""

    record: Record
    obj: models.Model
    key: tuple | None = None
    m2m: dict = field(default_factory=dict)
    broken: set = field(default_factory=set)  # fields that could not be read
    existing: models.Model | None = None
    state: str | None = None
    changed: list = field(default_factory=list)
    m2m_changed: list = field(default_factory=list)


class Loader:
    """Loads guide files inside the caller's transaction, or raises ``LoadFailed``.

    ``.json`` files are read whole and checked together, as one batch, before
    anything is written. ``.jsonl`` files follow, streamed in batches of
    ``batch_size`` objects: each batch is checked, then written, so that later
    batches can refer to its rows; a problem anywhere raises, and the caller's
    transaction takes back what earlier batches wrote. Within a batch objects
    may come in any order; across batches, an object must follow those it
    refers to (as exports and generated catalogues do).

    Memory stays flat however long the file: a batch at a time, and a bounded
    cache of the rows that others refer to (films, characters, people…).
    """

    def __init__(
        self,
        *,
        using=DEFAULT_DB_ALIAS,
        batch_size=BATCH_SIZE,
        on_change=None,
        on_progress=None,
    ):
        self.using = using
        self.connection = connections[using]
        self.batch_size = batch_size
        self.on_change = on_change  # (state, model, key) for each row written
        self.on_progress = on_progress  # (JsonLines, objects read) after each batch
        self.counts = {
            model: dict.fromkeys((CREATED, UPDATED, UNCHANGED), 0)
            for model in GUIDE_MODELS
        }
        self.objects_read = 0
        self._cache = {model: {} for model in GUIDE_MODELS}
        self._next_id = {}
        self._first_new_id = {}
        self._seen = {model: set() for model in GUIDE_MODELS}
        self._sources = {}
        self._pending = None
        self._problems = None
        self._position_top = defaultdict(int)
        self._made = set()  # films this load created: they keep the file's times

    # -- the whole input

    def load(self, paths):
        """Load these files (``pathlib.Path``, shown as given)."""
        for order, path in enumerate(paths):
            self._sources[str(path)] = order
        json_paths = [p for p in paths if p.suffix == ".json"]
        errors, records = [], []
        for path in json_paths:
            try:
                records.extend(read_json(path, str(path)))
            except GuideError as error:
                errors.append(error)
        if errors:
            raise LoadFailed(errors)
        if records:
            self._load_batch(records)
        for path in paths:
            if path.suffix != ".jsonl":
                continue
            try:
                lines = JsonLines(path, str(path))
                batch = []
                for record in lines:
                    batch.append(record)
                    if len(batch) == self.batch_size:
                        self._load_batch(batch)
                        batch = []
                        if self.on_progress:
                            self.on_progress(lines, self.objects_read)
                if batch:
                    self._load_batch(batch)
                if self.on_progress:
                    self.on_progress(lines, self.objects_read)
            except GuideError as error:
                raise LoadFailed([error]) from None

    # -- one batch

    def _load_batch(self, records):
        self.objects_read += len(records)
        self._problems = []
        self._pending = {model: {} for model in GUIDE_MODELS}
        groups = defaultdict(list)
        for record in records:
            model = MODELS_BY_LABEL.get(record.model.lower())
            if model is None:
                labels = ", ".join(MODELS_BY_LABEL)
                self._problem(
                    record,
                    None,
                    f'unknown model "{record.model}"; a guide file holds only {labels}',
                )
            else:
                groups[model].append(record)
        staged = {}
        for model in GUIDE_MODELS:
            if groups[model]:
                staged[model] = self._stage(model, groups[model])
        self._check_timelines(staged)
        if self._problems:
            raise LoadFailed(self._errors())
        try:
            self._write(staged)
        except DatabaseError as error:
            # Everything was checked; what the database still refuses is most
            # likely a row another session wrote meanwhile (a second load).
            first, last = records[0], records[-1]
            raise LoadFailed(
                [
                    GuideError(
                        f"the database refused the objects from {first.position} to "
                        f"{last.position}: {' '.join(str(error).split())} (was "
                        "another load running at the same time?)",
                        source=first.source,
                    )
                ]
            ) from error
        self._bump(staged)
        self._finish(staged)
        self._pending = None
        # With DEBUG on, Django keeps every query; a catalogue would pile them up.
        reset_queries()

    def _stage(self, model, records):
        """Build, match and check one model's objects of the batch."""
        fields = _fields(model)
        # References, resolved in bulk: a query per related model and batch.
        wanted = defaultdict(set)
        for record in records:
            for name, raw in record.fields.items():
                field_ = fields.get(name)
                if field_ is None or not field_.is_relation or raw is None:
                    continue
                related = field_.related_model
                for item in (
                    raw if field_.many_to_many and isinstance(raw, list) else [raw]
                ):
                    key = _key_from(related, item)
                    if key is not None:
                        wanted[related].add(key)
        found = {
            related: self._resolve(related, keys) for related, keys in wanted.items()
        }
        staged = [self._build(model, record, fields, found) for record in records]
        self._match(model, staged)
        for item in staged:
            if item.state is not REPEATED:
                self._validate(item)
        return staged

    def _build(self, model, record, fields, found):
        item = Staged(record, model())
        obj = item.obj
        for name, raw in record.fields.items():
            field_ = fields.get(name)
            if field_ is None:
                names = ", ".join(fields)
                self._problem(item, name, f"unknown field; {_label(model)} has {names}")
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
                self._problem(item, name, str(bad))
        obj.render_text()
        for field_ in _required(model):
            if field_.name not in record.fields:
                item.broken.add(field_.name)
                self._problem(
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

    def _match(self, model, staged):
        """Natural keys; repeats; the rows these objects name; ids for new ones."""
        key_names = set(KEY_FIELDS[model])
        for item in staged:
            if key_names & item.broken:
                continue
            try:
                item.key = item.obj.natural_key()
            except (AttributeError, ObjectDoesNotExist):
                continue
        named = [item for item in staged if item.key is not None]
        rows = self._rows_for(model, [item.obj for item in named])
        current = self._current_m2m(model, list(rows.values()))
        new = []
        pending = self._pending[model]
        for item in named:
            twin = pending.get(item.key)
            if twin is not None:
                item.state = REPEATED
                differences = _differences(twin, item)
                if differences:
                    self._problem(
                        item,
                        None,
                        f"is given twice, differently ({', '.join(differences)}): "
                        f"also at {twin.record.source}, {twin.record.position}",
                    )
                continue
            pending[item.key] = item
            row = rows.get(_key_values(item.obj))
            if row is None:
                item.state = CREATED
                new.append(item)
                continue
            item.obj.pk = row.pk
            item.existing = row
            self._diff(item, row, current)
            earlier = row.pk >= self._first_new_id.get(model, math.inf) or (
                row.pk in self._seen[model]
            )
            if earlier:
                # Written by an earlier batch of this same load.
                if item.state is UPDATED:
                    changed = item.changed + item.m2m_changed
                    self._problem(
                        item,
                        None,
                        "is given twice, differently "
                        f"({', '.join(changed)}): it came earlier in the input",
                    )
                item.state = REPEATED
        for item, pk in zip(new, self._reserve_ids(model, len(new)), strict=True):
            item.obj.pk = pk

    def _diff(self, item, row, current):
        obj, given = item.obj, item.record.fields
        for field_ in _auto_times(type(obj)):
            if field_.name not in given:
                setattr(obj, field_.attname, getattr(row, field_.attname))
        item.changed = [
            f.name
            for f in _compared(type(obj))
            if getattr(obj, f.attname) != getattr(row, f.attname)
        ]
        item.m2m_changed = [
            name
            for name, targets in item.m2m.items()
            if {t.pk for t in targets} != current[name].get(row.pk, set())
        ]
        if item.changed or item.m2m_changed:
            item.state = UPDATED
            now = timezone.now()
            for field_ in _auto_times(type(obj)):
                if field_.auto_now and field_.name not in given:
                    setattr(obj, field_.attname, now)
                    item.changed.append(field_.name)
        else:
            item.state = UNCHANGED

    def _validate(self, item):
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
            failed |= self._problems_from(item, error)
        for constraint, reads, at_fault in _check_constraints(model):
            if reads & failed:
                continue
            if not self._constraint_holds(constraint, obj):
                self._problem(item, at_fault, constraint.get_violation_error_message())
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
                    self._problems_from(item, error)

    def _constraint_holds(self, constraint, obj):
        try:
            return check_holds(constraint.condition, obj) is not False
        except _Unsupported:
            try:
                constraint.validate(type(obj), obj, using=self.using)
            except ValidationError:
                return False
            return True

    def _check_timelines(self, staged):
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
        # The highest position each film uses, for _park() in this batch.
        top = self._position_top = defaultdict(int)
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
                    self._problem(item, field_name, message)
                else:
                    self._problems.append(
                        GuideError(
                            f"{message} (a scene already in the database)",
                            model=_label(Scene),
                            key=(film.slug, scene.slug),
                            field=field_name,
                        )
                    )

    # -- writing

    def _write(self, staged):
        for model in GUIDE_MODELS:
            items = staged.get(model)
            if not items:
                continue
            manager = model._base_manager.using(self.using)
            created = [item for item in items if item.state is CREATED]
            updated = [item for item in items if item.state is UPDATED]
            self._park(model, updated)
            if created:
                now = timezone.now()
                for item in created:
                    # A file's timestamps are kept, as loaddata keeps them, so
                    # that loading it again changes nothing; missing ones are now.
                    for field_ in _auto_times(model):
                        if getattr(item.obj, field_.attname) is None:
                            setattr(item.obj, field_.attname, now)
                self._insert(
                    model._meta.db_table,
                    model._meta.concrete_fields,
                    [item.obj for item in created],
                )
            names = sorted({name for item in updated for name in item.changed})
            if names:
                manager.bulk_update(
                    [item.obj for item in updated if item.changed],
                    names,
                    batch_size=INSERT_BATCH_SIZE,
                )
            for field_ in model._meta.local_many_to_many:
                self._write_m2m(field_, created + updated)

    def _park(self, model, updated):
        """Move updated rows off positions they leave, so swaps cannot collide."""
        names = PARKED_FIELDS.get(model)
        moving = [
            item
            for item in updated
            if any(
                getattr(item.obj, n) != getattr(item.existing, n) for n in names or ()
            )
        ]
        if not moving:
            return
        final = [
            (item.obj, {n: getattr(item.obj, n) for n in names}) for item in moving
        ]
        for item in moving:
            for name in names:
                slot = (item.obj.film_id, name)
                self._position_top[slot] += 1
                setattr(item.obj, name, self._position_top[slot])
        model._base_manager.using(self.using).bulk_update(
            [item.obj for item in moving], names, batch_size=INSERT_BATCH_SIZE
        )
        for obj, values in final:
            for name, value in values.items():
                setattr(obj, name, value)

    def _write_m2m(self, field_, items):
        through = field_.remote_field.through
        source = through._meta.get_field(field_.m2m_field_name())
        target = through._meta.get_field(field_.m2m_reverse_field_name())
        stale = [
            item.obj.pk
            for item in items
            if item.state is UPDATED and field_.name in item.m2m_changed
        ]
        for chunk in batched(stale, IN_LIST_SIZE):
            through._base_manager.using(self.using).filter(
                **{f"{source.attname}__in": chunk}
            ).delete()
        pairs = [
            (item.obj.pk, related.pk)
            for item in items
            if field_.name in item.m2m
            and (item.state is CREATED or field_.name in item.m2m_changed)
            for related in item.m2m[field_.name]
        ]
        if pairs:
            self._insert(through._meta.db_table, [source, target], pairs)

    def _insert(self, table, fields, rows):
        """Insert rows, objects or tuples of values, with ids already set.

        Plain rows need none of bulk_create()'s work (ids returned, pre_save
        hooks, SQL compiled per row), so they go straight to the database:
        by COPY into PostgreSQL, by executemany() into SQLite.
        """
        connection = self.connection
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields)
        prepare = [f.get_db_prep_save for f in fields]
        if rows and isinstance(rows[0], tuple):
            values = (
                [p(v, connection) for p, v in zip(prepare, row, strict=True)]
                for row in rows
            )
        else:
            attnames = [f.attname for f in fields]
            values = (
                [
                    p(getattr(obj, a), connection)
                    for p, a in zip(prepare, attnames, strict=True)
                ]
                for obj in rows
            )
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                sql = f"COPY {quote(table)} ({columns}) FROM STDIN"
                with cursor.cursor.copy(sql) as copy:
                    for row in values:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(fields))
                sql = f"INSERT INTO {quote(table)} ({columns}) VALUES ({marks})"  # noqa: S608
                cursor.executemany(sql, list(values))

    def _bump(self, staged):
        """A new version for every guide the batch changed (bulk writes send
        no signals). Films made by this load keep the file's "updated" time."""
        touched, made, linked = set(), set(), set()
        for model, items in staged.items():
            for item in items:
                if item.state not in (CREATED, UPDATED):
                    continue
                obj = item.obj
                if model is Film:
                    (made if item.state is CREATED else touched).add(obj.pk)
                    # Guides recommending it link it only while it is published.
                    linked.update(recommending([obj.slug], self.using))
                elif model is CharacterBeat:
                    touched.add(obj.character.film_id)
                elif hasattr(obj, "film_id"):
                    touched.add(obj.film_id)
                elif item.state is UPDATED:  # a person, theme, genre… renamed
                    touched.update(films_of(obj, self.using))
        self._made |= made
        if touched - self._made:
            bump_films(touched - self._made, touch=True, using=self.using)
        quiet = (touched & self._made) | made | (linked - touched)
        if quiet:
            bump_films(quiet, using=self.using)

    def _finish(self, staged):
        for model, items in staged.items():
            counts, seen = self.counts[model], self._seen[model]
            first_new = self._first_new_id.get(model, math.inf)
            written = []
            for item in items:
                if item.state is REPEATED:
                    continue
                counts[item.state] += 1
                if item.obj.pk < first_new:
                    seen.add(item.obj.pk)
                written.append(item)
                if self.on_change and item.state is not UNCHANGED:
                    self.on_change(item.state, model, item.key)
            if model in REFERENCED:
                self._remember(model, {item.key: item.obj for item in written})

    # -- natural keys to rows

    def _resolve(self, model, keys):
        """Objects for natural keys: this batch's, then cached, then stored ones."""
        found, missing = {}, []
        pending, cached = self._pending[model], self._cache[model]
        for key in keys:
            item = pending.get(key)
            obj = item.obj if item is not None else cached.get(key)
            if obj is None:
                missing.append(key)
            else:
                found[key] = obj
        if missing:
            found.update(self._fetch(model, missing))
        return found

    def _fetch(self, model, keys):
        names = KEY_FIELDS[model]
        parts = {key: _split_key(model, key) for key in keys}
        for index, name in enumerate(names):
            field_ = model._meta.get_field(name)
            if not field_.is_relation:
                continue
            targets = self._resolve(
                field_.related_model, {p[index] for p in parts.values()}
            )
            for key in list(parts):
                target = targets.get(parts[key][index])
                if target is None:
                    del parts[key]  # its parent does not exist, so neither does it
                else:
                    parts[key][index] = target
        if not parts:
            return {}
        relations = [model._meta.get_field(name).is_relation for name in names]
        by_values = {
            tuple(
                p.pk if is_relation else p
                for p, is_relation in zip(values, relations, strict=True)
            ): key
            for key, values in parts.items()
        }
        found = {}
        for row in self._query_by_values(model, list(by_values)):
            key = by_values.get(_key_values(row))
            if key is None:
                continue
            for name, part, is_relation in zip(
                names, parts[key], relations, strict=True
            ):
                if is_relation:
                    setattr(row, name, part)  # so natural_key() and str() need no query
            found[key] = row
        self._remember(model, found)
        return found

    def _rows_for(self, model, objs):
        """The stored rows these objects name, by their key values."""
        values = {_key_values(obj) for obj in objs}
        if not values:
            return {}
        return {_key_values(row): row for row in self._query_by_values(model, values)}

    def _query_by_values(self, model, values):
        """Rows whose key columns hold one of these tuples of values.

        A filter per column (``film_id IN (…) AND slug IN (…)``) can match
        more than was asked for; the extra rows are dropped here.
        """
        attnames = _key_attnames(model)
        found = []
        for chunk in batched(sorted(values, key=repr), IN_LIST_SIZE):
            filters = {
                f"{attname}__in": {value[index] for value in chunk}
                for index, attname in enumerate(attnames)
            }
            wanted = set(chunk)
            rows = model._base_manager.using(self.using).filter(**filters).order_by()
            found.extend(row for row in rows if _key_values(row) in wanted)
        return found

    def _current_m2m(self, model, rows):
        current = {}
        pks = [row.pk for row in rows]
        for field_ in model._meta.local_many_to_many:
            sets = defaultdict(set)
            if pks:
                through = field_.remote_field.through
                source = through._meta.get_field(field_.m2m_field_name()).attname
                target = through._meta.get_field(
                    field_.m2m_reverse_field_name()
                ).attname
                for chunk in batched(pks, IN_LIST_SIZE):
                    pairs = (
                        through._base_manager.using(self.using)
                        .filter(**{f"{source}__in": chunk})
                        .values_list(source, target)
                    )
                    for owner, related in pairs:
                        sets[owner].add(related)
            current[field_.name] = sets
        return current

    def _remember(self, model, objs):
        cached = self._cache[model]
        if len(cached) + len(objs) > CACHE_SIZE:
            cached.clear()
        cached.update(objs)

    def _reserve_ids(self, model, count):
        """Ids for new rows, taken before anything is written.

        With real ids in hand, a batch's new films, characters and scenes can
        refer to one another while they are checked (a scene's characters must
        share its film), and each table is written with plain INSERTs.
        PostgreSQL hands them out from the table's sequence. SQLite has one
        writer at a time, and this transaction is it, so the ids above the
        highest ever used are free.
        """
        if not count:
            return []
        table, column = model._meta.db_table, model._meta.pk.column
        vendor = self.connection.vendor
        quote = self.connection.ops.quote_name
        with self.connection.cursor() as cursor:
            if vendor == "postgresql":
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                    "FROM generate_series(1, %s)",
                    [quote(table), column, count],
                )
                ids = sorted(row[0] for row in cursor.fetchall())
            elif vendor == "sqlite":
                start = self._next_id.get(model)
                if start is None:
                    cursor.execute(f"SELECT max({quote(column)}) FROM {quote(table)}")  # noqa: S608
                    highest = cursor.fetchone()[0] or 0
                    cursor.execute(
                        "SELECT seq FROM sqlite_sequence WHERE name = %s", [table]
                    )
                    row = cursor.fetchone()
                    start = max(highest, row[0] if row else 0) + 1
                ids = list(range(start, start + count))
                self._next_id[model] = start + count
            else:
                raise LoadFailed(
                    [
                        GuideError(
                            f"loading guides needs SQLite or PostgreSQL, not {vendor}"
                        )
                    ]
                )
        self._first_new_id.setdefault(model, ids[0])
        return ids

    # -- problems

    def _problem(self, item, field_name, message):
        self._problems.append((item, field_name, message))

    def _problems_from(self, item, error):
        fields = set()
        for name, messages in getattr(
            error, "error_dict", {NON_FIELD_ERRORS: error}
        ).items():
            name = None if name == NON_FIELD_ERRORS else name
            fields.add(name)
            for message in ValidationError(messages).messages:
                self._problem(item, name, message)
        return fields

    def _errors(self):
        errors, seen = [], set()
        for problem in self._problems:
            if isinstance(problem, GuideError):
                errors.append(((math.inf, 0), problem))
                continue
            item, field_name, message = problem
            record = item.record if isinstance(item, Staged) else item
            if (id(record), field_name, message) in seen:
                continue
            seen.add((id(record), field_name, message))
            model = MODELS_BY_LABEL.get(record.model.lower())
            key = None
            if isinstance(item, Staged):
                key = item.key or _key_as_given(model, record.fields)
            error = GuideError(
                message,
                source=record.source,
                position=record.position,
                model=_label(model) if model else None,
                key=key,
                field=field_name,
            )
            errors.append(((self._sources.get(record.source, 0), record.index), error))
        errors.sort(key=lambda pair: pair[0])
        return [error for _, error in errors]


def _differences(first, second):
    """Fields two objects with the same natural key give differently."""
    given = first.record.fields.keys() | second.record.fields.keys()
    names = [
        f.name
        for f in _concrete(type(first.obj))
        if f.name in given
        and getattr(first.obj, f.attname) != getattr(second.obj, f.attname)
    ]
    for name in first.m2m.keys() | second.m2m.keys():
        if {o.pk for o in first.m2m.get(name, ())} != {
            o.pk for o in second.m2m.get(name, ())
        }:
            names.append(name)
    return names


# --- Pruning -------------------------------------------------------------------

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


# --- Writing -------------------------------------------------------------------


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
