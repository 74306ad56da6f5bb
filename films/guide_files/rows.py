"""Natural keys to rows: what a load's objects refer to and what they name.

:class:`Rows` finds the rows for natural keys many at a time — this batch's
objects first, then a bounded cache, then the database, a query per model and
batch rather than one per key — and hands out ids for new rows before
anything is written, so a batch's new rows can refer to one another. It
remembers which rows this load wrote, so an object given twice across batches
is caught.
"""

import math
from collections import defaultdict
from itertools import batched

from django.db import connections

from films.guide_files.report import GuideError, LoadFailed
from films.guide_files.schema import (
    GUIDE_MODELS,
    IN_LIST_SIZE,
    KEY_FIELDS,
    REFERENCED,
    _key_attnames,
    _key_values,
    _split_key,
)

CACHE_SIZE = 2000  # rows per referenced model kept between batches


class Rows:
    """The rows one load reads and the ids it hands out, on one database."""

    def __init__(self, using):
        self.using = using
        self.connection = connections[using]
        self.pending = None  # this batch's objects, by model and natural key
        self._cache = {model: {} for model in GUIDE_MODELS}
        self._next_id = {}
        self._first_new_id = {}
        self._seen = {model: set() for model in GUIDE_MODELS}

    def start_batch(self):
        self.pending = {model: {} for model in GUIDE_MODELS}

    def end_batch(self):
        self.pending = None

    def written_earlier(self, model, pk):
        """Whether an earlier batch of this load wrote the row with this id."""
        return pk >= self._first_new_id.get(model, math.inf) or pk in self._seen[model]

    def written(self, model, objs):
        """Note the rows a batch wrote (``{natural key: object}``)."""
        first_new = self._first_new_id.get(model, math.inf)
        self._seen[model].update(obj.pk for obj in objs.values() if obj.pk < first_new)
        if model in REFERENCED:
            self.remember(model, objs)

    def resolve(self, model, keys):
        """Objects for natural keys: this batch's, then cached, then stored ones."""
        found, missing = {}, []
        pending, cached = self.pending[model], self._cache[model]
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
            targets = self.resolve(
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
        self.remember(model, found)
        return found

    def rows_for(self, model, objs):
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

    def current_m2m(self, model, rows):
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

    def remember(self, model, objs):
        cached = self._cache[model]
        if len(cached) + len(objs) > CACHE_SIZE:
            cached.clear()
        cached.update(objs)

    def reserve_ids(self, model, count):
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
