"""Export guides to a fixture file: one film, several, or the whole catalogue.

    manage.py export_guides                                  # everything, to stdout
    manage.py export_guides stalker-1979 --output fixtures/stalker-1979.json
    manage.py export_guides --output catalogue.jsonl         # JSON Lines

The file is what ``load_guides`` (and ``loaddata``) read: natural keys, no ids,
the reference rows the films use (all of them for a full export), then each
film's guide. Order and layout are fixed, so exports diff cleanly in git, and
export → load into an empty database → export gives the same bytes.
"""

import difflib
import os
import stat
import sys
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from films.guide_files import GuideWriter, export_rows
from films.models import Film


class Command(BaseCommand):
    help = (
        "Export films' guides (default: all) as a fixture file with natural keys, "
        "in a fixed order and layout, to stdout or --output (.json or .jsonl)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "slugs",
            nargs="*",
            metavar="SLUG",
            help="Films to export, e.g. stalker-1979.",
        )
        parser.add_argument(
            "--output",
            "-o",
            metavar="PATH",
            help="Write here (replaced whole, only once the export is complete) "
            "instead of to stdout. A .jsonl path gives JSON Lines.",
        )
        parser.add_argument(
            "--format",
            dest="file_format",
            choices=["json", "jsonl"],
            help="json (a list) or jsonl (one object per line); "
            "default: from the --output suffix, else json.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what would be exported without writing anything.",
        )
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            help="The database to export from (default: default).",
        )

    def handle(
        self, *, slugs, output, file_format, dry_run, database, verbosity, **options
    ):
        self._check_slugs(slugs, database)
        if file_format is None:
            file_format = "jsonl" if output and output.endswith(".jsonl") else "json"
        lines = file_format == "jsonl"
        # One transaction, so that every query sees the same catalogue even
        # while editors work (PostgreSQL needs REPEATABLE READ for that, set
        # first thing in a transaction of our own).
        connection = connections[database]
        snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
        with transaction.atomic(using=database):
            if snapshot:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"
                    )
            if dry_run:
                writer = GuideWriter(_Discard(), lines=lines)
                self._export(writer, slugs, database)
            elif output:
                self._export_to_file(Path(output), slugs, database, lines)
            else:
                try:
                    self._export(
                        GuideWriter(_Unended(self.stdout), lines=lines), slugs, database
                    )
                    self.stdout.flush()
                except BrokenPipeError:
                    # The reader went away (``| head``): stop quietly, as a
                    # shell tool would, and keep Python from complaining at exit.
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                    return
        if verbosity and (output or dry_run):
            films = len(set(slugs)) if slugs else Film.objects.using(database).count()
            what = (
                f"{self._count:,} objects ({films:,} film{'s' if films != 1 else ''})"
            )
            if dry_run:
                message = f"Dry run: would export {what}"
                message += f" to {output}." if output else "."
            else:
                message = f"Exported {what} to {output}."
            self.stdout.write(self.style.SUCCESS(message))

    def _check_slugs(self, slugs, database):
        if not slugs:
            return
        known = set(
            Film.objects.using(database)
            .filter(slug__in=slugs)
            .values_list("slug", flat=True)
        )
        unknown = [slug for slug in slugs if slug not in known]
        if unknown:
            every = list(Film.objects.using(database).values_list("slug", flat=True))
            hints = []
            for slug in unknown:
                close = difflib.get_close_matches(slug, every, n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                hints.append(f"{slug}{hint}")
            raise CommandError(
                f"No film with the slug {'; '.join(hints)}. A film's slug is its "
                "title and year, e.g. stalker-1979."
            )

    def _export(self, writer, slugs, database):
        for obj, m2m in export_rows(list(slugs) or None, using=database):
            writer.write(obj, m2m)
        writer.close()
        self._count = writer.count

    def _export_to_file(self, path, slugs, database, lines):
        """Write beside the target and rename, so a failed export leaves no half file."""
        if not path.parent.is_dir():
            raise CommandError(f"{path}: the folder {path.parent} does not exist.")
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
                self._export(GuideWriter(stream, lines=lines), slugs, database)
            # mkstemp() makes the file private; give it the mode a new file gets.
            mode = path.stat().st_mode if path.exists() else 0o666 & ~_umask()
            os.chmod(temporary, stat.S_IMODE(mode))
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _Unended:
    """Django's OutputWrapper ends every write with a newline; a writer must not."""

    def __init__(self, wrapper):
        self.wrapper = wrapper

    def write(self, text):
        self.wrapper.write(text, ending="")


class _Discard:
    def write(self, text):
        pass
