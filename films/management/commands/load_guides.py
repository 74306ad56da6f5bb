"""Load guides from fixture files: validated, all or nothing, idempotent.

    manage.py load_guides                          # every guide in fixtures/
    manage.py load_guides fixtures/stalker-1979.json
    manage.py load_guides catalogue.jsonl          # streamed in batches
    manage.py load_guides --dry-run fixtures/      # check, report, write nothing
    manage.py load_guides --prune fixtures/stalker-1979.json   # and remove what
                                                   # the file no longer has

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
files do not name are never deleted, unless ``--prune`` is given: then the
parts of each guide the files give a film for (characters, beats, scenes, plot
sections, analyses, credits, recommendations) that the files no longer have are
removed first, in the same transaction — never another film's rows, never a
shared row (people, themes, genres, countries, languages). Each guide pruned
gets a revision in its history from just before (revert to it in the admin to
bring the rows back) and one after. ``--prune --dry-run`` lists what would go.

``.json`` files are read whole and checked together before anything is
written. ``.jsonl`` files (one object per line; use them for big catalogues)
are streamed in batches: memory stays flat, and an object must come after the
objects it refers to. See ``films/guide_files/``.
"""

import time
from collections import Counter
from pathlib import Path

import reversion
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
    film_of,
    prune_rows,
    show_key,
    stale_rows,
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
            "--prune",
            action="store_true",
            help="Also remove the parts of each guide the files give a film for "
            "(characters, beats, scenes, plot sections, analyses, credits, "
            "recommendations) that the files no longer have; recorded in each "
            "guide's history, so they can be brought back. With --dry-run, list "
            "them.",
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

    def handle(
        self, *, paths, dry_run, prune, batch_size, database, verbosity, **options
    ):
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
        pruned = {}
        try:
            with transaction.atomic(using=database):
                if prune:
                    pruned = self._prune(files, database, dry_run, verbosity)
                loader.load(files)
                if pruned and not dry_run:
                    self._record(pruned, database, after=True)
                if dry_run:
                    transaction.set_rollback(True, using=database)
        except LoadFailed as failure:
            progress.close()
            raise CommandError(failure.report()) from None
        progress.close()
        if verbosity:
            self._report(loader, files, dry_run, time.monotonic() - started, verbosity)
            if prune:
                self._report_prune(pruned, dry_run)

    # -- pruning

    def _prune(self, files, database, dry_run, verbosity):
        """Remove what the files no longer have; ``{film: [row, …]}`` removed."""
        stale = stale_rows(files, using=database)
        by_film = {}
        for rows in stale.values():
            for row in rows:
                by_film.setdefault(film_of(row), []).append(row)
        if verbosity >= (1 if dry_run else 2):
            verb = "would remove" if dry_run else "removing"
            for rows in by_film.values():
                for row in rows:
                    self.stdout.write(
                        f"  {verb} {row._meta.label_lower} "
                        f"{show_key(row.natural_key())} “{row}”"
                    )
        if by_film:
            self._record(by_film, database, after=False)
            prune_rows(stale, using=database)
        return by_film

    def _record(self, by_film, database, *, after):
        """A revision of each pruned guide: as it stood before, and after."""
        if not reversion.is_registered(Film):
            return
        films = Film.objects.using(database).in_bulk([film.pk for film in by_film])
        for film, rows in by_film.items():
            what = _counted(rows)
            comment = (
                f"load_guides --prune removed {what}, which the guide file no "
                "longer has."
                if after
                else f"As it stood before load_guides --prune removed {what}; "
                "revert to this version to bring them back."
            )
            with reversion.create_revision(using=database):
                reversion.set_comment(comment)
                reversion.add_to_revision(films[film.pk], model_db=database)

    def _report_prune(self, by_film, dry_run):
        rows = [row for rows in by_film.values() for row in rows]
        if not rows:
            self.stdout.write(
                self.style.SUCCESS(
                    "Nothing to prune: the database holds nothing of these guides "
                    "that the files do not."
                )
            )
            return
        films = ", ".join(str(film) for film in by_film)
        if dry_run:
            message = (
                f"Dry run: --prune would remove {_counted(rows)} from {films}. "
                "Nothing was removed."
            )
        else:
            message = (
                f"Pruned {_counted(rows)} from {films}; each guide's history has "
                "its version from before (revert to it to bring them back)."
            )
        self.stdout.write(self.style.SUCCESS(message))

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


def _counted(rows):
    """``2 scenes, 1 character beat``: how many rows of each kind."""
    counts = Counter(row._meta for row in rows)
    return ", ".join(
        f"{count} {opts.verbose_name if count == 1 else opts.verbose_name_plural}"
        for opts, count in counts.items()
    )


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
