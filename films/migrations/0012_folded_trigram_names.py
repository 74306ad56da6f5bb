"""PostgreSQL: a misspelt name is compared with the same names as on SQLite.

Until now a misspelling was compared with a film's title only and a person's
name only, as typed, accents and all; SQLite's trigram tables
(``films/search_index.py``) hold a film's title, original title and other
titles and a person's name and original name, without accents. So
"Сталкре", "Ivanovo detsvo" or "Stanislaw Lemm" found their film or person
on SQLite and nothing on PostgreSQL.

This adds ``films_fold(text)``: the text without accents, by the ``unaccent``
extension (migration 0008), declared immutable so that a generated column may
use it; a stored, generated column ``search_name`` on each kind's table, its
names joined by spaces and folded (written with the row, so a search never
folds a name: folding every person's names, as a plan may before the table's
statistics are gathered, cost more than the rest of a search); and each kind's
trigram index, remade on that column. The column is not a model field, as
``search_document`` is not. Nothing on SQLite.
"""

from django.db import migrations

# The names a misspelling is compared with, as this migration indexes them
# (``films.search.TRIGRAM_NAMES`` must name the same fields).
NAMES = {
    "films_film": ("title", "original_title", "other_titles"),
    "films_person": ("name", "original_name"),
    "films_character": ("name",),
    "films_theme": ("name",),
}
OLD = {
    "films_film": "title",
    "films_person": "name",
    "films_character": "name",
    "films_theme": "name",
}
INDEX = {
    "films_film": "films_films_trgm",
    "films_person": "films_people_trgm",
    "films_character": "films_characters_trgm",
    "films_theme": "films_themes_trgm",
}


COLUMN = "search_name"


def folded(fields):
    return "films_fold(" + " || ' ' || ".join(fields) + ")"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT extnamespace::regnamespace::text FROM pg_extension "
            "WHERE extname = 'unaccent'"
        )
        (schema,) = cursor.fetchone()
    # Qualified names: an immutable function must not depend on search_path.
    schema_editor.execute(
        "CREATE OR REPLACE FUNCTION films_fold(text) RETURNS text "
        "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
        f"RETURN {schema}.unaccent('{schema}.unaccent'::regdictionary, $1)"
    )
    for table, fields in NAMES.items():
        schema_editor.execute(
            f"ALTER TABLE {table} ADD COLUMN {COLUMN} text "
            f"GENERATED ALWAYS AS ({folded(fields)}) STORED"
        )
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX[table]}")
        schema_editor.execute(
            f"CREATE INDEX {INDEX[table]} ON {table} USING gin ({COLUMN} gin_trgm_ops)"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, field in OLD.items():
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX[table]}")
        schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {COLUMN}")
        schema_editor.execute(
            f"CREATE INDEX {INDEX[table]} ON {table} USING gin ({field} gin_trgm_ops)"
        )
    schema_editor.execute("DROP FUNCTION IF EXISTS films_fold(text)")


class Migration(migrations.Migration):
    dependencies = [("films", "0011_document_format")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
