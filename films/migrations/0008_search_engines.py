"""Search that finds what people type, on both engines.

PostgreSQL: the ``unaccent`` extension and a text search configuration,
``films_search`` (English with accents removed before stemming: "Stanislaw"
finds "Stanisław"); every ``search_document`` column is made again with it,
and a film's now also holds its other titles, the work it is based on and the
names its guide shows before any spoiler (``Film.search_names``).

SQLite: the FTS5 tables of ``films/search_index.py``, filled from the guides.

Both: every film's ``search_names``, written once here and then kept by
``films.derived``. Needs a role allowed to create extensions on PostgreSQL
(``unaccent`` is trusted: the database owner may on PostgreSQL 13+).
"""

from django.contrib.postgres.operations import UnaccentExtension
from django.db import migrations

COLUMN = "search_document"
CONFIG = "films_search"

# The documents as this migration makes them: kind → (model, weighted fields).
# ``films/search.py`` reads the stored columns and must use the same CONFIG.
DOCUMENTS = {
    "films": (
        "Film",
        [
            ("title", "A"),
            ("original_title", "A"),
            ("other_titles", "A"),
            ("based_on", "B"),
            ("search_names", "B"),
            ("premise", "B"),
        ],
    ),
    "people": ("Person", [("name", "A"), ("original_name", "A")]),
    "characters": ("Character", [("name", "A"), ("description", "B")]),
    "themes": ("Theme", [("name", "A"), ("description", "B")]),
    "scenes": ("Scene", [("title", "C"), ("location", "C"), ("summary", "D")]),
}


def _document_sql(model, fields, config, schema_editor):
    from django.contrib.postgres.search import SearchVector
    from django.db.models.sql import Query

    parts = [SearchVector(f, weight=w, config=config) for f, w in fields]
    expression = parts[0]
    for part in parts[1:]:
        expression = expression + part
    query = Query(model, alias_cols=False)
    compiler = query.get_compiler(connection=schema_editor.connection)
    sql, params = compiler.compile(expression.resolve_expression(query))
    return sql % tuple(schema_editor.quote_value(p) for p in params)


def _make_columns(apps, schema_editor, documents, config):
    for kind, (model_name, fields) in documents.items():
        model = apps.get_model("films", model_name)
        table = schema_editor.quote_name(model._meta.db_table)
        expression = _document_sql(model, fields, config, schema_editor)
        schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {COLUMN}")
        schema_editor.execute(
            f"ALTER TABLE {table} ADD COLUMN {COLUMN} tsvector "
            f"GENERATED ALWAYS AS ({expression}) STORED"
        )
        schema_editor.execute(
            f"CREATE INDEX {schema_editor.quote_name(f'films_{kind}_fts')} "
            f"ON {table} USING gin ({COLUMN})"
        )


def forwards(apps, schema_editor):
    from films import search_index

    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = pg_catalog.english)"
        )
        schema_editor.execute(
            f"ALTER TEXT SEARCH CONFIGURATION {CONFIG} "
            "ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem"
        )
        _make_columns(apps, schema_editor, DOCUMENTS, CONFIG)
    elif connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            search_index.create_tables(cursor)
    films = apps.get_model("films", "Film")
    search_index.store_search_names(
        films.objects.using(connection.alias).values_list("pk", flat=True),
        using=connection.alias,
    )


def backwards(apps, schema_editor):
    from films import search_index

    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        old = {
            "films": ("Film", [("title", "A"), ("original_title", "A"), ("premise", "B")]),
            **{kind: DOCUMENTS[kind] for kind in DOCUMENTS if kind != "films"},
        }
        _make_columns(apps, schema_editor, old, "english")
        schema_editor.execute(f"DROP TEXT SEARCH CONFIGURATION {CONFIG}")
    elif connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            search_index.drop_tables(cursor)


class Migration(migrations.Migration):
    dependencies = [("films", "0007_search_fields")]

    operations = [
        UnaccentExtension(),
        migrations.RunPython(forwards, backwards),
    ]
