"""Search never finds what lies beyond the visitor's horizon — checked against
every shipped guide.

For each film with a timeline or characters met later, at horizons before,
inside and at the end of the film (set in the film's cookie, as a visitor
would), the title of every scene and the name of every character is searched
for. Every result must be within the horizon of its film, and no text of a
hidden scene or character may appear in the response. The texts come from
the database, not from a list chosen for the test.
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


def allowed_urls(film, horizon):
    """Where a hit into ``film`` may point at ``horizon``."""
    scenes = {
        f"/films/{film.slug}/timeline/#{scene.slug}": horizon.reveals(scene.starts_at)
        for scene in film.scenes.all()
    }
    characters = {
        f"/films/{film.slug}/characters/{character.slug}/": horizon.reveals(
            character.reveals_at
        )
        for character in film.characters.all()
    }
    return scenes | characters


def hidden_texts(film, horizon):
    texts = [
        text
        for scene in film.scenes.all()
        if not horizon.reveals(scene.starts_at)
        for text in (scene.summary,)
    ]
    texts += [
        text
        for character in film.characters.all()
        if not horizon.reveals(character.reveals_at)
        for text in (character.description,)
    ]
    return [text for text in texts if text]


def test_search_results_stay_within_each_films_horizon(client):
    checked = 0
    for film in films_to_check():
        queries = [scene.title for scene in film.scenes.all()]
        queries += [character.name for character in film.characters.all()]
        for value, horizon in horizons(film).items():
            client.cookies[f"seen_{film.slug}"] = value
            allowed = allowed_urls(film, horizon)
            hidden = hidden_texts(film, horizon)
            for query in queries:
                for kind in ("scenes", "characters"):
                    response = client.get("/search/", {"q": query, "kind": kind})
                    assert response.status_code == 200
                    for url in HIT.findall(response.text):
                        url = html.unescape(url)
                        assert allowed.get(url, True), (film.slug, value, query, url)
                    text = html.unescape(response.text)
                    for secret in hidden:
                        assert secret not in text, (film.slug, value, query, secret)
                    checked += 1
        del client.cookies[f"seen_{film.slug}"]
    # Stalker, Mirror and Solaris have timelines; every film has characters.
    assert checked > 500


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
