"""Writing a checked batch: bulk inserts and updates, and new guide versions.

:class:`Writer` writes what validation let through, a statement per table
and batch: new rows by ``insert_rows`` (COPY into PostgreSQL, executemany()
into SQLite, with ids already reserved), changed ones by ``bulk_update()``,
many-to-many links replaced where they changed. Bulk writes send no signals,
so it bumps the version of every guide the batch changed itself.
"""

from itertools import batched

from django.utils import timezone

from films.derived import bump_films, films_of, recommending
from films.guide_files.schema import (
    CREATED,
    GUIDE_MODELS,
    IN_LIST_SIZE,
    PARKED_FIELDS,
    UPDATED,
    _auto_times,
)
from films.models import CharacterBeat, Film

INSERT_BATCH_SIZE = 1000  # rows per INSERT statement


class Writer:
    """Writes one load's batches to the database ``using``.

    ``insert(table, fields, rows)`` is how rows are inserted (the loader's
    ``_insert``, which calls :func:`insert_rows`).
    """

    def __init__(self, using, insert):
        self.using = using
        self.insert = insert
        self._made = set()  # films this load created: they keep the file's times

    def write(self, staged, position_top):
        """Write a checked batch: new rows inserted, changed ones updated."""
        for model in GUIDE_MODELS:
            items = staged.get(model)
            if not items:
                continue
            manager = model._base_manager.using(self.using)
            created = [item for item in items if item.state is CREATED]
            updated = [item for item in items if item.state is UPDATED]
            self._park(model, updated, position_top)
            if created:
                now = timezone.now()
                for item in created:
                    # A file's timestamps are kept, as loaddata keeps them, so
                    # that loading it again changes nothing; missing ones are now.
                    for field_ in _auto_times(model):
                        if getattr(item.obj, field_.attname) is None:
                            setattr(item.obj, field_.attname, now)
                self.insert(
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

    def _park(self, model, updated, top):
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
                top[slot] += 1
                setattr(item.obj, name, top[slot])
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
            self.insert(through._meta.db_table, [source, target], pairs)

    def bump(self, staged):
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


def insert_rows(connection, table, fields, rows):
    """Insert rows, objects or tuples of values, with ids already set.

    Plain rows need none of bulk_create()'s work (ids returned, pre_save
    hooks, SQL compiled per row), so they go straight to the database:
    by COPY into PostgreSQL, by executemany() into SQLite.
    """
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
