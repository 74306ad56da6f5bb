"""Search across films, people, characters, themes and scenes — never past
the visitor's horizon — with one behaviour on both engines.

What the visitor types is read once (:func:`parse`): words, each matched as
itself or as the start of a longer word ("tark" finds Tarkovsky), folded to
lower case without accents ("Stanislaw" finds "Stanisław"), English stop
words left out; ``"quoted phrases"``, ``-word`` and ``or`` as on the web. It
is then written out for the engine, every word quoted, so that nothing typed
is ever read as the engine's own syntax.

PostgreSQL: full-text search over weighted ``tsvector`` columns (titles and
names above premises and descriptions above scene text), stored and indexed
(migration 0007) with the ``films_search`` configuration (English, accents
removed); ``pg_trgm`` similarity on names without accents (people's whenever
no person matched, films' titles in every language and other names when no
word matched anything; ``TRIGRAM_NAMES``, stored folded by migration 0012),
so that a misspelt "tarkovksy" or "Сталкре" still finds what was meant. One
SQL statement answers a search (and, for a page that needs it, reads the
catalogue's version beside it).

SQLite (the embedded default): FTS5 tables (``films/search_index.py``) ranked
with bm25 under the same weights, one statement a kind; typos by FTS5's
trigram tokenizer, which finds names sharing trigrams with the query, scored
as ``pg_trgm``'s word similarity is and kept above the same threshold.

On both engines a hit's snippet is made in Python (:func:`_word_snippet`):
about thirty words from its text around the first word matched, every word
that begins with a word searched for (or its stem) marked, stop words never.
One rule, so a search shows the same snippets on either engine.

A film is found by its titles (original and other titles too), the work it is
based on, its premise, and the names its guide shows before any spoiler (cast,
crew, spoiler-free characters).

Spoiler safety: a film's premise, people, themes and spoiler-free characters
are always searchable; a character introduced later, and every scene, only
within the visitor's horizon for that film (``none`` unless they have chosen
one). Hidden rows are filtered out in the database, so their text is never
loaded, matched or shown.
"""

import dataclasses
import functools
import json
import re
import unicodedata
from dataclasses import dataclass
from html import escape  # as Django's escape() does, without its lazy-string check
from types import SimpleNamespace

from django.contrib.postgres.search import SearchVector
from django.db import connection
from django.db.models import Case, Exists, OuterRef, Q, Value, When
from django.urls import get_script_prefix, get_urlconf
from django.utils.duration import duration_microseconds
from django.utils.safestring import mark_safe

from films import search_index
from films.models import (
    CatalogueVersion,
    Character,
    Credit,
    Film,
    Person,
    Scene,
    Theme,
)
from films.search_index import fold
from films.spoilers import Horizon

CONFIG = "films_search"  # English, accents removed (migration 0007)
MIN_LENGTH = 2
MAX_LENGTH = 200
PER_KIND = 5  # results per kind on the grouped page
PAGE_SIZE = 20  # results per page when one kind is chosen
SNIPPET_WORDS = 30

KINDS = {
    "films": "Films",
    "people": "People",
    "characters": "Characters",
    "themes": "Themes",
    "scenes": "Scenes",
}


def vector(*weighted_fields):
    """``[("title", "A"), …]`` → one weighted ``SearchVector`` expression."""
    parts = [
        SearchVector(field, weight=weight, config=CONFIG)
        for field, weight in weighted_fields
    ]
    combined = parts[0]
    for part in parts[1:]:
        combined = combined + part
    return combined


# The searched text of each kind, with its weight, as migration 0007 stores
# and indexes it on PostgreSQL (and ``films/search_index.py`` on SQLite).
DOCUMENTS = {
    "films": (
        Film,
        [
            ("title", "A"),
            ("original_title", "A"),
            ("other_titles", "A"),
            ("based_on", "B"),
            ("search_names", "B"),
            ("premise", "B"),
        ],
    ),
    "people": (Person, [("name", "A"), ("original_name", "A")]),
    "characters": (Character, [("name", "A"), ("description", "B")]),
    "themes": (Theme, [("name", "A"), ("description", "B")]),
    "scenes": (Scene, [("title", "C"), ("location", "C"), ("summary", "D")]),
}
NAME_FIELDS = {
    "films": "title",
    "people": "name",
    "characters": "name",
    "themes": "name",
}
# What a misspelling is compared with on PostgreSQL: these fields, joined by
# spaces and without accents, stored with the row in the generated column
# ``search_name`` and trigram-indexed (migration 0012) — the same names as
# SQLite's trigram tables (``search_index.NAMES``): "Сталкре" finds *Stalker*
# by its original title.
TRIGRAM_NAMES = {
    "films": ("title", "original_title", "other_titles"),
    "people": ("name", "original_name"),
    "characters": ("name",),
    "themes": ("name",),
}
TRIGRAM_COLUMN = "search_name"
SNIPPET_FIELDS = {
    "films": "premise",
    "people": "original_name",
    "characters": "description",
    "themes": "description",
    "scenes": "summary",
}


def document(kind):
    """The weighted vector of ``kind``, as an expression."""
    return vector(*DOCUMENTS[kind][1])


# --- What the visitor typed ------------------------------------------------------------

# PostgreSQL's English stop words (``english.stop``): left out on both
# engines, so that "the zone" asks the same of each.
STOPWORDS = frozenset(
    [
        "i",
        "me",
        "my",
        "myself",
        "we",
        "our",
        "ours",
        "ourselves",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "he",
        "him",
        "his",
        "himself",
        "she",
        "her",
        "hers",
        "herself",
        "it",
        "its",
        "itself",
        "they",
        "them",
        "their",
        "theirs",
        "themselves",
        "what",
        "which",
        "who",
        "whom",
        "this",
        "that",
        "these",
        "those",
        "am",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "have",
        "has",
        "had",
        "having",
        "do",
        "does",
        "did",
        "doing",
        "a",
        "an",
        "the",
        "and",
        "but",
        "if",
        "or",
        "because",
        "as",
        "until",
        "while",
        "of",
        "at",
        "by",
        "for",
        "with",
        "about",
        "against",
        "between",
        "into",
        "through",
        "during",
        "before",
        "after",
        "above",
        "below",
        "to",
        "from",
        "up",
        "down",
        "in",
        "out",
        "on",
        "off",
        "over",
        "under",
        "again",
        "further",
        "then",
        "once",
        "here",
        "there",
        "when",
        "where",
        "why",
        "how",
        "all",
        "any",
        "both",
        "each",
        "few",
        "more",
        "most",
        "other",
        "some",
        "such",
        "no",
        "nor",
        "not",
        "only",
        "own",
        "same",
        "so",
        "than",
        "too",
        "very",
        "s",
        "t",
        "can",
        "will",
        "just",
        "don",
        "should",
        "now",
    ]
)
PREFIX_MIN = 3  # shorter words match only themselves ("ta" is not a prefix)
SIMILARITY = 0.6  # pg_trgm's word_similarity_threshold, on both engines
WORD = re.compile(r"\w+")
CHUNK = re.compile(r'(-?)"([^"]*)"?|(\S+)')


@dataclass(frozen=True)
class Term:
    """A word, or a phrase's words, already folded; only ``\\w`` characters."""

    words: tuple

    @property
    def open_ended(self):
        """Whether the word may also be the start of longer words."""
        return len(self.words) == 1 and len(self.words[0]) >= PREFIX_MIN

    def fts5(self, prefix=False):
        if len(self.words) > 1:
            return '"' + " ".join(self.words) + '"'
        word = self.words[0]
        return f'"{word}"*' if prefix and self.open_ended else f'"{word}"'

    def tsquery(self, prefix=False):
        if len(self.words) > 1:
            return "(" + " <-> ".join(f"'{w}'" for w in self.words) + ")"
        word = self.words[0]
        return f"'{word}':*" if prefix and self.open_ended else f"'{word}'"


@dataclass
class Parsed:
    """A search: every group must match (a group is terms joined by "or"),
    no excluded term may. ``words`` are all the words asked for, for
    snippets; ``all_words`` also the stop words, for similarity."""

    groups: list = dataclasses.field(default_factory=list)
    excluded: list = dataclasses.field(default_factory=list)
    words: list = dataclasses.field(default_factory=list)
    all_words: list = dataclasses.field(default_factory=list)

    @property
    def open_ended(self):
        """Whether matching words as beginnings could find more."""
        return any(term.open_ended for group in self.groups for term in group)

    def fts5(self, columns, prefix=False):
        """An FTS5 expression over ``columns`` (all of them if None); every
        word a quoted string. With ``prefix``, words also match as the start
        of longer words."""
        if not self.groups:
            return ""
        expression = " AND ".join(
            "(" + " OR ".join(term.fts5(prefix) for term in group) + ")"
            for group in self.groups
        )
        for term in self.excluded:
            expression = f"({expression}) NOT {term.fts5()}"
        if columns is None:
            return f"({expression})"
        return "{" + " ".join(columns) + "} : (" + expression + ")"

    def tsquery(self, prefix=False):
        """``to_tsquery`` text; the words are quoted and hold only ``\\w``."""
        if not self.groups:
            return ""
        parts = [
            "(" + " | ".join(term.tsquery(prefix) for term in group) + ")"
            for group in self.groups
        ]
        parts += [f"!{term.tsquery()}" for term in self.excluded]
        return " & ".join(parts)


def parse(query):
    """Read a cleaned query (:func:`clean_query`) into a :class:`Parsed`.

    A word split by punctuation ("pre-war") is a phrase of its parts, less
    the stop words and single letters ("Ivan's" is "ivan"); a search of
    nothing but exclusions searches nothing. Letters typed in another form
    of the same letter (full-width "ｚｏｎｅ", the ligature "ﬁ") are read as
    the letters themselves (NFKC).
    """
    if not query.isascii():
        query = unicodedata.normalize("NFKC", query)
    parsed = Parsed()
    either = False
    for match in CHUNK.finditer(query):
        minus, quoted, bare = match.groups()
        if bare is not None:
            if bare.lower() == "or":
                either = bool(parsed.groups)
                continue
            negated = bare.startswith("-") and len(bare) > 1
            words = WORD.findall(fold(bare[1:] if negated else bare))
            parsed.all_words += words
            words = [w for w in words if len(w) > 1 and w not in STOPWORDS]
        else:
            negated = minus == "-"
            words = WORD.findall(fold(quoted))
            parsed.all_words += words
        if not words:
            continue
        term = Term(tuple(words[:20]))
        if negated:
            parsed.excluded.append(term)
        elif either:
            parsed.groups[-1].append(term)
            parsed.words += term.words
        else:
            parsed.groups.append([term])
            parsed.words += term.words
        either = False
    if not parsed.groups:
        parsed.excluded = []
    return parsed


@dataclass(frozen=True)
class FilmRef:
    """What a hit shows of its film; never spoiler-bearing."""

    slug: str
    title: str
    year: int
    original_title: str

    @classmethod
    def of(cls, film):
        return cls(film.slug, film.title, film.year, film.original_title)


@dataclass
class Found:
    """One result as an engine returns it, before it becomes a :class:`Hit`."""

    kind: str
    title: str
    slug: str
    film: FilmRef | None  # its film (a film's own); none for a person or theme
    snippet: str  # safe HTML


@dataclass
class Hit:
    kind: str
    title: str
    url: str
    context: str  # e.g. "Stalker (1979) · Сталкер" — never spoiler-bearing
    snippet: str  # safe HTML


@dataclass
class Group:
    kind: str
    label: str
    hits: list
    has_more: bool


def clean_query(raw):
    """(query, message): the words to search for, and what to tell the visitor."""
    # Control characters (NUL above all) are never part of a search.
    printable = "".join(ch if ch.isprintable() else " " for ch in raw or "")
    query = " ".join(printable.split())
    if not query:
        return "", ""
    if len(query) > MAX_LENGTH:
        return (
            query[:MAX_LENGTH],
            f"Your search was {len(query):,} characters long; only the first "
            f"{MAX_LENGTH} were used.",
        )
    if len(query) < MIN_LENGTH:
        return "", f"Type at least {MIN_LENGTH} characters to search."
    return query, ""


def search(raw_query, horizons, *, kind=None, page=1, version=None):
    """Run a search; return the groups to show (one group if ``kind`` is set).

    ``horizons`` maps a published film's id to the visitor's horizon for it,
    as :func:`horizons_from_cookies` gives it; films not in it are at ``none``.

    With ``version`` (the function that reads the catalogue's version), return
    ``(groups, version)``: the catalogue's version the results are of. On
    PostgreSQL it is read by the search's own statement, in its snapshot,
    rather than in a round trip of its own; elsewhere ``version()`` is called
    before the search (so the results are of that version or a newer one).
    """
    query, _ = clean_query(raw_query)
    kinds = [kind] if kind else list(KINDS)
    limit = PAGE_SIZE if kind else PER_KIND
    offset = (page - 1) * limit if kind else 0
    horizons = {film_id: h for film_id, h in horizons.items() if not h.is_none}
    engine = ENGINES.get(connection.vendor, _fallback)
    if not query:
        return [] if version is None else ([], version())
    # One more row than shown says whether there is more.
    if version is not None and engine is _postgres:
        found, read = _postgres(kinds, query, horizons, offset, limit + 1, True)
        if read is None:  # nothing was searched
            read = version()
    else:
        read = version() if version is not None else None
        found = engine(kinds, query, horizons, offset, limit + 1)
    groups = [
        Group(
            kind=name,
            label=KINDS[name],
            hits=[_hit(row) for row in found.get(name, [])[:limit]],
            has_more=len(found.get(name, [])) > limit,
        )
        for name in kinds
    ]
    return groups if version is None else (groups, read)


# --- PostgreSQL ------------------------------------------------------------------
#
# One statement answers a whole search. For each kind: the visible rows whose
# stored vector matches (GIN index), ranked and cut to the page; then, for the
# page's rows only, what a hit shows and the text of its snippet (made in
# Python, as on SQLite: ``ts_headline`` re-parsed each row's text with the
# search configuration and cost PostgreSQL more than the rest of the search
# together). With ``version``, the catalogue's version too, on every row (one
# row of nulls and the version when nothing was found). One round trip and one
# plan: with one or two ORM queries a kind, a search spent more time building
# queries, planning them and on the wire than finding rows. People whose
# names are like the query are in it too, when no person matched. When no
# word matched anything (a word still being typed, a misspelt title or name),
# the same statement goes on to match the words as beginnings of longer words
# too ("tark", "solar") and to look for names like the query where nothing
# matched (trigram GIN index); when something matched, that part never runs.
#
# What the visitor typed and their horizons are parameters, never part of the
# SQL text, so the text is the same for every search of the same kinds:
# psycopg prepares it on each connection (``prepare_threshold``, settings)
# and PostgreSQL then plans it once there, not once a search; planning this
# statement took longer than running it for most searches.

# The visitor's words as tsqueries, made once a statement (``words`` below)
# rather than once a row, and the same to the planner whatever was typed, so
# that a prepared statement's plan serves every search.
EXACT = "(SELECT exact FROM words)"
PREFIX = "(SELECT prefix FROM words)"
# Whether any word matched as itself; if not, words match as beginnings too.
MATCHED = "(SELECT found FROM matched)"


def _sql_string(value):
    """One of our own constants as an SQL string literal. A literal rather
    than a parameter, so that the planner can match it to a partial index."""
    if not re.fullmatch(r"\w+", value):
        raise ValueError(f"not a plain word: {value!r}")
    return f"'{value}'"


# "Published" as ``Film.objects.published()`` reads it (``Film.Status``).
PUBLISHED_STATUS = _sql_string(Film.Status.PUBLISHED)

# Which rows of each kind a visitor may find; ``t`` is the kind's table.
#
# The visitor's horizons arrive as arrays: ``film_ids``, every film they have
# set one for (published films only: :func:`horizons_from_cookies` checks);
# ``seen_all``, the films seen to the end; ``partly_ids`` and ``upto``, the
# others and how far into each. ``{seen_until_<field>}`` is true when the
# row's field is within its film's partial horizon (null, so false, for any
# other film): a lookup in a short array rather than a subquery per row.
VISIBLE = {
    "films": "t.status = {status}",
    "people": (
        "EXISTS (SELECT 1 FROM {credits} c JOIN {films} f ON f.id = c.film_id "
        "WHERE c.person_id = t.id AND f.status = {status})"
    ),
    "themes": "TRUE",
    # Spoiler-free characters of every published film; the others only
    # within the horizon.
    "characters": (
        "{published} AND (t.reveals_at IS NULL "
        "OR t.film_id = ANY(%(seen_all)s::bigint[]) OR {seen_until_reveals_at})"
    ),
    # Only scenes of films the visitor has set a horizon for. The film test
    # comes first so that the planner can combine the film index with the
    # text index. (The films are published ones; checked again all the same.)
    "scenes": (
        "t.film_id = ANY(%(film_ids)s::bigint[]) "
        "AND (t.film_id = ANY(%(seen_all)s::bigint[]) OR {seen_until_starts_at}) "
        "AND {published}"
    ),
}
SEEN_UNTIL = (
    "t.{field} <= (%(upto)s::interval[])"
    "[array_position(%(partly_ids)s::bigint[], t.film_id)]"
)
# Asked as "no unpublished film": an anti-join against the few drafts
# (film_unpublished_idx), far cheaper than looking up every match's film.
PUBLISHED = (
    "NOT EXISTS (SELECT 1 FROM {films} f "
    "WHERE f.id = t.film_id AND NOT f.status = {status})"
)
# What a hit shows: its title and slug, then its film's slug, title, year and
# original title (a film's own; nulls for a person or a theme).
SHOWN = {
    "films": "t.title, t.slug, t.slug, t.title, t.year, t.original_title",
    "people": "t.name, t.slug, NULL, NULL, NULL::integer, NULL",
    "themes": "t.name, t.slug, NULL, NULL, NULL::integer, NULL",
    "characters": "t.name, t.slug, f.slug, f.title, f.year, f.original_title",
    "scenes": "t.title, t.slug, f.slug, f.title, f.year, f.original_title",
}


def postgres_statement(kinds, query, horizons, offset, limit, version=False):
    """A search's SQL statement and its parameters (see :func:`_statement`)."""
    parsed = parse(query)
    params = {
        "config": CONFIG,
        # What a name is compared with: the words as typed, folded, stop
        # words and all (SQLite's trigram search compares the same).
        "names": " ".join(parsed.all_words),
        "exact": parsed.tsquery(),
        "prefix": parsed.tsquery(prefix=True),
        "film_ids": _id_array(horizons),
        "seen_all": _id_array(i for i, h in horizons.items() if h.is_all),
        "partly_ids": _id_array(i for i, h in horizons.items() if not h.is_all),
        "upto": [h.at for h in horizons.values() if not h.is_all],
        "limit": limit,
        "offset": offset,
    }
    return _statement(tuple(kinds), version), params


def _id_array(ids):
    """Film ids as one array literal (``{1,2,3}``): quicker to send than a
    list adapted element by element, and each id is an int, so it is safe."""
    return "{" + ",".join(str(int(pk)) for pk in ids) + "}"


@functools.cache
def _statement(kinds, version=False):
    """The SQL text for ``kinds``: for each, its best matches (``<kind>_hits``)
    and, for people, names like the query when no person matched; when no
    word matched anything (``matched``), the best matches of the words as
    beginnings of longer words too, and names like the query for every kind
    that has them and where nothing matched. With ``version``, each row
    starts with the catalogue's version, and a row of nulls after it stands
    for no results. Only our own constants and table names go into it;
    everything the visitor sends is a parameter."""
    quote = connection.ops.quote_name
    tables = {
        kind: quote(model._meta.db_table) for kind, (model, _) in DOCUMENTS.items()
    }
    names = {
        "films": tables["films"],
        "credits": quote(Credit._meta.db_table),
        "status": PUBLISHED_STATUS,
        "seen_until_reveals_at": SEEN_UNTIL.format(field="reveals_at"),
        "seen_until_starts_at": SEEN_UNTIL.format(field="starts_at"),
    }
    names["published"] = PUBLISHED.format(**names)
    page = "ORDER BY rank DESC, id LIMIT %(limit)s OFFSET %(offset)s"
    ctes = [
        "words AS MATERIALIZED (SELECT "
        "to_tsquery(%(config)s::regconfig, %(exact)s) AS exact, "
        "to_tsquery(%(config)s::regconfig, %(prefix)s) AS prefix)"
    ]
    selects = []
    for kind in kinds:
        table, visible = tables[kind], VISIBLE[kind].format(**names)

        def best(tsquery, when, table=table, visible=visible):
            return (
                f"(SELECT t.id, ts_rank(t.search_document, {tsquery}) AS rank "  # noqa: S608
                f"FROM {table} t WHERE {when} AND t.search_document @@ {tsquery} "
                f"AND {visible} {page})"
            )

        def alike(tsquery, when, kind=kind, table=table, visible=visible):
            # A misspelling: "tarkovksy" is like a word of "Andrei Tarkovsky".
            # ``%%>`` is word similarity above pg_trgm's threshold, answered
            # by the trigram index; the query reaches it through a subquery
            # so that the planner does not try it against the column's
            # statistics, which took longer than the search. Only where no
            # row of the kind matches: a page past the last match stays empty.
            name = f"t.{TRIGRAM_COLUMN}"
            return (
                f"(SELECT t.id, word_similarity(%(names)s, {name}) AS rank "  # noqa: S608
                f"FROM {table} t WHERE {when} "
                f"AND {name} %%> (SELECT %(names)s::text) AND {visible} "
                f"AND NOT EXISTS (SELECT 1 FROM {table} t "
                f"WHERE t.search_document @@ {tsquery} AND {visible}) {page})"
            )

        ctes.append(f"{kind}_hits AS {best(EXACT, 'TRUE')}")
        found = [f"(SELECT id, rank FROM {kind}_hits)"]  # noqa: S608
        if kind == "people":
            # People are found by name only and rarely share a word with a
            # query, so their names are tried whenever no person matched.
            found.append(alike(EXACT, MATCHED))
        found.append(best(PREFIX, f"NOT {MATCHED}"))
        if kind in TRIGRAM_NAMES:
            found.append(alike(PREFIX, f"NOT {MATCHED}"))
        film_join = (
            f" JOIN {tables['films']} f ON f.id = t.film_id"
            if kind in ("characters", "scenes")
            else ""
        )
        # A row's text is read for the page's rows only.
        selects.append(
            f"SELECT '{kind}' AS kind, p.rank, t.id, {SHOWN[kind]}, "  # noqa: S608
            f"t.{SNIPPET_FIELDS[kind]} AS text "
            f"FROM ({' UNION ALL '.join(found)}) p "
            f"JOIN {table} t ON t.id = p.id{film_join}"
        )
    any_hits = " UNION ALL ".join(f"SELECT 1 FROM {kind}_hits" for kind in kinds)  # noqa: S608
    ctes.append(f"matched AS (SELECT EXISTS ({any_hits}) AS found)")
    hits = " UNION ALL ".join(selects)
    if not version:
        return f"WITH {', '.join(ctes)} {hits} ORDER BY kind, rank DESC, id"
    ctes.append(f"version AS ({_version_row()})")
    return (
        f"WITH {', '.join(ctes)} SELECT v.version, r.* FROM version v "  # noqa: S608
        f"LEFT JOIN ({hits}) r ON TRUE ORDER BY r.kind, r.rank DESC, r.id"
    )


@functools.cache
def _version_row():
    """SQL for one row, ``version``: the catalogue's version (0 before its
    first write, as ``pages.catalogue_version`` reads it)."""
    table = connection.ops.quote_name(CatalogueVersion._meta.db_table)
    return f"SELECT coalesce((SELECT version FROM {table} WHERE id = 1), 0) AS version"  # noqa: S608


def _postgres(kinds, query, horizons, offset, limit, version=False):
    """What :func:`search` finds, by kind; with ``version``, a pair: that and
    the catalogue's version it is of (None when nothing was searched)."""
    # No horizon set: no scene is visible, so scenes are not searched at all.
    kinds = [kind for kind in kinds if kind != "scenes" or horizons]
    if not kinds:
        return ({}, None) if version else {}
    parsed = parse(query)
    sql, params = postgres_statement(kinds, query, horizons, offset, limit, version)
    found, read = {}, None
    with _server_bound(connection.cursor()) as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            if version:
                read, *row = row
                if row[0] is None:  # nothing found
                    continue
            kind, _, _, title, slug, *film, text = row
            found.setdefault(kind, []).append(
                Found(
                    kind,
                    title,
                    slug,
                    FilmRef(*film) if film[0] else None,
                    _word_snippet(text, parsed.words),
                )
            )
    return (found, read) if version else found


def _server_bound(cursor):
    """Django's ``cursor`` (query logging, error wrapping and all), binding
    its parameters on the server rather than in the statement's text, so
    that psycopg can prepare the statement. Only this cursor does: Django's
    own queries stay as they are, bound on the client and never prepared."""
    cursor.cursor.close()
    cursor.cursor = _statement_cursor()(connection.connection)
    return cursor


@functools.cache
def _statement_cursor():
    """Django's ``ServerBindingCursor``, remembering how each statement's
    placeholders are rewritten for the server. psycopg remembers that for
    statements of up to 4 KB only, and rewriting this one (7 KB and more)
    took a tenth of a search: here it is done once a statement a process.
    Only our own few statement texts (:func:`_statement`) reach it."""
    from django.db.backends.postgresql.base import ServerBindingCursor
    from psycopg._queries import PostgresQuery, _query2pg_nocache

    rewritten = functools.lru_cache(maxsize=128)(_query2pg_nocache)

    class StatementQuery(PostgresQuery):
        __slots__ = ()

        def convert(self, query, vars):
            if vars is None:
                return super().convert(query, vars)
            self.query, self._want_formats, self._order, self._parts = rewritten(
                self._ensure_bytes(query), self._tx.encoding
            )
            self.dump(vars)

    class StatementCursor(ServerBindingCursor):
        _query_cls = StatementQuery

    return StatementCursor


# --- SQLite and other databases ------------------------------------------------------


def visible(kind, horizons):
    """Rows of ``kind`` a visitor may find, given their horizon per film id."""
    published = Film.objects.published()
    if kind == "films":
        return published
    if kind == "people":
        return Person.objects.filter(
            Exists(Credit.objects.filter(person=OuterRef("pk"), film__in=published))
        )
    if kind == "themes":
        return Theme.objects.all()
    field, nullable = (
        ("reveals_at", True) if kind == "characters" else ("starts_at", False)
    )
    # Films seen to the end in one IN clause; the others each with their time.
    seen_all = [film_id for film_id, h in horizons.items() if h.is_all]
    within = Q(film_id__in=seen_all) if seen_all else Q(pk__in=[])
    for film_id, horizon in horizons.items():
        if not horizon.is_all:
            within |= Q(film_id=film_id) & horizon.q(field, nullable=nullable)
    model = Character if kind == "characters" else Scene
    rows = model.objects.filter(film__in=published).select_related("film")
    if kind == "characters":
        # Spoiler-free characters of every film, the others within the horizon.
        return rows.filter(Q(reveals_at__isnull=True) | within)
    return rows.filter(within)


def _fallback(kinds, query, horizons, offset, limit):
    """``icontains`` on every searched field, every word; names first."""
    words = query.replace('"', " ").split()
    phrase = " ".join(words)
    found = {}
    for kind in kinds:
        fields = [field for field, _ in DOCUMENTS[kind][1]]
        matches = Q()
        for word in words:
            matches &= _any_field_contains(fields, word)
        name_field = NAME_FIELDS.get(kind) or fields[0]
        ordered = (
            visible(kind, horizons)
            .filter(matches)
            .annotate(
                by_name=Case(
                    When(**{f"{name_field}__icontains": phrase}, then=Value(0)),
                    default=Value(1),
                )
            )
            .order_by("by_name", name_field, "pk")[offset : offset + limit]
        )
        found[kind] = [
            Found(
                kind,
                getattr(row, name_field),
                row.slug,
                FilmRef.of(row if kind == "films" else row.film)
                if kind in ("films", "characters", "scenes")
                else None,
                _snippet(getattr(row, SNIPPET_FIELDS[kind]), words),
            )
            for row in ordered
        ]
    return found


def _any_field_contains(fields, word):
    condition = Q()
    for field in fields:
        condition |= Q(**{f"{field}__icontains": word})
    return condition


def _snippet(text, words):
    """Up to ``SNIPPET_WORDS`` words around the first match, matches marked.

    Words shorter than ``MIN_LENGTH`` are not marked (every "a" would be).
    Matches are found in the plain text and each piece escaped on its own, so
    a mark never lands inside another mark or an HTML entity.
    """
    tokens = (text or "").split()
    marked = sorted(
        {w.lower() for w in words if len(w) >= MIN_LENGTH}, key=len, reverse=True
    )
    start = next(
        (
            i
            for i, token in enumerate(tokens)
            if any(w in token.lower() for w in marked)
        ),
        0,
    )
    start = max(0, start - SNIPPET_WORDS // 3)
    piece = " ".join(tokens[start : start + SNIPPET_WORDS])
    parts, done = [], 0
    if marked:
        for match in re.finditer("|".join(map(re.escape, marked)), piece, re.I):
            parts += [escape(piece[done : match.start()]), "<mark>"]
            parts += [escape(match.group()), "</mark>"]
            done = match.end()
    parts.append(escape(piece[done:]))
    prefix = "… " if start else ""
    suffix = " …" if start + SNIPPET_WORDS < len(tokens) else ""
    return mark_safe(prefix + "".join(parts) + suffix)  # noqa: S308 — escaped


# --- SQLite: FTS5 -------------------------------------------------------------------------
#
# One statement a kind: the visible rows whose FTS5 row matches, ranked by
# bm25 with the weights of ``search_index.TABLES``, cut to the page, with
# what a hit shows. Scenes are first limited to the visitor's films inside
# the index (each scene's row holds its film's token), so that a common word
# in 300,000 scenes costs no more than in the few films they have seen. The
# visitor's horizons are a table of parameters (``seen``), never SQL text.

SQLITE_SHOWN = {
    # title, slug, film slug, film title, year, original title, snippet text
    "films": "t.title, t.slug, t.slug, t.title, t.year, t.original_title, t.premise",
    "people": "t.name, t.slug, NULL, NULL, NULL, NULL, t.original_name",
    "themes": "t.name, t.slug, NULL, NULL, NULL, NULL, t.description",
    "characters": (
        "t.name, t.slug, f.slug, f.title, f.year, f.original_title, t.description"
    ),
    "scenes": "t.title, t.slug, f.slug, f.title, f.year, f.original_title, t.summary",
}
SQLITE_VISIBLE = {
    "films": "t.status = {status}",
    "people": (
        "EXISTS (SELECT 1 FROM {credits} c JOIN {films} f ON f.id = c.film_id "
        "WHERE c.person_id = t.id AND f.status = {status})"
    ),
    "themes": "1",
    "characters": "f.status = {status} AND (t.reveals_at IS NULL OR {seen_reveals_at})",
    "scenes": "f.status = {status} AND {seen_starts_at}",
}
# Films seen to the end are one IN list (SQLite looks each row up in it);
# the others, with how far into each, a small table of parameters.
SQLITE_SEEN = (
    "(t.film_id IN (SELECT film FROM seen_all) OR EXISTS (SELECT 1 FROM seen h "
    "WHERE h.film = t.film_id AND t.{field} <= h.upto))"
)
FILM_TOKEN = re.compile(r"[fg]\d", re.I)  # what may match a scene's film tokens
CANDIDATES = 100  # names sharing trigrams with a misspelling, scored in Python
FIRST_RANKED = 100  # matches looked up at first (see _sqlite_matches)


def _sqlite_parts(kind):
    """(FROM … JOIN …, the visibility condition) for ``kind``'s table ``t``."""
    quote = connection.ops.quote_name
    model = DOCUMENTS[kind][0]
    films = quote(Film._meta.db_table)
    joins = f"JOIN {quote(model._meta.db_table)} t ON t.id = p.id"
    if kind in ("characters", "scenes"):
        joins += f" JOIN {films} f ON f.id = t.film_id"
    condition = SQLITE_VISIBLE[kind].format(
        credits=quote(Credit._meta.db_table),
        films=films,
        status=PUBLISHED_STATUS,
        seen_reveals_at=SQLITE_SEEN.format(field="reveals_at"),
        seen_starts_at=SQLITE_SEEN.format(field="starts_at"),
    )
    return joins, condition


def _seen(horizons):
    """The visitor's horizons as common table expressions and their params:
    ``seen_all`` (films seen to the end) and ``seen`` (film, how far)."""
    ended = [int(pk) for pk, horizon in horizons.items() if horizon.is_all]
    partly = [(int(pk), h) for pk, h in horizons.items() if not h.is_all]
    params = [*ended]
    for pk, horizon in partly:
        params += [pk, duration_microseconds(horizon.at)]
    ended_sql = (
        "SELECT NULL WHERE 0"
        if not ended
        else "VALUES " + ", ".join(["(%s)"] * len(ended))
    )
    partly_sql = (
        "SELECT NULL, NULL WHERE 0"
        if not partly
        else "VALUES " + ", ".join(["(%s, %s)"] * len(partly))
    )
    return (
        f"WITH seen_all(film) AS ({ended_sql}), seen(film, upto) AS ({partly_sql}) ",
        params,
    )


def _sqlite(kinds, query, horizons, offset, limit):
    """As :func:`_postgres` does: words as they are; when nothing matched,
    as beginnings of longer words too, and names like the query."""
    parsed = parse(query)
    kinds = [kind for kind in kinds if kind != "scenes" or horizons]
    found = {
        kind: _sqlite_matches(kind, parsed, horizons, offset, limit) for kind in kinds
    }
    second = not any(found.values())
    prefix = second and parsed.open_ended
    if prefix:
        found = {
            kind: _sqlite_matches(kind, parsed, horizons, offset, limit, prefix)
            for kind in kinds
        }
    # Names like the query where nothing matched: people's always, others'
    # only when no word matched anything.
    for kind in NAME_FIELDS if second else ["people"]:
        if (
            kind in found
            and not found[kind]
            and (
                offset == 0 or not _sqlite_matches(kind, parsed, horizons, 0, 1, prefix)
            )
        ):
            found[kind] = _sqlite_similar(kind, parsed, horizons, offset, limit)
    return found


def _sqlite_matches(kind, parsed, horizons, offset, limit, prefix=False):
    _, columns, weights = search_index.TABLES[kind]
    searched = [c for c in columns if c != "film"]
    # A column filter costs FTS5 a look at every match's columns, so there
    # is one only where it changes what matches: a scene's film column holds
    # its film's tokens ("f12", "g0"), which only a word with an f or a g
    # before a digit can match.
    typed = [w for group in parsed.groups for term in group for w in term.words]
    typed += [w for term in parsed.excluded for w in term.words]
    if len(searched) == len(columns) or not any(map(FILM_TOKEN.search, typed)):
        searched = None
    expression = parsed.fts5(searched, prefix)
    if not expression:
        return []
    if kind == "scenes":
        films = " OR ".join(_film_tokens(horizons))
        expression = f"{expression} AND film : ({films})"
    fts = search_index.table(kind)
    joins, condition = _sqlite_parts(kind)
    seen, params = _seen(horizons if kind in ("characters", "scenes") else {})
    rank = f"bm25({fts}, {', '.join(str(w) for w in weights)})"
    # Ranked in the index first, then looked up and tested for visibility:
    # the best FIRST rows only, for reading each match's row cost more than
    # ranking them all. When fewer than a page of them are visible and
    # there were more, all of them.
    first = max(FIRST_RANKED, 4 * (offset + limit))
    for cut in (first, -1):
        sql = (
            f"{seen}, p AS MATERIALIZED (SELECT rowid AS id, {rank} AS rank "  # noqa: S608
            f"FROM {fts} WHERE {fts} MATCH %s ORDER BY rank, rowid LIMIT %s) "
            f"SELECT (SELECT count(*) FROM p), t.id, {SQLITE_SHOWN[kind]} FROM p "
            f"{joins} WHERE {condition} ORDER BY p.rank, p.id LIMIT %s OFFSET %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, expression, cut, limit, offset])
            rows = cursor.fetchall()
        if len(rows) == limit or not rows or rows[0][0] < first:
            break
    return [_sqlite_found(kind, row[1:], parsed.words) for row in rows]


def _film_tokens(film_ids):
    """FTS5 terms that match the scenes of these films (and, where a group
    token stands for many of them, of a few others, which the horizon test
    in SQL leaves out)."""
    groups = {}
    for pk in film_ids:
        groups.setdefault(int(pk) // search_index.FILM_GROUP, []).append(int(pk))
    tokens = []
    for group, members in sorted(groups.items()):
        if len(members) >= search_index.FILM_GROUP // 8:
            tokens.append(f'"g{group}"')
        else:
            tokens += [f'"f{pk}"' for pk in sorted(members)]
    return tokens


def _sqlite_similar(kind, parsed, horizons, offset, limit):
    """Rows of ``kind`` whose name is like the query (pg_trgm's word
    similarity, above its threshold), most alike first."""
    query = " ".join(parsed.all_words)
    # Candidates share four letters in a row with the query (two trigrams in
    # a row): a name as alike as the threshold asks nearly always does, and
    # far fewer names share that than share a single trigram ("the").
    grams = sorted(
        {
            word[i : i + 4] if len(word) > 3 else word
            for word in parsed.all_words
            if len(word) > 2
            for i in range(max(1, len(word) - 3))
        }
    )
    if not grams:
        return []
    fts = search_index.trigram_table(kind)
    joins, condition = _sqlite_parts(kind)
    seen, params = _seen(horizons if kind in ("characters", "scenes") else {})
    sql = (
        f"{seen}, p AS MATERIALIZED (SELECT rowid AS id, name, rank FROM {fts} "  # noqa: S608
        f"WHERE {fts} MATCH %s ORDER BY rank LIMIT {CANDIDATES}) "
        f"SELECT p.name, t.id, {SQLITE_SHOWN[kind]} FROM p {joins} WHERE {condition}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, " OR ".join(f'"{g}"' for g in grams)])
        rows = cursor.fetchall()
    # A name is no more alike than the share of the query's trigrams it
    # holds: most candidates fall short of the threshold on that alone, and
    # only the others are scored stretch by stretch.
    wanted = set(trigrams(query))
    least = (SIMILARITY - 1e-9) * len(wanted)
    scored = sorted(
        (
            (word_similarity(query, name), row)
            for name, *row in rows
            if len(wanted.intersection(trigrams(name))) >= least
        ),
        key=lambda pair: (-pair[0], pair[1][0]),
    )
    alike = [row for score, row in scored if score >= SIMILARITY - 1e-9]
    return [
        _sqlite_found(kind, row, parsed.words) for row in alike[offset : offset + limit]
    ]


def _sqlite_found(kind, row, words):
    _, title, slug, film_slug, film_title, year, original, text = row
    film = FilmRef(film_slug, film_title, year, original) if film_slug else None
    return Found(kind, title, slug, film, _word_snippet(text, words))


def trigrams(text):
    """``text``'s trigrams in order, as ``pg_trgm`` makes them: each word
    folded and padded with two spaces before and one after."""
    grams = []
    for word in WORD.findall(fold(text)):
        padded = f"  {word} "
        grams += [padded[i : i + 3] for i in range(len(padded) - 2)]
    return grams


def word_similarity(query, text):
    """``pg_trgm``'s ``word_similarity(query, text)``: the best, over the
    stretches of ``text``'s trigrams, of shared / (query's + stretch's -
    shared) — 1 when the query is a word of the text, less for each trigram
    a misspelling changes."""
    wanted = set(trigrams(query))
    if not wanted:
        return 0.0
    grams = trigrams(text)
    hits = [i for i, gram in enumerate(grams) if gram in wanted]
    best = 0.0
    for n, first in enumerate(hits):
        shared = set()
        for last in hits[n:]:
            shared.add(grams[last])
            count = len(shared)
            best = max(best, count / (len(wanted) + last - first + 1 - count))
    return best


def _stem(word):
    """A word's likely stem, only to mark its forms in a snippet."""
    for ending in ("ies", "es", "s", "ing", "ed", "y"):
        if word.endswith(ending) and len(word) - len(ending) >= PREFIX_MIN:
            return word[: -len(ending)]
    return word


def _word_snippet(text, words):
    """Like :func:`_snippet`, for full-text matches: whole words are marked
    whose folded form begins with a word searched for (or its stem)."""
    # Stop words are kept in a quoted phrase's words, but never marked.
    stems = {_stem(w) for w in words if len(w) >= MIN_LENGTH and w not in STOPWORDS}
    stems = tuple(sorted(stems, key=len))
    text = text or ""
    tokens = text.split()
    if stems:
        first = next(iter(_stem_spans(text, stems)), None)
        start = _token_at(text, first[0]) if first else 0
    else:
        start = 0
    start = max(0, start - SNIPPET_WORDS // 3)
    piece = " ".join(tokens[start : start + SNIPPET_WORDS])
    parts, done = [], 0
    for begin, end in _stem_spans(piece, stems) if stems else ():
        parts += [escape(piece[done:begin]), "<mark>"]
        parts += [escape(piece[begin:end]), "</mark>"]
        done = end
    parts.append(escape(piece[done:]))
    prefix = "… " if start else ""
    suffix = " …" if start + SNIPPET_WORDS < len(tokens) else ""
    return mark_safe(prefix + "".join(parts) + suffix)  # noqa: S308 — escaped


# A letter beyond ASCII ("ł" in "Stanisław", "Андрей"): a word with one is
# one that folding may change more than lower-casing does.
ACCENTED = re.compile(r"[^\W\x00-\x7f]")


@functools.lru_cache(maxsize=256)
def _stem_pattern(stems):
    """Words beginning with one of ``stems``, in any case."""
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, stems)) + r")\w*", re.I)


def _stem_spans(text, stems):
    """Where the words of ``text`` are whose folded form begins with one of
    ``stems`` (a tuple): (start, end) pairs, in order. One regular expression
    finds them in the whole text, as folding is lower-casing for most words
    (word by word, folding each, cost more than the rest of presenting a
    hit); only words with a letter beyond ASCII are folded one by one."""
    spans = [match.span() for match in _stem_pattern(stems).finditer(text)]
    if not text.isascii() and ACCENTED.search(text):
        found = {begin for begin, _ in spans}
        spans += [
            match.span()
            for match in WORD.finditer(text)
            if match.start() not in found
            and not match.group().isascii()
            and fold(match.group()).startswith(stems)
        ]
        spans.sort()
    return spans


def _token_at(text, position):
    """Which of ``text.split()``'s tokens holds the character at ``position``."""
    before = len(text[:position].split())
    return before if position == 0 or text[position - 1].isspace() else before - 1


# Full text on both engines; ``icontains`` on any other database.
ENGINES = {"postgresql": _postgres, "sqlite": _sqlite}


# --- Presenting a result -----------------------------------------------------------------


def _hit(found):
    film = found.film
    context = _film_context(film) if film else ""
    url = _url(
        get_script_prefix(),
        get_urlconf(),
        found.kind,
        found.slug,
        film.slug if found.kind in ("characters", "scenes") else None,
    )
    return Hit(found.kind, found.title, url, context, found.snippet)


@functools.lru_cache(maxsize=4096)
def _url(prefix, urlconf, kind, slug, film_slug):
    """A hit's page, as its model's ``get_absolute_url()`` gives it: called
    with just the slugs it reads (a search row is not a model instance, and
    making one for each hit cost more than the rest of presenting it). A
    path depends on nothing else than these and the URLconf and its prefix,
    so each is reversed once per process: reversing cost more than the rest
    of presenting a hit."""
    row = SimpleNamespace(slug=slug)
    if film_slug is not None:
        row.film = SimpleNamespace(slug=film_slug)
    return DOCUMENTS[kind][0].get_absolute_url(row)


def _film_context(film):
    original = (
        f" · {film.original_title}"
        if film.original_title not in ("", film.title)
        else ""
    )
    return f"{film.title} ({film.year}){original}"


def _cookie_horizons(request):
    """Film slug → the horizon the visitor's cookie sets for it (past none)."""
    from films.spoilers import COOKIE_PREFIX, InvalidHorizon

    wanted = {}
    for name, value in request.COOKIES.items():
        if name.startswith(COOKIE_PREFIX):
            try:
                horizon = Horizon.parse(value)
            except InvalidHorizon:
                continue
            if not horizon.is_none:
                wanted[name[len(COOKIE_PREFIX) :]] = horizon
    return wanted


def horizons_from_cookies(request, *, version=None):
    """Each published film the visitor has set a horizon for → that horizon.

    With ``version`` (the function that reads the catalogue's version), return
    ``(horizons, version)``, the version read with the films, in the same
    statement: a search under these horizons is of that version or a newer
    one, never older (a film published in between could not be searched).
    """
    wanted = _cookie_horizons(request)
    if not wanted:
        return {} if version is None else ({}, None)
    # Browsers keep a few hundred cookies a site at most; never ask for more.
    slugs = list(wanted)[:500]
    read = None
    if connection.vendor in ("postgresql", "sqlite"):
        # One parameter rather than hundreds of placeholders: an array on
        # PostgreSQL, a JSON list on SQLite.
        quote = connection.ops.quote_name
        among = (
            "f.slug = ANY(%s::text[])"
            if connection.vendor == "postgresql"
            else "f.slug IN (SELECT value FROM json_each(%s))"
        )
        # The catalogue's version on every row; a row of it and nulls when
        # no film is found.
        sql = (
            f"SELECT v.version, f.id, f.slug FROM ({_version_row()}) v "  # noqa: S608
            f"LEFT JOIN {quote(Film._meta.db_table)} f "
            f"ON f.status = {PUBLISHED_STATUS} AND {among}"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                sql,
                [slugs if connection.vendor == "postgresql" else json.dumps(slugs)],
            )
            rows = cursor.fetchall()
        films = [(pk, slug) for _, pk, slug in rows if pk is not None]
        read = rows[0][0] if rows else None
    else:
        if version is not None:
            read = version()
        films = Film.objects.published().filter(slug__in=slugs).order_by()
        films = films.values_list("id", "slug")
    horizons = {pk: wanted[slug] for pk, slug in films}
    return horizons if version is None else (horizons, read)
