"""The report: how a problem in the input is told, and a load that failed.

A :class:`GuideError` names one problem as a person can act on it: the file,
the line or object, the model, the natural key, the field and what was
expected. :class:`Problems` gathers a batch's problems while it is checked and
turns them into errors in input order; :class:`LoadFailed` carries them out of
the load, and its ``report()`` is what ``load_guides`` prints.
"""

import json
import math

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from films.guide_files.schema import MODELS_BY_LABEL, _key_as_given, _label

ERRORS_SHOWN = 20


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


class Problems:
    """The problems found in one batch, each tied to its object where it has one."""

    def __init__(self, sources):
        self.sources = sources  # each file's place among those given, for sorting
        self.found = []

    def __bool__(self):
        return bool(self.found)

    def clear(self):
        self.found = []

    def add(self, item, field_name, message):
        """A problem of ``item``: a staged object, or a record that made none."""
        self.found.append((item, field_name, message))

    def add_error(self, error):
        """A problem with no object of the batch to show it on (a stored row)."""
        self.found.append(error)

    def add_from(self, item, error):
        """Each message of a ``ValidationError``; returns the fields it names."""
        fields = set()
        for name, messages in getattr(
            error, "error_dict", {NON_FIELD_ERRORS: error}
        ).items():
            name = None if name == NON_FIELD_ERRORS else name
            fields.add(name)
            for message in ValidationError(messages).messages:
                self.add(item, name, message)
        return fields

    def errors(self):
        """The problems as ``GuideError``s, in input order, each told once."""
        errors, seen = [], set()
        for problem in self.found:
            if isinstance(problem, GuideError):
                errors.append(((math.inf, 0), problem))
                continue
            item, field_name, message = problem
            record = getattr(item, "record", item)  # a staged object, or a record
            if (id(record), field_name, message) in seen:
                continue
            seen.add((id(record), field_name, message))
            model = MODELS_BY_LABEL.get(record.model.lower())
            key = None
            if record is not item:
                key = item.key or _key_as_given(model, record.fields)
            error = GuideError(
                message,
                source=record.source,
                position=record.position,
                model=_label(model) if model else None,
                key=key,
                field=field_name,
            )
            errors.append(((self.sources.get(record.source, 0), record.index), error))
        errors.sort(key=lambda pair: pair[0])
        return [error for _, error in errors]
