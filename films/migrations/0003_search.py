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


def _document_sql(model, expression, schema_editor):
    query = Query(model, alias_cols=False)
    compiler = query.get_compiler(connection=schema_editor.connection)
    sql, params = compiler.compile(expression.resolve_expression(query))
    return sql % tuple(schema_editor.quote_value(p) for p in params)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from films.search import DOCUMENTS, NAME_FIELDS, document

    for kind, (model_class, _) in DOCUMENTS.items():
        model = apps.get_model("films", model_class.__name__)
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
        model = apps.get_model("films", DOCUMENTS[kind][0].__name__)
        index = GinIndex(OpClass(F(field), name="gin_trgm_ops"), name=f"films_{kind}_trgm")
        schema_editor.add_index(model, index)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from films.search import DOCUMENTS, NAME_FIELDS

    for kind, field in NAME_FIELDS.items():
        model = apps.get_model("films", DOCUMENTS[kind][0].__name__)
        index = GinIndex(OpClass(F(field), name="gin_trgm_ops"), name=f"films_{kind}_trgm")
        schema_editor.remove_index(model, index)
    for model_class, _ in DOCUMENTS.values():
        model = apps.get_model("films", model_class.__name__)
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
