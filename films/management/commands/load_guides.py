"""Load guides from fixture files: validated, all or nothing, idempotent.

    manage.py load_guides                          # every guide in fixtures/
    manage.py load_guides fixtures/stalker-1979.json
    manage.py load_guides catalogue.jsonl          # streamed in batches
    manage.py load_guides --dry-run fixtures/      # check, report, write nothing

The files are Django fixtures with natural keys, the format ``loaddata`` reads
and ``export_guides`` writes. Unlike ``loaddata``, every object is checked as
the admin checks it (``full_clean()``, a scene's characters, each film's
timeline) before it is written, and the whole load is one transaction: on any
problem nothing is written, and the message names the file, the line or
object, the model, the natural key and the field.

Rows are matched by natural key, so loading the same files again changes
nothing, and a changed file updates the rows it names. As with ``loaddata``,
an object gives its whole row: a field it leaves out takes its default, except
``created_at``/``updated_at``, which keep theirs (and a file's own timestamps
are kept as given); a many-to-many field it leaves out is left alone. Rows the
files do not name are never deleted.

``.json`` files are read whole and checked together before anything is
written. ``.jsonl`` files (one object per line; use them for big catalogues)
are streamed in batches: memory stays flat, and an object must come after the
objects it refers to. See ``films/guide_files.py``.
"""

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from films.guide_files import (
    BATCH_SIZE,
    CREATED,
    GUIDE_MODELS,
    UNCHANGED,
    UPDATED,
    Loader,
    LoadFailed,
    show_key,
)
from films.models import Film

SUFFIXES = (".json", ".jsonl")


class Command(BaseCommand):
    help = (
        "Load guides from .json or .jsonl fixture files (default: every file in "
        "fixtures/), checking every object and each film's timeline first. All or "
        "nothing; rows are matched by natural key, so a second load changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "paths",
            nargs="*",
            metavar="PATH",
            help="A .json or .jsonl guide file, or a directory of them "
            "(default: fixtures/).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check everything and report what would change, then roll back.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE,
            help=f"Objects per batch when streaming .jsonl files (default {BATCH_SIZE}).",
        )
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            help="The database to load into (default: default).",
        )

    def handle(self, *, paths, dry_run, batch_size, database, verbosity, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be a positive number of objects.")
        files = self._files(paths)
        if not files:
            if verbosity:
                self.stdout.write(
                    self.style.WARNING("No guide files in fixtures/: nothing to load.")
                )
            return
        if verbosity >= 2:
            for path in files:
                self.stdout.write(f"Reading {path}")
        if Film._meta.db_table not in connections[database].introspection.table_names():
            raise CommandError(
                f"The database “{database}” has no guide tables yet: run "
                "`manage.py migrate` first."
            )
        progress = Progress(self.stderr, enabled=verbosity >= 1)
        loader = Loader(
            using=database,
            batch_size=batch_size,
            on_change=self._show_change if verbosity >= 3 else None,
            on_progress=progress.update,
        )
        started = time.monotonic()
        try:
            with transaction.atomic(using=database):
                loader.load(files)
                if dry_run:
                    transaction.set_rollback(True, using=database)
        except LoadFailed as failure:
            progress.close()
            raise CommandError(failure.report()) from None
        progress.close()
        if verbosity:
            self._report(loader, files, dry_run, time.monotonic() - started, verbosity)

    def _files(self, paths):
        """The guide files to load, in order; directories give their files sorted."""
        if not paths:
            folder = Path(settings.BASE_DIR) / "fixtures"
            shown = _shown(folder)
            if not folder.is_dir():
                return []
            return sorted(
                shown / p.name for p in folder.iterdir() if p.suffix in SUFFIXES
            )
        files = []
        for given in paths:
            path = Path(given)
            if path.is_dir():
                found = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES)
                if not found:
                    raise CommandError(f"{given}: no .json or .jsonl files in it.")
                files.extend(found)
            elif not path.exists():
                raise CommandError(f"{given}: no such file.")
            elif path.suffix not in SUFFIXES:
                raise CommandError(
                    f"{given}: expected a .json or .jsonl guide file, not "
                    f"“{path.suffix or 'no extension'}”."
                )
            else:
                files.append(path)
        return files

    def _show_change(self, state, model, key):
        self.stdout.write(f"  {state} {model._meta.label_lower} {show_key(key)}")

    def _report(self, loader, files, dry_run, seconds, verbosity):
        totals = dict.fromkeys((CREATED, UPDATED, UNCHANGED), 0)
        rows = []
        for model in GUIDE_MODELS:
            counts = loader.counts[model]
            if any(counts.values()):
                rows.append((model._meta.label_lower, counts))
                for state, count in counts.items():
                    totals[state] += count
        if rows:
            width = max(len(label) for label, _ in rows)
            self.stdout.write(
                f"{'':{width}}  {'created':>9}  {'updated':>9}  {'unchanged':>9}"
            )
            for label, counts in rows:
                self.stdout.write(
                    f"{label:{width}}  {counts[CREATED]:>9,}  {counts[UPDATED]:>9,}  "
                    f"{counts[UNCHANGED]:>9,}"
                )
        objects = sum(totals.values())
        where = f"{len(files)} file{'s' if len(files) != 1 else ''}"
        if dry_run:
            message = (
                f"Dry run: {objects:,} objects in {where} are valid; "
                f"{totals[CREATED]:,} would be created, {totals[UPDATED]:,} updated, "
                f"{totals[UNCHANGED]:,} unchanged. Nothing was written."
            )
        elif not totals[CREATED] and not totals[UPDATED]:
            message = (
                f"Nothing to change: all {objects:,} objects in {where} are "
                "already in the database."
            )
        else:
            message = (
                f"Loaded {objects:,} objects from {where}: {totals[CREATED]:,} "
                f"created, {totals[UPDATED]:,} updated, {totals[UNCHANGED]:,} "
                "unchanged."
            )
        if verbosity >= 2 and seconds > 0:
            message += (
                f" ({seconds:.1f} s, {loader.objects_read / seconds:,.0f} objects/s)"
            )
        self.stdout.write(self.style.SUCCESS(message))


def _shown(path):
    """A path as short as it can be shown: relative to here when inside it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


class Progress:
    """A one-line progress bar for .jsonl files, drawn only on a terminal."""

    WIDTH = 30

    def __init__(self, stream, *, enabled):
        self.stream = stream
        self.enabled = enabled and stream.isatty()
        self.started = time.monotonic()
        self.drawn = False

    def update(self, lines, objects):
        if not self.enabled:
            return
        done = lines.bytes_read / lines.size if lines.size else 1
        filled = round(self.WIDTH * done)
        bar = "█" * filled + "·" * (self.WIDTH - filled)
        rate = objects / max(time.monotonic() - self.started, 1e-6)
        self.stream.write(
            f"\r{lines.source}  {bar} {done:4.0%}  {objects:,} objects  {rate:,.0f}/s",
            ending="",
        )
        self.stream.flush()
        self.drawn = True

    def close(self):
        if self.drawn:
            self.stream.write("")
            self.drawn = False
