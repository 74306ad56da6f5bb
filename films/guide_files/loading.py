"""Loading: the :class:`Loader`, which takes guide files into the database.

It reads the files (:mod:`~films.guide_files.reading`), stages each batch of
objects — builds them (:mod:`~films.guide_files.validation`), matches them by
natural key to the rows they name (:mod:`~films.guide_files.rows`), checks
them — and writes a batch only when nothing in it is wrong
(:mod:`~films.guide_files.writing`). Problems are gathered and raised as one
:class:`~films.guide_files.report.LoadFailed`.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import ObjectDoesNotExist
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    connections,
    models,
    reset_queries,
)
from django.utils import timezone

from films.guide_files.reading import JsonLines, Record, read_json
from films.guide_files.report import GuideError, LoadFailed, Problems
from films.guide_files.rows import Rows
from films.guide_files.schema import (
    CREATED,
    GUIDE_MODELS,
    KEY_FIELDS,
    MODELS_BY_LABEL,
    REPEATED,
    UNCHANGED,
    UPDATED,
    _auto_times,
    _compared,
    _concrete,
    _fields,
    _key_from,
    _key_values,
)
from films.guide_files.validation import Checker
from films.guide_files.writing import Writer, insert_rows

BATCH_SIZE = 5000  # objects read, checked and written together from JSON Lines


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
        self._sources = {}
        self.problems = Problems(self._sources)
        self.rows = Rows(using)
        self.checker = Checker(self.problems, using)
        self.writer = Writer(using, insert=self._insert)

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
        self.problems.clear()
        self.rows.start_batch()
        groups = defaultdict(list)
        for record in records:
            model = MODELS_BY_LABEL.get(record.model.lower())
            if model is None:
                labels = ", ".join(MODELS_BY_LABEL)
                self.problems.add(
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
        self.checker.check_timelines(staged)
        if self.problems:
            raise LoadFailed(self.problems.errors())
        try:
            self.writer.write(staged, self.checker.position_top)
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
        self.writer.bump(staged)
        self._finish(staged)
        self.rows.end_batch()
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
            related: self.rows.resolve(related, keys)
            for related, keys in wanted.items()
        }
        staged = []
        for record in records:
            item = Staged(record, model())
            self.checker.build(item, fields, found)
            staged.append(item)
        self._match(model, staged)
        for item in staged:
            if item.state is not REPEATED:
                self.checker.validate(item)
        return staged

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
        rows = self.rows.rows_for(model, [item.obj for item in named])
        current = self.rows.current_m2m(model, list(rows.values()))
        new = []
        pending = self.rows.pending[model]
        for item in named:
            twin = pending.get(item.key)
            if twin is not None:
                item.state = REPEATED
                differences = _differences(twin, item)
                if differences:
                    self.problems.add(
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
            if self.rows.written_earlier(model, row.pk):
                # Written by an earlier batch of this same load.
                if item.state is UPDATED:
                    changed = item.changed + item.m2m_changed
                    self.problems.add(
                        item,
                        None,
                        "is given twice, differently "
                        f"({', '.join(changed)}): it came earlier in the input",
                    )
                item.state = REPEATED
        for item, pk in zip(new, self.rows.reserve_ids(model, len(new)), strict=True):
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

    def _finish(self, staged):
        for model, items in staged.items():
            counts = self.counts[model]
            written = [item for item in items if item.state is not REPEATED]
            for item in written:
                counts[item.state] += 1
                if self.on_change and item.state is not UNCHANGED:
                    self.on_change(item.state, model, item.key)
            self.rows.written(model, {item.key: item.obj for item in written})

    def _insert(self, table, fields, rows):
        """Every INSERT of the load goes through here (tests stand in for a
        second session's write by replacing it)."""
        insert_rows(self.connection, table, fields, rows)


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
