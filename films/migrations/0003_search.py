"""Full-text and trigram search on PostgreSQL; nothing on SQLite.

Each searched table gets a stored, generated ``tsvector`` column,
``search_document``, computed from the weighted expression that
``films/search.py`` defines for it, with a GIN index; ranking reads the stored
vector instead of parsing the text again for every match. Names and titles get
trigram GIN indexes for typo-tolerant matching. The column is not a model
field: SQLite has no ``tsvector``, and the ORM never writes it.
"""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models
from django.db.models import F, Q
from django.db.models.sql import Query

COLUMN = "search_document"


# The documents as this migration made them (``films/search.py`` has since
# moved on; migration 0007 rebuilt the columns): kind → (model, fields).
CONFIG = "english"
DOCUMENTS = {
    "films": ("Film", [("title", "A"), ("original_title", "A"), ("premise", "B")]),
    "people": ("Person", [("name", "A"), ("original_name", "A")]),
    "characters": ("Character", [("name", "A"), ("description", "B")]),
    "themes": ("Theme", [("name", "A"), ("description", "B")]),
    "scenes": ("Scene", [("title", "C"), ("location", "C"), ("summary", "D")]),
}
NAME_FIELDS = {
    "films": "title",
    "people": "name",
    "characters": "name",
    "themes": "name",
}


def document(kind):
    from django.contrib.postgres.search import SearchVector

    parts = [
        SearchVector(field, weight=weight, config=CONFIG)
        for field, weight in DOCUMENTS[kind][1]
    ]
    combined = parts[0]
    for part in parts[1:]:
        combined = combined + part
    return combined


def _document_sql(model, expression, schema_editor):
    query = Query(model, alias_cols=False)
    compiler = query.get_compiler(connection=schema_editor.connection)
    sql, params = compiler.compile(expression.resolve_expression(query))
    return sql % tuple(schema_editor.quote_value(p) for p in params)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for kind, (model_name, _) in DOCUMENTS.items():
        model = apps.get_model("films", model_name)
        table = schema_editor.quote_name(model._meta.db_table)
        expression = _document_sql(model, document(kind), schema_editor)
        schema_editor.execute(
            f"ALTER TABLE {table} ADD COLUMN {COLUMN} tsvector "
            f"GENERATED ALWAYS AS ({expression}) STORED"
        )
        schema_editor.execute(
            f"CREATE INDEX {schema_editor.quote_name(f'films_{kind}_fts')} "
            f"ON {table} USING gin ({COLUMN})"
        )
    for kind, field in NAME_FIELDS.items():
        model = apps.get_model("films", DOCUMENTS[kind][0])
        index = GinIndex(OpClass(F(field), name="gin_trgm_ops"), name=f"films_{kind}_trgm")
        schema_editor.add_index(model, index)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for kind, field in NAME_FIELDS.items():
        model = apps.get_model("films", DOCUMENTS[kind][0])
        index = GinIndex(OpClass(F(field), name="gin_trgm_ops"), name=f"films_{kind}_trgm")
        schema_editor.remove_index(model, index)
    for model_name, _ in DOCUMENTS.values():
        model = apps.get_model("films", model_name)
        table = schema_editor.quote_name(model._meta.db_table)
        schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN {COLUMN}")


class Migration(migrations.Migration):
    dependencies = [("films", "0002_editors_group")]

    operations = [
        migrations.AddIndex(
            model_name="film",
            index=models.Index(
                condition=Q(status="published"),
                fields=["id"],
                name="film_published_idx",
            ),
        ),
        TrigramExtension(),
        migrations.RunPython(create, drop),
    ]
