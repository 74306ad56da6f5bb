"""Search across films, people, characters, themes and scenes — never past
the visitor's horizon.

PostgreSQL: full-text search over weighted ``tsvector`` expressions (titles and
names above premises and descriptions above scene text), each backed by a
stored generated column with a GIN index that migration 0003 builds from the
very same expressions,
plus ``pg_trgm`` similarity on names so that a misspelt "tarkovksy" still finds
its man. Headlines are computed only for the results on the page shown.

SQLite (the embedded default): the same interface with ``icontains`` and
snippets cut in Python — no ranking beyond "name before text", no typo
tolerance, no stemming.

Spoiler safety: a film's premise, people, themes and spoiler-free characters
are always searchable; a character introduced later, and every scene, only
within the visitor's horizon for that film (``none`` unless they have chosen
one). Hidden rows are filtered out in the database, so their text is never
loaded, matched or shown.
"""

import re
from dataclasses import dataclass

from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVector,
    SearchVectorField,
    TrigramWordSimilarity,
)
from django.db import connection
from django.db.models import Case, Exists, OuterRef, Q, Value, When
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe

from films.models import Character, Credit, Film, Person, Scene, Theme
from films.spoilers import Horizon

CONFIG = "english"
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

# Sentinels that cannot occur in editor text; replaced by <mark> after escaping.
START, STOP = "\x02", "\x03"


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


# The searched text of each kind, with its weight. Migration 0003 indexes
# exactly these expressions; a query must use them unchanged to use the index.
DOCUMENTS = {
    "films": (Film, [("title", "A"), ("original_title", "A"), ("premise", "B")]),
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
SNIPPET_FIELDS = {
    "films": "premise",
    "people": "original_name",
    "characters": "description",
    "themes": "description",
    "scenes": "summary",
}


def document(kind):
    """The weighted vector of ``kind``, as an expression (for the migration)."""
    return vector(*DOCUMENTS[kind][1])


def stored_document(kind):
    """The stored, indexed ``search_document`` column of ``kind``'s table.

    Migration 0003 adds it on PostgreSQL as a generated column computed from
    :func:`document`; reading it avoids parsing every match's text again.
    """
    table = DOCUMENTS[kind][0]._meta.db_table
    # The table name is our own model's, never input.
    column = f'"{table}"."search_document"'
    return RawSQL(column, (), output_field=SearchVectorField())  # noqa: S611


@dataclass
class Hit:
    kind: str
    title: str
    url: str
    context: str  # e.g. "Stalker (1979) · 1:25" — never spoiler-bearing
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


def search(raw_query, horizons, *, kind=None, page=1):
    """Run a search; return the groups to show (one group if ``kind`` is set)."""
    query, _ = clean_query(raw_query)
    if not query:
        return []
    kinds = [kind] if kind else list(KINDS)
    limit = PAGE_SIZE if kind else PER_KIND
    offset = (page - 1) * limit if kind else 0
    engine = ENGINES.get(connection.vendor, _fallback)
    groups = []
    for name in kinds:
        rows = engine(name, query, visible(name, horizons), offset, limit + 1)
        groups.append(
            Group(
                kind=name,
                label=KINDS[name],
                hits=[_hit(name, row, snippet) for row, snippet in rows[:limit]],
                has_more=len(rows) > limit,
            )
        )
    return groups


# --- PostgreSQL ------------------------------------------------------------------


def _postgres(kind, query, rows, offset, limit):
    search_query = SearchQuery(query, search_type="websearch", config=CONFIG)
    doc = stored_document(kind)
    matched = rows.annotate(document=doc).filter(document=search_query)
    page = ranked_page(kind, matched, SearchRank(doc, search_query), search_query)
    found = list(page[offset : offset + limit])
    name_field = NAME_FIELDS.get(kind)
    if not found and name_field and (offset == 0 or not matched.exists()):
        # No word matched: perhaps a misspelling. Word similarity finds
        # "tarkovksy" in "Andrei Tarkovsky" (trigram GIN index).
        similar = rows.filter(**{f"{name_field}__trigram_word_similar": query})
        rank = TrigramWordSimilarity(query, name_field)
        page = ranked_page(kind, similar, rank, search_query)
        found = list(page[offset : offset + limit])
    return [(row, _marked(row.headline)) for row in found]


def ranked_page(kind, rows, rank, search_query):
    """``rows`` best first, each with a highlighted headline.

    ``ts_headline`` re-reads a row's text — the costly part of a search — but
    PostgreSQL evaluates it above the sort, so once a LIMIT is applied it runs
    for the rows on the page only (``tests/test_search.py`` checks the plan).
    """
    return (
        rows.annotate(rank=rank)
        .order_by("-rank", "pk")
        .annotate(
            headline=SearchHeadline(
                SNIPPET_FIELDS[kind],
                search_query,
                config=CONFIG,
                start_sel=START,
                stop_sel=STOP,
                max_words=SNIPPET_WORDS,
                min_words=12,
                max_fragments=2,
                fragment_delimiter=" … ",
            )
        )
    )


def _marked(text):
    """Escape a headline, then turn the sentinels into <mark> elements."""
    html = escape(text or "").replace(START, "<mark>").replace(STOP, "</mark>")
    return mark_safe(html)  # noqa: S308 — escaped above; only our <mark> added


# --- SQLite and other databases ------------------------------------------------------


def _fallback(kind, query, rows, offset, limit):
    fields = [field for field, _ in DOCUMENTS[kind][1]]
    words = query.replace('"', " ").split()
    matches = Q()
    for word in words:
        matches &= _any_field_contains(fields, word)
    name_field = NAME_FIELDS.get(kind) or fields[0]
    ordered = (
        rows.filter(matches)
        .annotate(
            by_name=Case(
                When(**{f"{name_field}__icontains": query}, then=Value(0)),
                default=Value(1),
            )
        )
        .order_by("by_name", name_field, "pk")[offset : offset + limit]
    )
    return [
        (row, _snippet(getattr(row, SNIPPET_FIELDS[kind]), words)) for row in ordered
    ]


def _any_field_contains(fields, word):
    condition = Q()
    for field in fields:
        condition |= Q(**{f"{field}__icontains": word})
    return condition


def _snippet(text, words):
    """Up to ``SNIPPET_WORDS`` words around the first match, matches marked."""
    tokens = (text or "").split()
    lowered = [w.lower() for w in words]
    start = next(
        (
            i
            for i, token in enumerate(tokens)
            if any(w in token.lower() for w in lowered)
        ),
        0,
    )
    start = max(0, start - SNIPPET_WORDS // 3)
    piece = " ".join(tokens[start : start + SNIPPET_WORDS])
    html = escape(piece)
    for word in sorted(set(lowered), key=len, reverse=True):
        html = re.sub(
            f"({re.escape(escape(word))})", r"<mark>\1</mark>", html, flags=re.I
        )
    prefix = "… " if start else ""
    suffix = " …" if start + SNIPPET_WORDS < len(tokens) else ""
    return mark_safe(prefix + html + suffix)  # noqa: S308 — escaped above


# Full text where the database has it; ``icontains`` everywhere else.
ENGINES = {"postgresql": _postgres}


# --- Presenting a result -----------------------------------------------------------------


def _hit(kind, row, snippet):
    if kind == "films":
        return Hit(kind, row.title, row.get_absolute_url(), _film_context(row), snippet)
    if kind == "people":
        return Hit(kind, row.name, row.get_absolute_url(), "", snippet)
    if kind == "themes":
        return Hit(kind, row.name, row.get_absolute_url(), "", snippet)
    film = row.film
    if kind == "characters":
        url = reverse("films:character", args=[film.slug, row.slug])
        return Hit(kind, row.name, url, _film_context(film), snippet)
    url = reverse("films:timeline", args=[film.slug]) + f"#{row.slug}"
    return Hit(kind, row.title, url, _film_context(film), snippet)


def _film_context(film):
    original = (
        f" · {film.original_title}"
        if film.original_title not in ("", film.title)
        else ""
    )
    return f"{film.title} ({film.year}){original}"


def horizons_from_cookies(request):
    """Each published film the visitor has set a horizon for → that horizon."""
    from films.spoilers import COOKIE_PREFIX, InvalidHorizon

    wanted = {}
    for name, value in request.COOKIES.items():
        if name.startswith(COOKIE_PREFIX):
            try:
                wanted[name[len(COOKIE_PREFIX) :]] = Horizon.parse(value)
            except InvalidHorizon:
                continue
    wanted = {slug: h for slug, h in wanted.items() if not h.is_none}
    if not wanted:
        return {}
    films = Film.objects.published().filter(slug__in=list(wanted)[:500])
    return {pk: wanted[slug] for pk, slug in films.values_list("id", "slug")}
