"""Search never finds what lies beyond the visitor's horizon — checked against
every shipped guide.

For each film with a timeline or characters met later, at horizons before,
inside and at the end of the film (set in the film's cookie, as a visitor
would; every other film at ``none``), the title of every scene and the name of
every character is searched for. Every result must be within its film's
horizon, and its snippet must come from its own text and nothing else. The
texts come from the database, not from a list chosen for the test.
"""

import html
import re
from datetime import timedelta

import pytest

from films.models import Film
from films.spoilers import Horizon

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shipped_guides")]
from tests.shipped import shipped_guides  # noqa: E402, F401

HIT = re.compile(r'class="hit-title" href="([^"]+)"')
RESULT = re.compile(
    r'<li class="hit">\s*<a class="hit-title" href="([^"]+)">.*?</a>'
    r'(?:(?!</li>).)*?(?:<p class="snippet" data-nosnippet>(.*?)</p>)?\s*</li>',
    re.DOTALL,
)


def one_spaced(text):
    return " ".join(html.unescape(text).split())


def films_to_check():
    return [
        film
        for film in Film.objects.published().order_by("slug")
        if film.scenes.exists() or film.characters.filter(reveals_at__isnull=False)
    ]


def horizons(film):
    middle = Horizon.at_time(timedelta(minutes=film.runtime // 2))
    return {
        "none": Horizon.parse("none"),
        str(middle): middle,
        "all": Horizon.parse("all"),
    }


def rows_with_reveal_points():
    """URL → (film, reveal point, searched text) for every scene and character
    of every film: what a hit pointing there may show, and from when."""
    rows = {}
    for film in Film.objects.all():
        for scene in film.scenes.all():
            url = f"/films/{film.slug}/timeline/#{scene.slug}"
            rows[url] = (film.slug, scene.starts_at, False, scene.summary)
        for character in film.characters.all():
            url = f"/films/{film.slug}/characters/{character.slug}/"
            rows[url] = (film.slug, character.reveals_at, True, character.description)
    return rows


def within(row, film, horizon):
    """Whether a visitor whose only horizon is ``horizon`` for ``film`` (every
    other film at ``none``) may find this row."""
    slug, point, nullable, _ = row
    if nullable and point is None:
        return True  # a spoiler-free character
    return slug == film.slug and horizon.reveals(point)


def test_search_results_stay_within_each_films_horizon(client):
    rows = rows_with_reveal_points()
    checked = snippets = 0
    for film in films_to_check():
        queries = [scene.title for scene in film.scenes.all()]
        queries += [character.name for character in film.characters.all()]
        for value, horizon in horizons(film).items():
            client.cookies[f"seen_{film.slug}"] = value
            for query in queries:
                for kind in ("scenes", "characters"):
                    response = client.get("/search/", {"q": query, "kind": kind})
                    assert response.status_code == 200
                    found = RESULT.findall(response.text)
                    assert len(found) == len(HIT.findall(response.text))
                    for url, snippet in found:
                        url = html.unescape(url)
                        where = (film.slug, value, query, url)
                        assert url in rows and within(rows[url], film, horizon), where
                        # The snippet comes from the hit's own text, nothing else.
                        text = one_spaced(rows[url][3])
                        plain = one_spaced(re.sub("</?mark>", "", snippet))
                        for piece in plain.strip("… ").split(" … "):
                            assert piece in text, (*where, piece)
                            snippets += 1
                    checked += 1
        del client.cookies[f"seen_{film.slug}"]
    # Stalker, Mirror and Solaris have timelines; every film has characters.
    assert checked > 500
    assert snippets > 300


def test_at_the_end_every_scene_can_be_found_by_its_title(client):
    found = 0
    for film in films_to_check():
        client.cookies[f"seen_{film.slug}"] = "all"
        for scene in film.scenes.all():
            urls = []
            for page in (1, 2, 3):
                response = client.get(
                    "/search/", {"q": scene.title, "kind": "scenes", "page": page}
                )
                urls += [html.unescape(url) for url in HIT.findall(response.text)]
            assert f"/films/{film.slug}/timeline/#{scene.slug}" in urls, scene.title
            found += 1
        del client.cookies[f"seen_{film.slug}"]
    assert found == sum(film.scenes.count() for film in films_to_check())
    assert found > 80
