"""A film's other pages, the theme and person pages, and their query counts."""

import json
import re

import pytest
from django.urls import reverse

from films.models import Film
from tests.factories import build_guide, make_film

pytestmark = pytest.mark.django_db

FILM_PAGES = [
    "films:detail",
    "films:timeline",
    "films:characters",
    "films:themes",
    "films:ending",
    "films:next",
]


def film_urls(film):
    urls = [reverse(name, args=[film.slug]) for name in FILM_PAGES]
    urls.append(reverse("films:character", args=[film.slug, "hero"]))
    return urls


# --- Overview -----------------------------------------------------------------


def test_the_plot_summary_stops_at_the_horizon(client):
    film = build_guide()
    html = client.get(f"/films/{film.slug}/?seen=0:10").text
    assert "Setting out" in html
    assert "PLOT-2-SECRET" not in html
    assert "PLOT-HEADING-SECRET" not in html
    assert "The rest of the plot — hidden until 0:15." in html
    html = client.get(f"/films/{film.slug}/?seen=0:15").text
    assert (
        '<div class="spoiler" data-nosnippet>\n      <h3>PLOT-HEADING-SECRET</h3>'
        in html
    )


def test_the_overview_links_every_section(client):
    film = build_guide()
    html = client.get(f"/films/{film.slug}/?seen=0:10").text
    for name in FILM_PAGES:
        assert f'href="{reverse(name, args=[film.slug])}?seen=0%3A10"' in html


# --- Characters -------------------------------------------------------------------


def test_characters_met_later_are_not_listed_before(client):
    film = build_guide()
    html = client.get(f"/films/{film.slug}/characters/").text
    assert "Hero" in html
    assert 'Played by <a href="/people/lead-actor/">Lead Actor</a>' in html
    assert "Late Arrival" not in html
    assert "Late Actor" not in html
    assert "One more character — hidden until 0:10." in html
    html = client.get(f"/films/{film.slug}/characters/?seen=0:10").text
    assert "Late Arrival" in html


def test_a_characters_arc_and_scenes_stop_at_the_horizon(client):
    film = build_guide()
    html = client.get(f"/films/{film.slug}/characters/hero/?seen=0:05").text
    assert "HERO-BEAT-1-SECRET" in html  # spoiler-free beat
    assert "HERO-BEAT-2-SECRET" in html  # revealed at 0:05
    assert "HERO-BEAT-3-SECRET" not in html
    assert "The next step of their story — hidden until 0:15." in html
    assert "Scene title 2" in html
    assert "Scene title 3" not in html


def test_a_character_not_yet_met_is_a_placeholder(client):
    film = build_guide()
    response = client.get(f"/films/{film.slug}/characters/late-arrival/")
    assert response.status_code == 200
    assert "A character you have not met yet" in response.text
    assert "Late Arrival" not in response.text
    assert "LATE-ARRIVAL-SECRET" not in response.text
    assert "<title>A character — Guide" not in response.text  # title is the film's
    assert "This character — hidden until 0:10." in response.text


def test_an_unknown_character_is_a_404(client):
    film = build_guide()
    assert client.get(f"/films/{film.slug}/characters/nobody/").status_code == 404


# --- Themes, ending, next -----------------------------------------------------------


def test_theme_analyses_and_scenes_stop_at_the_horizon(client):
    film = build_guide()
    html = client.get(f"/films/{film.slug}/themes/").text
    assert "Memory" in html
    assert "What memory is." in html  # the theme itself is spoiler-free
    assert "MEMORY-ANALYSIS-SECRET" not in html
    assert "The analysis — hidden until 0:05." in html
    assert "Faith, spoiler-free analysis." in html
    assert "Scene title 1" not in html
    html = client.get(f"/films/{film.slug}/themes/?seen=0:05").text
    assert "MEMORY-ANALYSIS-SECRET" in html
    assert re.search(r"Scenes: <a [^>]+>Scene title 1</a>", html)


def test_the_ending_is_hidden_until_the_end(client):
    film = build_guide()
    for seen in ("none", "0:20"):
        html = client.get(f"/films/{film.slug}/ending/?seen={seen}").text
        assert "ENDING-SECRET" not in html
        assert (
            'The ending explained — hidden until the end. <a href="/films/guide-2000/'
            'ending/?seen=all">Show spoilers up to the end</a>' in html
        )
    html = client.get(f"/films/{film.slug}/ending/?seen=all").text
    assert '<div class="spoiler" data-nosnippet><p>ENDING-SECRET' in html


def test_what_to_watch_next_links_guided_films_only(client):
    film = build_guide()
    html = client.get(f"/films/{film.slug}/next/").text
    assert "Mirror" in html and "Another film about memory." in html
    assert 'href="/films/mirror-1975/"' not in html
    make_film(slug="mirror-1975", title="Mirror", year=1975)
    html = client.get(f"/films/{film.slug}/next/").text
    assert '<a href="/films/mirror-1975/">Mirror</a>' in html


# --- Across films -------------------------------------------------------------------


def test_a_theme_across_films_uses_each_films_own_horizon(client):
    build_guide(slug="one-2000", title="One")
    build_guide(slug="two-2000", title="Two")
    client.cookies["seen_two-2000"] = "0:05"
    html = client.get("/themes/memory/").text
    assert html.count("MEMORY-ANALYSIS-SECRET") == 1
    assert "Its analysis in One (2000) — hidden until 0:05." in html
    assert 'href="/films/two-2000/timeline/#scene-1"' in html
    assert 'href="/films/one-2000/timeline/#scene-1"' not in html


def test_a_theme_page_leaves_out_drafts(client):
    build_guide(slug="draft-2000", title="Draft Film", status=Film.Status.DRAFT)
    html = client.get("/themes/memory/").text
    assert "Draft Film" not in html
    assert "No published guide carries this theme yet." in html


def test_a_person_page_lists_films_and_roles(client):
    film = build_guide()
    html = client.get("/people/lead-actor/").text
    assert f'<a href="{film.get_absolute_url()}">Test Film</a>' in html
    assert 'as <a href="/films/guide-2000/characters/hero/">Hero</a>' in html
    html = client.get("/people/late-actor/").text
    assert "Late Arrival" not in html  # met at 0:10: not named here
    assert "Cast" in html


def test_unknown_slugs_are_404s(client):
    for url in ["/films/nope-1999/timeline/", "/themes/nope/", "/people/nope/"]:
        assert client.get(url).status_code == 404


def test_every_film_page_of_a_draft_is_a_404_for_visitors(client, staff_user):
    film = build_guide(status=Film.Status.DRAFT)
    for url in film_urls(film):
        assert client.get(url).status_code == 404, url
    client.force_login(staff_user)
    for url in film_urls(film):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Draft — visitors cannot see this guide yet." in response.text


# --- Metadata is spoiler-free at every horizon ------------------------------------------

SPOILERS = re.compile(r"SECRET|Late Arrival|Scene title")


def head_and_json_ld(html):
    head = html.split("</head>")[0]
    return head


@pytest.mark.parametrize("seen", ["none", "0:10", "all"])
def test_metadata_never_carries_a_spoiler(client, seen):
    film = build_guide()
    for url in film_urls(film):
        html = client.get(url, {"seen": seen}).text
        head = head_and_json_ld(html)
        assert not SPOILERS.search(head), (url, SPOILERS.search(head))
        assert f'<link rel="canonical" href="http://testserver{url}">' in head
        assert '<meta property="og:title" content="Test Film (2000)">' in head
        assert (
            '<meta name="twitter:description" content="A spoiler-free premise.">'
            in head
        )


def test_json_ld_describes_the_movie(client):
    film = build_guide(original_title="Тест", based_on="A novel")
    html = client.get(f"/films/{film.slug}/?seen=all").text
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    data = json.loads(block.group(1))
    assert data["@type"] == "Movie"
    assert data["name"] == "Test Film"
    assert data["alternateName"] == "Тест"
    assert data["director"][0]["name"] == "The Director"
    assert {a["name"] for a in data["actor"]} == {"Lead Actor", "Late Actor"}
    assert data["duration"] == "PT25M"
    assert data["dateCreated"] == "2000"
    assert data["isBasedOn"] == "A novel"
    assert data["description"] == "A spoiler-free premise."
    assert "dateModified" in data
    assert not SPOILERS.search(block.group(1))


def test_film_pages_need_no_nonce_so_the_csp_allows_no_inline_script(client):
    # JSON-LD is a data block, which CSP does not govern; with no nonce in the
    # page, the cached page is the same for everyone and no inline script runs.
    film = build_guide()
    response = client.get(f"/films/{film.slug}/")
    assert '<script type="application/ld+json">' in response.text
    assert "nonce" not in response.text
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "nonce-" not in policy
    assert "unsafe-inline" not in policy


def test_json_ld_cannot_be_closed_by_editor_text(client):
    film = build_guide(premise="</script><script>alert(1)</script>")
    html = client.get(f"/films/{film.slug}/").text
    assert "<script>alert(1)" not in html


# --- Query counts: constant in the size of the guide ----------------------------------

# Built: the film's head (version, reveal points), then the rest of the film
# with the page's parts of the guide's document, in one query
# (films/documents.py) — placeholders come from the reveal points, so hidden
# rows cost nothing; "what to watch next" also asks which recommended films
# have a guide. From the page cache: the head alone (with Redis, not even
# that: tests/test_page_cache.py).
PAGE_QUERIES = {
    "films:detail": 2,
    "films:timeline": 2,
    "films:map": 2,
    "films:characters": 2,
    "films:character": 2,
    "films:themes": 2,
    "films:watch": 2,
    "films:ending": 2,
    "films:next": 3,
}
CACHED_PAGE_QUERIES = 1


@pytest.mark.parametrize("name", list(PAGE_QUERIES))
def test_film_page_queries_do_not_grow_with_the_guide(
    client, django_assert_num_queries, name
):
    small = build_guide(5, slug="small-2000")
    large = build_guide(200, slug="large-2000", title="Large")
    for film in (small, large):
        args = [film.slug, "hero"] if name == "films:character" else [film.slug]
        with django_assert_num_queries(PAGE_QUERIES[name]):
            response = client.get(reverse(name, args=args), {"seen": "0:10"})
        assert response.status_code == 200
        with django_assert_num_queries(CACHED_PAGE_QUERIES):
            again = client.get(reverse(name, args=args), {"seen": "0:10"})
        assert again.content == response.content


@pytest.mark.parametrize("name", list(PAGE_QUERIES))
def test_film_page_queries_without_the_page_cache(
    client, django_assert_num_queries, settings, name
):
    settings.PAGE_CACHE = False
    film = build_guide(50, slug="large-2000", title="Large")
    args = [film.slug, "hero"] if name == "films:character" else [film.slug]
    # Every page will be built, so the film is read whole at once, with its
    # page's parts of the guide's document: one query ("what to watch next"
    # still asks which recommended films have a guide).
    for _ in range(2):
        with django_assert_num_queries(2 if name == "films:next" else 1):
            response = client.get(reverse(name, args=args), {"seen": "0:10"})
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("url", "queries"),
    [("/", 3), ("/themes/memory/", 4), ("/people/lead-actor/", 3)],
)
def test_site_page_queries_do_not_grow_with_the_catalogue(
    client, django_assert_num_queries, url, queries
):
    # Built: the catalogue's version, then the page's rows; from the page
    # cache, the catalogue's version alone.
    build_guide(5, slug="small-2000")
    client.cookies["seen_small-2000"] = "all"
    with django_assert_num_queries(queries):
        client.get(url)
    with django_assert_num_queries(1):
        client.get(url)
    for n in range(20):
        build_guide(5, slug=f"more-{n}-2000", featured=True)
    with django_assert_num_queries(queries):
        assert client.get(url).status_code == 200
    with django_assert_num_queries(1):
        assert client.get(url).status_code == 200
