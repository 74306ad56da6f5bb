"""What search reads besides the guides' own columns, kept in step with them.

* ``Film.search_names`` (both engines): the names a film's guide shows before
  any spoiler — its cast and crew (as written and in the original script) and
  its spoiler-free characters — so that "Strugatsky" or "Kris Kelvin" finds
  the film as well as the person or character. Characters introduced later
  are left out: their names are spoilers.
* On SQLite, FTS5 tables: one per kind of result (``films_search_<kind>``,
  ranked with bm25, prefix indexes, diacritics removed by the tokenizer) and
  one of names per kind (``films_search_<kind>_trgm``, FTS5's trigram
  tokenizer) for typo tolerance. Their rowid is the row's id. Text goes in
  folded by :func:`fold` (lower case, accents off, ``ł`` → ``l``), the same
  folding as the visitor's words, so both sides meet whatever the tokenizer
  knows.

``films.derived`` calls :func:`refresh_films` whenever it bumps a guide's
version (every path that writes a guide does), inside the same transaction:
a load that is rolled back leaves the index as it was. People and themes are
refreshed on their own saves and deletes (:func:`refresh_rows`). Refreshing
is idempotent — a film's rows are deleted and written again from the
database — and :func:`rebuild` writes everything again.
"""

import re
import unicodedata
from itertools import batched

from django.db import connections

from films.models import Character, Credit, Film, Person, Scene, Theme

IN_LIST = 500

# Letters that Unicode does not decompose, as PostgreSQL's ``unaccent`` maps
# them; ``й`` stays itself there too (``ё`` becomes ``е``).
_LETTERS = str.maketrans(
    {
        "ł": "l",
        "Ł": "L",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "TH",
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ı": "i",
        "ħ": "h",
        "й": "\ue000",
        "Й": "\ue001",
    }
)
_KEPT = str.maketrans({"\ue000": "й", "\ue001": "й"})
_MARKS = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff]+")


def fold(text):
    """``text`` in lower case without accents: what search compares."""
    if not text:
        return ""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFD", text.translate(_LETTERS))
    return unicodedata.normalize("NFC", _MARKS.sub("", text).translate(_KEPT)).lower()


# --- The tables (SQLite) --------------------------------------------------------------

TOKENIZE = "porter unicode61 remove_diacritics 2"

# kind → (model, FTS columns, bm25 weights). ``film`` columns hold a token
# per film ("f12") so that a search can be limited to the visitor's films
# inside the full-text index; they weigh nothing.
TABLES = {
    "films": (Film, ("titles", "names", "premise"), (10.0, 4.0, 4.0)),
    "people": (Person, ("name", "original_name"), (10.0, 10.0)),
    "characters": (Character, ("name", "description", "film"), (10.0, 4.0, 0.0)),
    "themes": (Theme, ("name", "description"), (10.0, 4.0)),
    "scenes": (Scene, ("title", "location", "summary", "film"), (2.0, 2.0, 1.0, 0.0)),
}
# What the FTS columns hold, as SQL over the kind's table ``t``.
SOURCES = {
    "films": (
        "films_fold(t.title || ' ' || t.original_title || ' ' || t.other_titles)",
        "films_fold(t.based_on || ' ' || t.search_names)",
        "films_fold(t.premise)",
    ),
    "people": ("films_fold(t.name)", "films_fold(t.original_name)"),
    "characters": (
        "films_fold(t.name)",
        "films_fold(t.description)",
        "'f' || t.film_id",
    ),
    "themes": ("films_fold(t.name)", "films_fold(t.description)"),
    "scenes": (
        "films_fold(t.title)",
        "films_fold(t.location)",
        "films_fold(t.summary)",
        "'f' || t.film_id",
    ),
}
# The names a misspelling is compared with (trigram tables).
NAMES = {
    "films": "films_fold(t.title || ' ' || t.original_title || ' ' || t.other_titles)",
    "people": "films_fold(t.name || ' ' || t.original_name)",
    "characters": "films_fold(t.name)",
    "themes": "films_fold(t.name)",
}


def table(kind):
    return f"films_search_{kind}"


def trigram_table(kind):
    return f"films_search_{kind}_trgm"


def create_tables(cursor):
    """The FTS5 tables (SQLite only); see the module's docstring."""
    for kind, (_, columns, _) in TABLES.items():
        cursor.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {table(kind)} USING fts5("
            f"{', '.join(columns)}, tokenize='{TOKENIZE}', prefix='2 3')"
        )
    for kind in NAMES:
        cursor.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {trigram_table(kind)} "
            "USING fts5(name, tokenize='trigram')"
        )


def drop_tables(cursor):
    for kind in TABLES:
        cursor.execute(f"DROP TABLE IF EXISTS {table(kind)}")
    for kind in NAMES:
        cursor.execute(f"DROP TABLE IF EXISTS {trigram_table(kind)}")


def register_functions(sender, connection, **kwargs):
    """``films_fold()`` in SQL on SQLite (``connection_created``)."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("films_fold", 1, fold, deterministic=True)


# --- Keeping them in step ----------------------------------------------------------------


def refresh_films(film_ids, using=None):
    """Write these films' search data again: their ``search_names``, and on
    SQLite their rows and their characters' and scenes' rows (none for a
    film that is gone). Called by ``films.derived.bump_films``."""
    using = using or "default"
    for chunk in batched(sorted({pk for pk in film_ids if pk is not None}), IN_LIST):
        _store_search_names(chunk, using)
        if connections[using].vendor == "sqlite":
            _refresh_sqlite(chunk, using)


def refresh_rows(model, pks, using=None):
    """Write the rows of people or themes again (SQLite; on PostgreSQL the
    generated columns need nothing)."""
    using = using or "default"
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    kind = {Person: "people", Theme: "themes"}.get(model)
    if kind is None:
        return
    for chunk in batched(sorted(set(pks)), IN_LIST):
        with connection.cursor() as cursor:
            _write(cursor, kind, "t.id", chunk, chunk)


def rebuild(using=None):
    """Write every search row again (after a bulk load that bypassed the
    guides' bookkeeping, or to repair the index)."""
    using = using or "default"
    film_ids = list(Film.objects.using(using).values_list("pk", flat=True))
    for chunk in batched(film_ids, IN_LIST):
        _store_search_names(chunk, using)
    if connections[using].vendor != "sqlite":
        return
    with connections[using].cursor() as cursor:
        for kind in TABLES:
            cursor.execute(f"DELETE FROM {table(kind)}")  # noqa: S608 — our names
        for kind in NAMES:
            cursor.execute(f"DELETE FROM {trigram_table(kind)}")  # noqa: S608
        for kind, (model, _, _) in TABLES.items():
            _insert(cursor, kind, model, "1 = 1", [])


def _store_search_names(film_ids, using):
    names = {pk: [] for pk in film_ids}
    credits = (
        Credit.objects.using(using)
        .filter(film__in=film_ids)
        .order_by("film", "position", "pk")
        .values_list("film", "person__name", "person__original_name")
    )
    for film_id, name, original in credits:
        names[film_id] += [name, original]
    characters = (
        Character.objects.using(using)
        .filter(film__in=film_ids, reveals_at__isnull=True)
        .order_by("film", "position", "name")
        .values_list("film", "name")
    )
    for film_id, name in characters:
        names[film_id].append(name)
    current = dict(
        Film.objects.using(using)
        .filter(pk__in=film_ids)
        .values_list("pk", "search_names")
    )
    changed = []
    for pk, parts in names.items():
        text = "\n".join(dict.fromkeys(part for part in parts if part))
        if pk in current and current[pk] != text:
            changed.append(Film(pk=pk, search_names=text))
    if changed:
        Film.objects.using(using).bulk_update(changed, ["search_names"])


def _refresh_sqlite(film_ids, using):
    tokens = " OR ".join(f'"f{int(pk)}"' for pk in film_ids)
    with connections[using].cursor() as cursor:
        _write(cursor, "films", "t.id", film_ids, film_ids)
        for kind in ("characters", "scenes"):
            # Rows of these films, found by their film token: their own rows
            # may be gone already (a cascade).
            cursor.execute(
                f"SELECT rowid FROM {table(kind)} WHERE {table(kind)} MATCH %s",  # noqa: S608
                [f"film : ({tokens})"],
            )
            stale = [row[0] for row in cursor.fetchall()]
            _write(cursor, kind, "t.film_id", film_ids, stale)


def _write(cursor, kind, column, ids, stale):
    """Delete the ``stale`` rowids of ``kind``, then insert its rows whose
    ``column`` is in ``ids``."""
    for chunk in batched(stale, IN_LIST):
        marks = ", ".join(["%s"] * len(chunk))
        cursor.execute(f"DELETE FROM {table(kind)} WHERE rowid IN ({marks})", chunk)  # noqa: S608
        if kind in NAMES:
            cursor.execute(
                f"DELETE FROM {trigram_table(kind)} WHERE rowid IN ({marks})",  # noqa: S608
                chunk,
            )
    marks = ", ".join(["%s"] * len(ids))
    _insert(cursor, kind, TABLES[kind][0], f"{column} IN ({marks})", list(ids))


def _insert(cursor, kind, model, where, params):
    source = model._meta.db_table
    _, columns, _ = TABLES[kind]
    cursor.execute(
        f"INSERT INTO {table(kind)} (rowid, {', '.join(columns)}) "  # noqa: S608
        f"SELECT t.id, {', '.join(SOURCES[kind])} FROM {source} t WHERE {where}",
        params,
    )
    if kind in NAMES:
        cursor.execute(
            f"INSERT INTO {trigram_table(kind)} (rowid, name) "  # noqa: S608
            f"SELECT t.id, {NAMES[kind]} FROM {source} t WHERE {where}",
            params,
        )
