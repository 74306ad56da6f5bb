"""What search reads besides the guides' own columns, kept in step with them.

* ``Film.search_names`` (both engines): the names a film's guide shows before
  any spoiler — its cast and crew (as written and in the original script) and
  its spoiler-free characters — so that "Strugatsky" or "Kris Kelvin" finds
  the film as well as the person or character. Characters introduced later
  are left out: their names are spoilers. ``films.derived.bump_films`` calls
  :func:`store_search_names` whenever a guide's version moves (every path
  that writes a guide does), in the same transaction.
* On SQLite, FTS5 tables: one per kind of result (``films_search_<kind>``,
  ranked with bm25, prefix indexes, case and diacritics folded by the
  ``unicode61`` tokenizer) and one of names per kind
  (``films_search_<kind>_trgm``, FTS5's trigram tokenizer) for typos. A row's
  rowid is its guide row's id. Triggers on the guide's tables keep them in
  step with every write — the admin, the loader's bulk inserts, ``loaddata``,
  reverts, deletes and cascades, a ``QuerySet.update()`` — in the writer's
  own transaction, so a load rolled back leaves them as they were. The
  triggers use only SQLite's own functions, so any client may write the
  database. Letters Unicode does not decompose (``ł``, ``ø``, ``ß``…) are
  replaced as PostgreSQL's ``unaccent`` does, by :func:`fold` in Python and
  by the same table in SQL.
"""

import re
import unicodedata
from itertools import batched

from films.models import Character, Credit, Film, Person, Scene, Theme

IN_LIST = 500

# Letters that Unicode does not decompose, as PostgreSQL's ``unaccent`` maps
# them; ``й`` stays itself there too (``ё`` becomes ``е``).
LETTERS = {
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
}
_LETTERS = str.maketrans({**LETTERS, "й": "\ue000", "Й": "\ue001"})
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

# kind → (model, FTS columns, bm25 weights). A scene's ``film`` column holds
# a token for its film ("f12") and one for its film's group of FILM_GROUP
# consecutive ids ("g0"), so that a search can be limited to the visitor's
# films inside the full-text index (a group stands for many of them, for
# bm25 pays for every term of a query on every row); it weighs nothing.
FILM_GROUP = 64
TABLES = {
    "films": (Film, ("titles", "names", "premise"), (10.0, 4.0, 4.0)),
    "people": (Person, ("name", "original_name"), (10.0, 10.0)),
    "characters": (Character, ("name", "description"), (10.0, 4.0)),
    "themes": (Theme, ("name", "description"), (10.0, 4.0)),
    "scenes": (Scene, ("title", "location", "summary", "film"), (2.0, 2.0, 1.0, 0.0)),
}
# What the FTS columns hold, as SQL over a row (``{row}``: new, old, or t).
SOURCES = {
    "films": (
        "{row}.title || ' ' || {row}.original_title || ' ' || {row}.other_titles",
        "{row}.based_on || ' ' || {row}.search_names",
        "{row}.premise",
    ),
    "people": ("{row}.name", "{row}.original_name"),
    "characters": ("{row}.name", "{row}.description"),
    "themes": ("{row}.name", "{row}.description"),
    "scenes": (
        "{row}.title",
        "{row}.location",
        "{row}.summary",
        "'f' || {row}.film_id || ' g' || ({row}.film_id / " + str(FILM_GROUP) + ")",
    ),
}
# The names a misspelling is compared with (trigram tables).
NAMES = {
    "films": SOURCES["films"][0],
    "people": "{row}.name || ' ' || {row}.original_name",
    "characters": "{row}.name",
    "themes": "{row}.name",
}


def table(kind):
    return f"films_search_{kind}"


def trigram_table(kind):
    return f"films_search_{kind}_trgm"


def sql_fold(expression):
    """``expression`` with the letters Unicode does not decompose replaced."""
    for letter, plain in LETTERS.items():
        expression = f"replace({expression}, '{letter}', '{plain}')"
    return expression


def _values(kind, row):
    return [
        source.format(row=row)
        if source.startswith("'f'")
        else sql_fold(source.format(row=row))
        for source in SOURCES[kind]
    ]


def _statements(kind, row, action):
    """The SQL that writes (``insert``) or removes (``delete``) ``row``'s
    search rows of ``kind``."""
    _, columns, _ = TABLES[kind]
    tables = [(table(kind), columns, _values(kind, row))]
    if kind in NAMES:
        tables.append(
            (trigram_table(kind), ["name"], [sql_fold(NAMES[kind].format(row=row))])
        )
    if action == "delete":
        return [
            f"DELETE FROM {name} WHERE rowid = {row}.id;"  # noqa: S608 — our names
            for name, _, _ in tables
        ]
    return [
        f"INSERT INTO {name} (rowid, {', '.join(cols)}) "  # noqa: S608 — our names
        f"VALUES ({row}.id, {', '.join(values)});"
        for name, cols, values in tables
    ]


def create_tables(cursor):
    """The FTS5 tables and their triggers (SQLite only), filled from the
    guides; see the module's docstring."""
    for kind, (model, columns, _) in TABLES.items():
        cursor.execute(
            f"CREATE VIRTUAL TABLE {table(kind)} USING fts5("
            f"{', '.join(columns)}, tokenize='{TOKENIZE}', prefix='2 3')"
        )
        if kind in NAMES:
            cursor.execute(
                f"CREATE VIRTUAL TABLE {trigram_table(kind)} "
                "USING fts5(name, tokenize='trigram')"
            )
        source = model._meta.db_table
        # Only the searched columns: a film's version moves with every edit.
        watched = ", ".join(
            sorted(
                {
                    name
                    for text in (*SOURCES[kind], NAMES.get(kind, ""))
                    for name in re.findall(r"\{row\}\.(\w+)", text)
                }
            )
        )
        insert = " ".join(_statements(kind, "new", "insert"))
        delete = " ".join(_statements(kind, "old", "delete"))
        prefix = f"CREATE TRIGGER {table(kind)}"
        cursor.execute(f"{prefix}_insert AFTER INSERT ON {source} BEGIN {insert} END")
        cursor.execute(f"{prefix}_delete AFTER DELETE ON {source} BEGIN {delete} END")
        cursor.execute(
            f"{prefix}_update AFTER UPDATE OF {watched} ON {source} "
            f"BEGIN {delete} {insert} END"
        )
        for name in [table(kind), *([trigram_table(kind)] if kind in NAMES else [])]:
            cursor.execute(
                f"INSERT INTO {name} (rowid, {', '.join(_columns(kind, name))}) "  # noqa: S608
                f"SELECT t.id, {', '.join(_sources(kind, name))} FROM {source} t"
            )


def _columns(kind, name):
    return ["name"] if name == trigram_table(kind) else TABLES[kind][1]


def _sources(kind, name):
    if name == trigram_table(kind):
        return [sql_fold(NAMES[kind].format(row="t"))]
    return _values(kind, "t")


def drop_tables(cursor):
    for kind in TABLES:
        for action in ("insert", "delete", "update"):
            cursor.execute(f"DROP TRIGGER IF EXISTS {table(kind)}_{action}")
        cursor.execute(f"DROP TABLE IF EXISTS {table(kind)}")
        if kind in NAMES:
            cursor.execute(f"DROP TABLE IF EXISTS {trigram_table(kind)}")


# --- The names a film is found by (both engines) ---------------------------------------


def store_search_names(film_ids, using=None):
    """Write ``search_names`` again for these films (those that still exist)."""
    using = using or "default"
    for chunk in batched(sorted({pk for pk in film_ids if pk is not None}), IN_LIST):
        _store_search_names(chunk, using)


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
