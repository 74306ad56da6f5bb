"""Reading guide files: JSON and JSON Lines, their limits and encoding.

``read_json`` reads a ``.json`` file whole (one list of objects, each with its
number and line); :class:`JsonLines` streams a ``.jsonl`` file a line at a
time. Both refuse what is not a guide before any object is looked at: files
over ``GUIDE_FILE_MAX_MB``, text that is not UTF-8, JSON's edge cases (NaN,
Infinity, nesting too deep, endless numbers, NUL and lone surrogates) and
objects not shaped ``{"model": …, "fields": {…}}``. What a field holds is
checked later, in :mod:`films.guide_files.validation`.
"""

import json
import math
import os
import re
from dataclasses import dataclass

from django.conf import settings

from films.guide_files.report import GuideError, show_value

# The deepest a guide goes is a list of objects → "fields" → a list of natural
# keys → a key: 4 levels. Anything much deeper is not a guide (and, deep
# enough, would exhaust Python's stack in the JSON parser).
MAX_DEPTH = 8
# One object on a line of a .jsonl file: the longest shipped object is a few
# kilobytes. A line is read whole, so a limit keeps memory bounded.
MAX_LINE_BYTES = 1024 * 1024

FILE_FORMAT = (
    'a guide file holds a JSON list of objects such as {"model": "films.film", '
    '"fields": {…}} (or, in a .jsonl file, one such object per line)'
)


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
