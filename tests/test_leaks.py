"""Nothing beyond the horizon is sent — checked against every shipped guide.

The texts come from the database, not from a list of strings chosen for the
test: for every page of every shipped film and a spread of horizons, every text
tied to a point beyond the horizon must be absent from the whole response
(markup, attributes, scripts included), and every text within it must appear
on the page where it belongs.
"""

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse

from films.markup import render_markdown
from films.models import Film
from films.spoilers import Horizon

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shipped_guides")]
from tests.shipped import shipped_guides  # noqa: E402, F401

TAG = re.compile(r"<[^>]+>")


def plain(text):
    """What a reader sees of a Markdown text: rendered, untagged, one-spaced."""
    return " ".join(html.unescape(TAG.sub(" ", render_markdown(text))).split())


def page_text(response):
    """All the response carries, tags and attributes included, unescaped."""
    raw = html.unescape(response.content.decode())
    return " ".join(raw.split()) + " " + " ".join(TAG.sub(" ", raw).split())


def horizons(film):
    times = [timedelta(minutes=m) for m in range(20, film.runtime, 35)]
    return [
        Horizon.parse("none"),
        *[Horizon.at_time(t) for t in times],
        Horizon.parse("all"),
    ]


def texts(film, horizon):
    """(visible, hidden) texts of a film at a horizon, each as (page, text)."""
    visible, hidden = [], []

    def sort(page, reveals_at, *items):
        target = visible if horizon.reveals(reveals_at) else hidden
        target.extend((page, plain(item)) for item in items if item)

    for scene in film.scenes.all():
        sort("timeline", scene.starts_at, scene.title, scene.summary)
    for section in film.plot_sections.all():
        sort("detail", section.reveals_at, section.heading, section.body)
    for character in film.characters.all():
        sort(f"character:{character.slug}", character.reveals_at, character.name)
        sort("characters", character.reveals_at, character.description)
        for beat in character.beats.all():
            sort(f"character:{character.slug}", beat.reveals_at, beat.text)
    for analysis in film.film_themes.all():
        sort("themes", analysis.reveals_at, analysis.analysis)
    sort("ending", film.ending_reveals_at, film.ending_explained)
    return visible, hidden


def spoiler_free(film):
    """Everything a visitor may read before watching, as one string."""
    parts = [film.title, film.original_title, film.based_on, film.premise]
    parts += [film.production_companies]
    parts += [t.name for t in film.genres.all()]
    for analysis in film.film_themes.select_related("theme"):
        parts += [analysis.theme.name, analysis.theme.description]
    for character in film.characters.spoiler_free():
        parts += [character.name, character.description]
    for credit in film.credits.select_related("person"):
        parts += [credit.person.name, credit.note]
    for rec in film.recommendations.all():
        parts += [rec.target_title, rec.reason]
    return " ".join(plain(part) for part in parts if part)


def secrets(film, horizon):
    """Hidden texts that nothing visible explains: these must never be sent.

    A short hidden text (a scene title, a name) that also stands in visible or
    spoiler-free material is no leak — the page may show it for that reason.
    """
    visible, hidden = texts(film, horizon)
    corpus = " ".join(text for _, text in visible) + " " + spoiler_free(film)
    return [text for _, text in hidden if text not in corpus]


def film_pages(film):
    pages = {
        name: reverse(f"films:{name}", args=[film.slug])
        for name in (
            "detail",
            "timeline",
            "characters",
            "themes",
            "ending",
            "next",
            "watch",
        )
    }
    for character in film.characters.all():
        pages[f"character:{character.slug}"] = reverse(
            "films:character", args=[film.slug, character.slug]
        )
    return pages


def shipped_films():
    from tests.shipped import FIXTURES, film_slug

    return [film_slug(path) for path in FIXTURES]


@pytest.mark.parametrize("slug", shipped_films())
def test_nothing_beyond_the_horizon_is_sent(client, slug):
    film = Film.objects.get(slug=slug)
    pages = film_pages(film)
    for horizon in horizons(film):
        visible, _ = texts(film, horizon)
        hidden = secrets(film, horizon)
        sent = {}
        for name, url in pages.items():
            response = client.get(url, {"seen": str(horizon)})
            assert response.status_code == 200, (url, horizon)
            sent[name] = page_text(response)
            for secret in hidden:
                assert secret not in sent[name], (
                    f"{url} at {horizon} leaks: {secret[:80]}"
                )
        for name, text in visible:
            assert text in sent[name], (
                f"{pages[name]} at {horizon} does not show: {text[:80]}"
            )


@pytest.mark.parametrize("slug", shipped_films())
def test_metadata_is_spoiler_free_even_at_all(client, slug):
    film = Film.objects.get(slug=slug)
    spoilers = secrets(film, Horizon.parse("none"))
    for url in film_pages(film).values():
        response = client.get(url, {"seen": "all"})
        head = html.unescape(response.content.decode().split("</head>")[0])
        for spoiler in spoilers:
            assert spoiler not in head, f"{url} metadata carries: {spoiler[:80]}"
