"""Render every guide's Markdown into its stored HTML again.

    manage.py render_text            # render, write what differs, bump versions
    manage.py render_text --dry-run  # count what differs, write nothing

Pages show HTML rendered when the text was saved (``films/markup.py``). Run
this after changing the renderer or the sanitiser (or upgrading Markdown or
nh3), so that stored HTML matches what they give now. Guides whose text
changed get a new version, so cached pages are rebuilt. It also stores the
documents pages read (``films/documents.py``) wherever they are missing or
were built by another version of the code — run it after a deploy.
"""

from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, transaction

from films import documents
from films.derived import bump_films
from films.guide_files import GUIDE_MODELS
from films.markup import render_stored
from films.models import Film


class Command(BaseCommand):
    help = (
        "Render every guide's Markdown into its stored HTML again (after the "
        "renderer or sanitiser changed); --dry-run counts what would change."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count the rows whose stored HTML is out of date; write nothing.",
        )
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            help="The database to use (default: %(default)s).",
        )

    def handle(self, *args, dry_run=False, database=DEFAULT_DB_ALIAS, **options):
        total = 0
        with transaction.atomic(using=database):
            for model in GUIDE_MODELS:
                if not model.markdown_fields:
                    continue
                count = render_stored(model, model.markdown_fields, using=database)
                total += count
                if count and options["verbosity"] >= 2:
                    self.stdout.write(f"{model._meta.verbose_name_plural}: {count}")
            if total:
                bump_films(
                    Film.objects.using(database).values_list("pk", flat=True),
                    touch=False,
                    using=database,
                )
            # What pages read (films/documents.py): parts another version or
            # format of the code left behind are stored again.
            rebuilt = documents.store_stale(using=database)
            if dry_run:
                transaction.set_rollback(True, using=database)
        verb = "would be rendered again" if dry_run else "rendered again"
        if options["verbosity"] >= 1:
            self.stdout.write(
                self.style.SUCCESS(f"{total} rows {verb}; the rest were up to date.")
            )
            verb = "would be rebuilt" if dry_run else "rebuilt"
            self.stdout.write(f"Pages' documents of {rebuilt} films {verb}.")
