"""Search: finds films, people, characters, themes and scenes — never past
the visitor's horizon; bad input always gets a sensible page."""

import re

import pytest
from django.db import connection
from django.test import Client

from films.models import Character, Film, Person, Scene
from tests.factories import build_guide, make_film

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="full-text ranking, typo tolerance and GIN indexes are PostgreSQL features",
)


def hits(response):
    return re.findall(r'class="hit-title" href="([^"]+)">([^<]+)</a>', response.text)


def hit_urls(response):
    return [url for url, _ in hits(response)]


def first_snippet(response):
    """The HTML of the first hit's snippet."""
    return re.search(r'<p class="snippet" data-nosnippet>(.*?)</p>', response.text)[1]


@pytest.fixture
def guide():
    film = build_guide(slug="stalker-1979", title="Stalker", original_title="Сталкер")
    film.scenes.filter(screen_position=4).update(
        title="The Meat Grinder",
        summary="A long pipe the guide calls the meat grinder.",
    )
    return film


def test_a_title_finds_its_film(client, guide):
    response = client.get("/search/", {"q": "Stalker"})
    assert response.status_code == 200
    assert "/films/stalker-1979/" in hit_urls(response)


def test_a_cyrillic_original_title_finds_its_film(client, guide):
    assert "/films/stalker-1979/" in hit_urls(client.get("/search/", {"q": "Сталкер"}))


def test_people_characters_and_themes_are_found(client, guide):
    assert "/people/the-director/" in hit_urls(
        client.get("/search/", {"q": "Director"})
    )
    assert "/films/stalker-1979/characters/hero/" in hit_urls(
        client.get("/search/", {"q": "Hero"})
    )
    assert "/themes/memory/" in hit_urls(client.get("/search/", {"q": "memory"}))


def test_a_hidden_scenes_words_are_not_found_at_horizon_none(client, guide):
    response = client.get("/search/", {"q": "meat grinder"})
    assert hits(response) == []
    assert "Meat Grinder" not in response.text.split("<main")[1].replace(
        'value="meat grinder"', ""
    ).replace("for “meat grinder”", "")
    assert "pipe the guide calls" not in response.text


def test_a_hidden_scene_is_found_once_the_horizon_passes_it(client, guide):
    client.cookies["seen_stalker-1979"] = "0:14"
    assert hits(client.get("/search/", {"q": "meat grinder"})) == []
    client.cookies["seen_stalker-1979"] = "0:15"
    response = client.get("/search/", {"q": "meat grinder"})
    assert hits(response) == [
        ("/films/stalker-1979/timeline/#scene-4", "The Meat Grinder")
    ]
    assert "<mark>" in first_snippet(response)
    client.cookies["seen_stalker-1979"] = "all"
    assert hits(client.get("/search/", {"q": "meat grinder"}))


def test_bad_horizon_cookies_count_as_none_and_never_break_search(client, guide):
    other = build_guide(slug="other-2000", title="Other")
    other.scenes.filter(screen_position=4).update(title="The Meat Grinder")
    # A Cookie header as anyone may send it, names and values unchecked.
    cookies = "; ".join(
        [
            "seen_stalker-1979=yesterday",
            "seen_no-such-film-1900=all",
            "seen_' OR true --=all",
            'seen_{"},\\=all',
            "seen_other-2000=all",
        ]
    )
    response = client.get("/search/", {"q": "meat grinder"}, HTTP_COOKIE=cookies)
    assert response.status_code == 200
    # The bad ones are ignored (Stalker stays at none); the good one counts.
    assert hit_urls(response) == ["/films/other-2000/timeline/#scene-4"]
    assert Film.objects.count() == 2


def test_a_character_met_later_is_not_found_before(client, guide):
    assert hits(client.get("/search/", {"q": "Late Arrival"})) == []
    assert hits(client.get("/search/", {"q": "LATE-ARRIVAL-SECRET"})) == []
    client.cookies["seen_stalker-1979"] = "0:10"
    assert "/films/stalker-1979/characters/late-arrival/" in hit_urls(
        client.get("/search/", {"q": "Late Arrival"})
    )


def test_texts_that_search_does_not_cover_are_never_found(client, guide):
    client.cookies["seen_stalker-1979"] = "all"
    for secret in ["ENDING-SECRET", "PLOT-2-SECRET", "HERO-BEAT-3-SECRET"]:
        assert hits(client.get("/search/", {"q": secret})) == [], secret


def test_draft_films_are_not_found(client):
    make_film(slug="secret-2001", title="Secretive Draft", status=Film.Status.DRAFT)
    assert hits(client.get("/search/", {"q": "Secretive"})) == []


def test_a_draft_films_scenes_and_characters_are_not_found_even_when_seen(client):
    from films.search import search
    from films.spoilers import Horizon

    draft = build_guide(slug="draft-2001", title="Unfinished", status="draft")
    client.cookies["seen_draft-2001"] = "all"
    for words in ["Scene title", "Late Arrival", "Hero", "Unfinished"]:
        assert hits(client.get("/search/", {"q": words})) == [], words
        # Even told that the visitor has seen it, search finds nothing of it.
        groups = search(words, {draft.pk: Horizon.parse("all")})
        assert [hit for group in groups for hit in group.hits] == [], words


def test_people_credited_only_in_drafts_are_not_found(client):
    from tests.factories import make_credit, make_person

    draft = make_film(slug="draft-2001", title="Unfinished", status="draft")
    make_credit(draft, make_person("hidden-director", name="Hidden Director"))
    assert hits(client.get("/search/", {"q": "Hidden Director"})) == []
    assert hits(client.get("/search/", {"q": "hiden director"})) == []


def test_a_page_past_the_last_match_adds_nothing_else(client):
    from tests.factories import make_credit, make_person

    film = make_film(slug="crew-2000", title="Crew")
    for n in range(25):
        make_credit(
            film,
            make_person(f"anna-zonova-{n:02d}", name=f"Anna Zonova {n:02d}"),
            role="cast",
        )
    first = client.get("/search/", {"q": "zonova", "kind": "people"})
    second = client.get("/search/", {"q": "zonova", "kind": "people", "page": "2"})
    third = client.get("/search/", {"q": "zonova", "kind": "people", "page": "3"})
    assert len(hits(first)) == 20
    assert len(hits(second)) == 5
    assert hits(third) == []
    assert not set(hit_urls(first)) & set(hit_urls(second))


def test_an_empty_query_prompts_instead_of_listing_everything(client, guide):
    response = client.get("/search/", {"q": "   "})
    assert response.status_code == 200
    assert hits(response) == []
    assert "Type a title, a name, a character, a theme" in response.text


def test_one_character_asks_for_more(client, guide):
    response = client.get("/search/", {"q": "s"})
    assert response.status_code == 200
    assert "Type at least 2 characters to search." in response.text
    assert hits(response) == []


def test_a_huge_query_is_cut_with_a_message(client, guide):
    response = client.get("/search/", {"q": "Stalker " + "x" * 10_000})
    assert response.status_code == 200
    assert "Your search was 10,008 characters long; only the first 200 were used." in (
        response.text
    )


@pytest.mark.parametrize(
    "query",
    [
        '"the hero',
        "stalker -memory",
        "stalker OR memory",
        "& | ! ( ) :* <-> \\",
        "'; DROP TABLE films_film; --",
        "1=1 OR 'a'='a'",
        "%_%",
        "Сталкер stalker スタルカー",
        "<script>alert(1)</script>",
        "\x00\x01",
    ],
)
def test_awkward_input_gets_a_page_never_an_error(client, guide, query):
    response = client.get("/search/", {"q": query})
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.text
    assert Film.objects.filter(slug="stalker-1979").exists()


def test_a_bad_kind_or_page_gets_a_message(client, guide):
    response = client.get(
        "/search/", {"q": "Stalker", "kind": "passwords", "page": "-3"}
    )
    assert response.status_code == 200
    assert "is not a kind of result; showing all kinds." in response.text
    assert "is not a page number; showing page 1." in response.text


def test_editor_text_in_a_snippet_is_escaped(client):
    build_guide(
        slug="xss-2000", title="Xss", premise="Tarkovsky <img src=x onerror=alert(1)>"
    )
    response = client.get("/search/", {"q": "Tarkovsky"})
    assert "<img src=x" not in response.text
    assert "&lt;img src=x" in response.text or hits(response)


def test_snippet_marks_are_well_formed(client):
    film = make_film(slug="marks-2000", title="Marks")
    film.characters.create(
        name="Tom", slug="tom", description="An amp & a boy with a mark."
    )
    response = client.get("/search/", {"q": "a boy amp mark", "kind": "characters"})
    html = first_snippet(response)
    assert "<mark>boy</mark>" in html
    assert "<mark>amp</mark>" in html
    assert "&amp;" in html  # the ampersand's entity left whole
    # Every tag is a whole <mark> or </mark>; none inside another.
    assert re.sub("</?mark>", "", html).count("<") == 0
    assert "<mark>a</mark>" not in html


def test_one_kind_is_paginated(client):
    for n in range(25):
        make_film(slug=f"zone-{n:02d}-2000", title=f"Zone {n:02d}")
    first = client.get("/search/", {"q": "Zone", "kind": "films"})
    assert len(hits(first)) == 20
    assert 'rel="next" href="?q=Zone&amp;kind=films&amp;page=2"' in first.text
    second = client.get("/search/", {"q": "Zone", "kind": "films", "page": "2"})
    assert len(hits(second)) == 5
    assert not set(hit_urls(first)) & set(hit_urls(second))


def test_the_query_count_is_constant_in_the_number_of_results(client):
    from django.test.utils import CaptureQueriesContext

    build_guide(slug="one-2000", title="Memory One")
    client.cookies["seen_one-2000"] = "all"
    with CaptureQueriesContext(connection) as few:
        client.get("/search/", {"q": "memory"})
    for n in range(15):
        build_guide(slug=f"more-{n}-2000", title=f"Memory {n}")
        client.cookies[f"seen_more-{n}-2000"] = "all"
    with CaptureQueriesContext(connection) as many:
        response = client.get("/search/", {"q": "memory"})
    assert len(hits(response)) == 6  # five films (of 16), one theme
    assert "More films" in response.text
    # One query for the visitor's films, then per kind one for the ranked page
    # (on PostgreSQL, when no word matched, a second by similarity of names).
    assert len(many) == len(few) <= 10


def test_a_snippet_marks_every_form_of_the_words_found_and_starts_near_them(client):
    film = make_film(slug="marks-2000", title="Marks")
    words = " ".join(f"word{n}" for n in range(40))
    film.characters.create(
        name="Tom",
        slug="tom",
        description=f"{words} Two Zones, one zone — and Łódź's ZONED laws.",
    )
    response = client.get("/search/", {"q": "zone lodz", "kind": "characters"})
    html = first_snippet(response)
    # The words before the first match are cut to a few, behind an ellipsis.
    assert html.startswith("… word")
    assert "word10 " not in html
    for marked in ["Zones", "zone", "Łódź", "ZONED"]:
        assert f"<mark>{marked}</mark>" in html, html
    assert "<mark>Two</mark>" not in html


@pytest.mark.parametrize("cookie", [None, "all"])
@pytest.mark.parametrize("query", ["stalker", "no such words anywhere"])
def test_with_the_page_cache_off_the_etag_follows_the_catalogue(
    client, guide, settings, query, cookie
):
    from django.test.utils import CaptureQueriesContext

    settings.PAGE_CACHE = False
    if cookie:
        client.cookies["seen_stalker-1979"] = cookie
    with CaptureQueriesContext(connection) as queries:
        first = client.get("/search/", {"q": query})
    if connection.vendor == "postgresql":
        # The catalogue's version comes with the results, in one statement,
        # or, for a visitor with horizons, with their films, read first.
        assert len(queries) == (2 if cookie else 1)
    etag = first["ETag"]
    again = client.get("/search/", {"q": query}, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    guide.title = "Stalker, edited"
    guide.save()
    edited = client.get("/search/", {"q": query}, HTTP_IF_NONE_MATCH=etag)
    assert edited.status_code == 200
    assert edited["ETag"] != etag
    if query == "stalker":
        assert "Stalker, edited" in edited.text


def test_with_the_page_cache_off_a_film_published_mid_search_is_not_kept_stale(
    client, settings, monkeypatch
):
    """A film the visitor has a horizon for is published after their films
    were looked up but before the search ran: the page, which could not
    search its scenes, must not carry the new catalogue's ETag, or every
    revalidation would keep it."""
    from films import search

    settings.PAGE_CACHE = False
    build_guide(slug="early-2000", title="Early")
    later = build_guide(slug="later-2001", title="Later", status=Film.Status.DRAFT)
    later.scenes.filter(screen_position=2).update(summary="A lighthouse in fog.")
    client.cookies["seen_later-2001"] = "all"
    looked_up = search.horizons_from_cookies

    def published_meanwhile(request, **kwargs):
        films = looked_up(request, **kwargs)
        if later.status == Film.Status.DRAFT:
            later.status = Film.Status.PUBLISHED
            later.save()
        return films

    monkeypatch.setattr(search, "horizons_from_cookies", published_meanwhile)
    first = client.get("/search/", {"q": "lighthouse"})
    assert hit_urls(first) == []  # its scenes were not searched: no horizon yet
    again = client.get(
        "/search/", {"q": "lighthouse"}, HTTP_IF_NONE_MATCH=first["ETag"]
    )
    assert again.status_code == 200
    assert hit_urls(again) == ["/films/later-2001/timeline/#scene-2"]


def test_a_snippet_never_marks_stop_words_of_a_quoted_phrase(client):
    film = make_film(slug="marks-2000", title="Marks")
    film.characters.create(
        name="Tom", slug="tom", description="Into the theory of the zone, there."
    )
    response = client.get("/search/", {"q": '"the zone"', "kind": "characters"})
    assert first_snippet(response) == "Into the theory of the <mark>zone</mark>, there."


def test_every_page_has_a_search_box(client, guide):
    for url in ["/", "/films/", "/films/stalker-1979/", "/people/the-director/"]:
        assert 'role="search"' in client.get(url).text


# --- PostgreSQL only ------------------------------------------------------------------


@postgres_only
def test_a_title_match_ranks_above_a_scene_text_match(client):
    scene_film = build_guide(slug="other-2000", title="Other")
    scene_film.scenes.filter(screen_position=1).update(
        summary="A harvest of solaris ocean."
    )
    build_guide(
        slug="solaris-1972", title="Solaris", premise="A station above an ocean."
    )
    client.cookies["seen_other-2000"] = "all"
    response = client.get("/search/", {"q": "solaris ocean"})
    urls = hit_urls(response)
    assert urls.index("/films/solaris-1972/") < urls.index(
        "/films/other-2000/timeline/#scene-1"
    )


@postgres_only
def test_a_misspelt_name_finds_the_person(client):
    from tests.factories import make_credit, make_person

    film = make_film(slug="stalker-1979", title="Stalker")
    make_credit(film, make_person("andrei-tarkovsky", name="Andrei Tarkovsky"))
    response = client.get("/search/", {"q": "tarkovksy"})
    assert "/people/andrei-tarkovsky/" in hit_urls(response)


@postgres_only
def test_the_full_text_search_uses_the_gin_index():
    # Premises of a realistic length (about 60 words), so that the table is
    # as large on disk as a real catalogue of this size.
    filler = " ".join(["Brothers and strangers cross the winter country"] * 8)
    films = [
        Film(
            title=f"Film number {n}",
            slug=f"film-number-{n}",
            year=1950 + n % 70,
            runtime=90,
            premise=(
                f"A story about lighthouse keeper {n} and the sea. "
                if n % 500 == 0
                else f"An ordinary premise number {n} about families and cities. "
            )
            + filler,
            status=Film.Status.PUBLISHED,
        )
        for n in range(4000)
    ]
    Film.objects.bulk_create(films, batch_size=1000)
    _as_autovacuum_leaves_films("films_films_fts")
    _assert_films_found_through("films_films_fts", "lighthouse")
    search_page = Client().get("/search/", {"q": "lighthouse", "kind": "films"})
    assert len(hits(search_page)) == 8


@postgres_only
def test_a_misspelt_title_is_found_through_the_trigram_index():
    """A word that matches nothing is compared with every film's folded
    titles by the trigram index of migration 0012 — never by reading the
    table — and finds the film by its original title as well as its title."""
    filler = " ".join(["Brothers and strangers cross the winter country"] * 8)
    films = [
        Film(
            title=f"Film number {n}",
            original_title="Сталкер" if n == 1234 else f"Фильм {n}",
            slug=f"film-number-{n}",
            year=1950 + n % 70,
            runtime=90,
            premise=filler,
            status=Film.Status.PUBLISHED,
        )
        for n in range(4000)
    ]
    Film.objects.bulk_create(films, batch_size=1000)
    _as_autovacuum_leaves_films("films_films_fts", "films_films_trgm")
    _assert_films_found_through("films_films_trgm", "Сталкре")
    found = Client().get("/search/", {"q": "Сталкре", "kind": "films"})
    assert hit_urls(found) == ["/films/film-number-1234/"]


def test_a_misspelling_is_compared_with_the_same_names_on_both_engines():
    """PostgreSQL's trigram names (``search.TRIGRAM_NAMES``, indexed by
    migration 0012) and SQLite's trigram tables (``search_index.NAMES``) hold
    the same fields of each kind."""
    import importlib

    from films import search_index
    from films.search import DOCUMENTS, TRIGRAM_NAMES

    migration = importlib.import_module("films.migrations.0012_folded_trigram_names")
    assert set(TRIGRAM_NAMES) == set(search_index.NAMES)
    for kind, fields in TRIGRAM_NAMES.items():
        sqlite = tuple(re.findall(r"\{row\}\.(\w+)", search_index.NAMES[kind]))
        assert fields == sqlite, kind
        table = DOCUMENTS[kind][0]._meta.db_table
        assert migration.NAMES[table] == fields, kind


def _as_autovacuum_leaves_films(*gin_indexes):
    """What autovacuum does on a live site: move the GIN indexes' pending
    entries into the index proper, then gather the table's statistics."""
    with connection.cursor() as cursor:
        for index in gin_indexes:
            cursor.execute("SELECT gin_clean_pending_list(%s)", [index])
        cursor.execute("ANALYZE films_film")


def _assert_films_found_through(index, query):
    """Films are searched for ``query`` through ``index``, never by reading
    the table: as the search page asks, and as it asks with the page cache
    off (the catalogue's version read in the same statement)."""
    for version in (False, True):
        plan = _plan(["films"], query, limit=20, version=version)
        # The scans that ran: the statement also holds what it does in other
        # cases (prefixes, names like the query), which may not run.
        scans = [
            node
            for node in _nodes(plan)
            if node.get("Relation Name") == "films_film" and node["Actual Loops"]
        ]
        index_names = {node.get("Index Name") for node in _nodes(plan)}
        assert index in index_names, plan
        assert not any(node["Node Type"] == "Seq Scan" for node in scans), plan


def _plan(kinds, query, *, limit, horizons=None, version=False):
    """The executed plan of a search's statement, as PostgreSQL's JSON."""
    import json

    from films.search import postgres_statement

    sql, params = postgres_statement(
        kinds, query, horizons or {}, 0, limit, version=version
    )
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    return json.loads(plan) if isinstance(plan, str) else plan


def _nodes(plan):
    """Every node of a plan, depth first."""
    stack = [plan[0]["Plan"]]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.get("Plans", []))


@postgres_only
def test_a_misspelt_name_is_found_beside_what_the_words_matched(client):
    from tests.factories import make_credit, make_person

    film = make_film(
        slug="stalker-1979", title="Stalker", premise="A film by Tarkovskiy."
    )
    make_credit(film, make_person("andrei-tarkovsky", name="Andrei Tarkovsky"))
    urls = hit_urls(client.get("/search/", {"q": "tarkovskiy"}))
    assert urls == ["/films/stalker-1979/", "/people/andrei-tarkovsky/"]


@postgres_only
def test_a_search_is_one_statement_even_when_nothing_matched(client):
    from django.test.utils import CaptureQueriesContext

    from tests.factories import make_credit, make_person

    film = build_guide(slug="stalker-1979", title="Stalker")
    make_credit(film, make_person("andrei-tarkovsky", name="Andrei Tarkovsky"))
    client.cookies["seen_stalker-1979"] = "all"
    with CaptureQueriesContext(connection) as matched:
        client.get("/search/", {"q": "stalker"})
    with CaptureQueriesContext(connection) as misspelt:
        response = client.get("/search/", {"q": "tarkovksy"})
    # The catalogue's version (the page cache's key), the visitor's films,
    # then the search: one statement, which looks for names like the query
    # only when no word matched anything. The same search again comes from
    # the page cache.
    assert len(matched) == 3
    assert len(misspelt) == 3
    assert hit_urls(response) == ["/people/andrei-tarkovsky/"]
    with CaptureQueriesContext(connection) as again:
        client.get("/search/", {"q": "tarkovksy"})
    assert len(again) == 1


def test_each_films_own_horizon_decides_its_scenes_and_characters(client):
    films = {
        slug: build_guide(slug=slug, title=slug.split("-")[0].title())
        for slug in ["early-2000", "later-2001", "whole-2002", "unseen-2003"]
    }
    for film in films.values():
        film.scenes.filter(screen_position=3).update(summary="A crossing of the river.")
        film.characters.filter(slug="late-arrival").update(name="Ferryman")
    client.cookies["seen_early-2000"] = "0:05"  # before scene 3 (0:10)
    client.cookies["seen_later-2001"] = "0:10"  # scene 3 and the late arrival
    client.cookies["seen_whole-2002"] = "all"
    scenes = client.get("/search/", {"q": "river crossing", "kind": "scenes"})
    assert sorted(hit_urls(scenes)) == [
        "/films/later-2001/timeline/#scene-3",
        "/films/whole-2002/timeline/#scene-3",
    ]
    characters = client.get("/search/", {"q": "ferryman", "kind": "characters"})
    assert sorted(hit_urls(characters)) == [
        "/films/later-2001/characters/late-arrival/",
        "/films/whole-2002/characters/late-arrival/",
    ]


# --- One source for each rule ---------------------------------------------------------


def test_search_finds_what_the_models_call_published(client):
    """Search's SQL reads "published" where ``Film.objects.published()`` does:
    with a film of every status, search finds the films, characters, people
    and scenes of exactly the films the model calls published."""
    from tests.factories import make_character, make_credit, make_person, make_scene

    for status in Film.Status.values:
        film = make_film(slug=f"zanzibar-{status}", title="Zanzibar", status=status)
        make_character(film, "quartermaster", name="Quartermaster")
        make_scene(film, 1, title="The quagmire")
        make_credit(film, make_person(f"xylophone-{status}", name="Xylophone"))
        client.cookies[f"seen_zanzibar-{status}"] = "all"
    published = Film.objects.published()
    assert 0 < published.count() < len(Film.Status.values)

    def found(query, kind):
        return sorted(hit_urls(client.get("/search/", {"q": query, "kind": kind})))

    assert found("zanzibar", "films") == sorted(
        film.get_absolute_url() for film in published
    )
    assert found("quartermaster", "characters") == sorted(
        character.get_absolute_url()
        for character in Character.objects.filter(film__in=published)
    )
    assert found("quagmire", "scenes") == sorted(
        scene.get_absolute_url() for scene in Scene.objects.filter(film__in=published)
    )
    assert found("xylophone", "people") == sorted(
        person.get_absolute_url()
        for person in Person.objects.filter(credits__film__in=published)
    )


def test_every_kind_of_hit_links_where_its_model_does():
    """A hit's link is its model's ``get_absolute_url()``, for every kind."""
    from films.search import KINDS, search
    from films.spoilers import Horizon
    from tests.factories import (
        make_character,
        make_credit,
        make_person,
        make_scene,
        make_theme,
    )

    film = make_film(slug="quokka-1999", title="Quokka")
    rows = {
        "films": film,
        "people": make_person("quokka-person", name="Quokka Person"),
        "characters": make_character(film, "quokka-character", name="Quokka"),
        "themes": make_theme("quokka-theme", name="Quokka"),
        "scenes": make_scene(film, 1, slug="quokka-scene", title="Quokka"),
    }
    make_credit(film, rows["people"])
    assert set(rows) == set(KINDS)
    groups = search("quokka", {film.pk: Horizon.parse("all")})
    urls = {group.kind: [hit.url for hit in group.hits] for group in groups}
    assert urls == {kind: [row.get_absolute_url()] for kind, row in rows.items()}


def test_a_scenes_film_is_not_found_by_the_index_own_tokens(client):
    """SQLite's scene index also holds each scene's film ("f12", "g0"), for
    the horizon; what a visitor types never matches those."""
    from films.search_index import FILM_GROUP

    film = build_guide(slug="stalker-1979", title="Stalker")
    client.cookies["seen_stalker-1979"] = "all"
    for query in [f"f{film.pk}", f"g{film.pk // FILM_GROUP}", f"scene f{film.pk}"]:
        response = client.get("/search/", {"q": query, "kind": "scenes"})
        assert hit_urls(response) == [], query
    response = client.get("/search/", {"q": "scene -f1", "kind": "scenes"})
    assert len(hit_urls(response)) == 5
