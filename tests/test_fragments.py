"""What every visitor sees the same of a page is written with the guide
(films/_fragments.html, stored in its parts by films/documents.py): the
overview's facts and credits, and each scene's pieces on the timeline. These
tests show that written HTML is escaped, follows every write, is never shown
once the templates it was written with change, and spoils nothing."""

import json
import re

import pytest
from markupsafe import escape

from films import documents
from films.models import Credit, Film, FilmDocument, Scene
from films.spoilers import ALL
from tests.factories import build_guide, make_credit, make_film, make_person
from tests.shipped import shipped_guides  # noqa: F401 — a fixture

pytestmark = pytest.mark.django_db

MARKUP = '<b>"bold" & </b><script>alert(1)</script>'
ESCAPED = (
    "&lt;b&gt;&#34;bold&#34; &amp; &lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
)

both_ways = pytest.mark.parametrize("page_cache", [True, False], ids=["cache", "none"])


def scene_heading(html, slug):
    found = re.search(
        rf'<h2 class="scene-title"><a class="anchor" href="#{slug}">(.*?)</a></h2>',
        html,
    )
    return found and found.group(1)


@both_ways
def test_text_written_with_the_guide_is_escaped(client, settings, page_cache):
    settings.PAGE_CACHE = page_cache
    film = build_guide(3, production_companies=MARKUP, based_on=MARKUP)
    scene = film.scenes.get(screen_position=2)
    scene.title = MARKUP
    scene.location = MARKUP
    scene.story_label = MARKUP
    scene.save()
    hero = film.characters.get(slug="hero")
    hero.name = MARKUP
    hero.save()
    make_credit(film, make_person("odd-name", name=MARKUP), note=MARKUP)
    timeline = client.get(f"/films/{film.slug}/timeline/", {"seen": ALL}).text
    overview = client.get(f"/films/{film.slug}/", {"seen": ALL}).text
    for html in (timeline, overview):
        assert "<script>alert" not in html
        assert '<b>"bold"' not in html
    assert scene_heading(timeline, "scene-2") == ESCAPED
    assert f'<span class="location">{ESCAPED}</span>' in timeline
    assert f'<span class="story-label">{ESCAPED}</span>' in timeline
    assert f"{ESCAPED}</a>" in timeline  # the hero, named in each scene
    assert f"<dd>{ESCAPED}</dd>" in overview  # production, based on
    assert f"({ESCAPED})" in overview  # the credit's note


def test_an_edit_is_written_into_the_next_page(client):
    film = build_guide(3)
    assert scene_heading(
        client.get(f"/films/{film.slug}/timeline/", {"seen": ALL}).text, "scene-1"
    ) == ("Scene title 1")
    scene = film.scenes.get(screen_position=1)
    scene.title = "Renamed in the admin"
    scene.save()
    make_credit(film, make_person("new-composer", name="New Composer"), "composer")
    timeline = client.get(f"/films/{film.slug}/timeline/", {"seen": ALL}).text
    overview = client.get(f"/films/{film.slug}/", {"seen": ALL}).text
    assert scene_heading(timeline, "scene-1") == "Renamed in the admin"
    assert "New Composer" in overview


@both_ways
@pytest.mark.parametrize("missing", ["timeline", "scenes", "overview"])
def test_a_missing_part_is_built_with_the_others_from_the_rows(
    client, settings, page_cache, missing
):
    settings.PAGE_CACHE = page_cache
    film = build_guide(3)
    # The rows say one thing, the stored parts (at the same version) another:
    # the page must not take one part from each.
    Scene.objects.filter(film=film, screen_position=1).update(title="Rows alone")
    Film.objects.filter(pk=film.pk).update(production_companies="Rows Studio")
    FilmDocument.objects.filter(film=film, name=missing).delete()
    timeline = client.get(f"/films/{film.slug}/timeline/", {"seen": ALL}).text
    overview = client.get(f"/films/{film.slug}/", {"seen": ALL}).text
    if missing in ("timeline", "scenes"):
        assert scene_heading(timeline, "scene-1") == "Rows alone"
    else:
        assert "<dd>Rows Studio</dd>" in overview


def test_a_page_from_written_parts_is_the_page_built_from_the_rows(client, settings):
    settings.PAGE_CACHE = False
    film = build_guide(6, story_reversed=True)
    urls = [
        (f"/films/{film.slug}/timeline/", {"seen": seen, "order": order})
        for seen in ("none", "0:12", ALL)
        for order in ("screen", "story")
    ] + [(f"/films/{film.slug}/", {"seen": seen}) for seen in ("none", "0:12", ALL)]
    written = [client.get(url, params).text for url, params in urls]
    FilmDocument.objects.filter(film=film).update(format=documents.FORMAT + 1)
    built = [client.get(url, params).text for url, params in urls]
    for (url, params), one, other in zip(urls, written, built, strict=True):
        assert one == other, (url, params)


def test_the_visitors_horizon_goes_into_written_links(client, settings):
    settings.PAGE_CACHE = False
    film = build_guide(4)
    for seen in (ALL, "0:12"):
        html = client.get(f"/films/{film.slug}/timeline/", {"seen": seen}).text
        query = f"?seen={seen.replace(':', '%3A')}"
        assert f'href="/films/{film.slug}/characters/hero/{query}"' in html
        assert f'href="/films/{film.slug}/themes/{query}#theme-memory"' in html
        assert "@@seen" not in html
        overview = client.get(f"/films/{film.slug}/", {"seen": seen}).text
        assert f'href="/films/{film.slug}/characters/hero/{query}"' in overview
        assert "@@seen" not in overview


def test_written_parts_spoil_nothing_beyond_the_horizon(client, settings):
    settings.PAGE_CACHE = False
    film = build_guide(4)
    # The late arrival is in scenes 3 and 4 (from 0:10) and is revealed at
    # 0:10: never named before, not even beside their actor in the credits.
    early = client.get(f"/films/{film.slug}/timeline/", {"seen": "0:09"}).text
    assert "Late Arrival" not in early and "late-arrival" not in early
    assert "Scene title 3" not in early
    assert "Scene 3 — hidden until 0:10" in early
    overview = client.get(f"/films/{film.slug}/", {"seen": ALL}).text
    assert "Late Actor</a>" in overview
    assert "Late Arrival" not in overview
    later = client.get(f"/films/{film.slug}/timeline/", {"seen": "0:10"}).text
    assert "Late Arrival</a>" in later and "Scene title 3" in later


def test_the_format_follows_the_templates_the_parts_are_written_with(monkeypatch):
    from django.template import engines

    loader = engines["jinja2"].env.loader
    assert documents._format() == documents.FORMAT
    real = loader.get_source
    for name in documents.WRITTEN_WITH:

        def changed(env, template, name=name):
            source, *rest = real(env, template)
            return (source + " " if template == name else source, *rest)

        monkeypatch.setattr(loader, "get_source", changed)
        assert documents._format() != documents.FORMAT, name
        monkeypatch.setattr(loader, "get_source", real)
    assert documents._format() == documents.FORMAT


@pytest.mark.usefixtures("shipped_guides")
def test_every_shipped_scene_and_credit_is_written():
    for film in Film.objects.all():
        stored = dict(
            FilmDocument.objects.filter(film=film).values_list("name", "data")
        )
        timeline = json.loads(stored["timeline"])
        scenes = json.loads(stored["scenes"])["scenes"]
        assert sorted(timeline["scenes"]) == sorted(str(s["id"]) for s in scenes)
        assert sorted(timeline["hidden"]) == sorted(
            str(s["screen_position"]) for s in scenes
        )
        facts = json.loads(stored["overview"])["facts_html"]
        for name in Credit.objects.filter(film=film).values_list(
            "person__name", flat=True
        ):
            assert str(escape(name)) in facts, (film.slug, name)


def test_a_film_without_scenes_or_credits_is_written_too(client):
    film = make_film(slug="bare-2001", runtime=90)
    timeline = client.get(f"/films/{film.slug}/timeline/", {"seen": ALL}).text
    assert "This guide has no scene-by-scene timeline yet." in timeline
    overview = client.get(f"/films/{film.slug}/", {"seen": ALL}).text
    assert "<dt>Runtime</dt><dd>90 min (1 h 30 min)</dd>" in overview
    assert "<h3>Cast</h3>" not in overview
