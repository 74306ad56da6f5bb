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
from films.spoilers import ALL, placeholder
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
    FilmDocument.objects.filter(film=film).update(format=documents.current_format() + 1)
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
    assert documents._format() == documents.current_format()
    real = loader.get_source
    for name in documents.WRITTEN_WITH:

        def changed(env, template, name=name):
            source, *rest = real(env, template)
            return (source + " " if template == name else source, *rest)

        monkeypatch.setattr(loader, "get_source", changed)
        assert documents._format() != documents.current_format(), name
        monkeypatch.setattr(loader, "get_source", real)
    assert documents._format() == documents.current_format()


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


# --- What the pages wrote before the fragments, as the reference --------------
# The timeline's scene lists and the overview's facts and credits as the
# pages' own templates wrote them, live, before they were written with the
# guide: every shipped guide's pages must still say exactly this.

REFERENCE_SCENES = """<ol class="timeline" aria-label="Scenes">
  {% for scene in scenes %}
  <li class="scene" id="{{ scene.slug }}" data-nosnippet>
    <h2 class="scene-title"><a class="anchor" href="#{{ scene.slug }}">{{ scene.title }}</a></h2>
    <p class="scene-meta">
      <span class="timecode">{{ scene.starts_at|timecode }}–{{ scene.ends_at|timecode }}</span>
      {% if orders_differ %}
      · <span class="order-place">on screen {{ scene.screen_position|ordinal }}, in the story {{ scene.story_rank|ordinal }}{% if not horizon.is_all %} of those you have seen{% endif %}</span>
      {% else %}
      · scene {{ scene.screen_position }} of {{ scene_count }}
      {% endif %}
      {% if scene.story_label %}· <span class="story-label">{{ scene.story_label }}</span>{% endif %}
      {% if scene.location %}· <span class="location">{{ scene.location }}</span>{% endif %}
    </p>
    {{ scene.summary_html }}
    {% if scene.people %}
    <p class="scene-characters">With {% for slug, name in scene.people %}<a href="{{ urls.characters }}{{ slug }}/{{ query }}">{{ name }}</a>{% if not loop.last %}, {% endif %}{% endfor %}</p>
    {% endif %}
    {% if scene.theme_tags %}
    <ul class="tags" aria-label="Themes">
      {% for slug, name, colour in scene.theme_tags %}<li><a class="tag theme-c{{ colour }}" href="{{ urls.themes }}{{ query }}#theme-{{ slug }}">{{ name }}</a></li>{% endfor %}
    </ul>
    {% endif %}
  </li>
  {% endfor %}
</ol>"""

REFERENCE_HIDDEN = """{% from "films/_placeholder.html" import placeholder %}<ol class="timeline timeline-hidden" aria-label="Scenes beyond your horizon">
  {% for item in hidden_items %}
  <li class="scene scene-hidden">{{ placeholder(item) }}</li>
  {% endfor %}
</ol>"""

REFERENCE_FACTS = """  <section aria-labelledby="facts-heading">
    <h2 id="facts-heading">Facts</h2>
    <dl class="facts">
      <dt>Year</dt><dd>{{ film.year }}</dd>
      <dt>Runtime</dt><dd>{{ film.runtime|runtime }}</dd>
      {% if facets.languages %}<dt>Language</dt><dd>{% for code, name in facets.languages %}{{ name }}{% if not loop.last %}, {% endif %}{% endfor %}</dd>{% endif %}
      {% if facets.countries %}<dt>Country</dt><dd>{% for code, name in facets.countries %}{{ name }}{% if not loop.last %}, {% endif %}{% endfor %}</dd>{% endif %}
      {% if facets.genres %}<dt>Genre</dt><dd>{% for slug, name in facets.genres %}{{ name }}{% if not loop.last %}, {% endif %}{% endfor %}</dd>{% endif %}
      {% if film.production_companies %}<dt>Production</dt><dd>{{ film.production_companies }}</dd>{% endif %}
      {% if film.based_on %}<dt>Based on</dt><dd>{{ film.based_on }}</dd>{% endif %}
    </dl>
  </section>

  <section aria-labelledby="credits-heading">
    <h2 id="credits-heading">Credits</h2>
    <dl class="credits">
      {% for label, credits in crew %}
      <dt>{{ label }}</dt>
      <dd>{% for credit in credits %}<a href="{{ urls.people }}{{ credit.person.slug }}/">{{ credit.person.name }}</a>{% if credit.note %} ({{ credit.note }}){% endif %}{% if not loop.last %}, {% endif %}{% endfor %}</dd>
      {% endfor %}
    </dl>
    {% if cast %}
    <h3>Cast</h3>
    <ul class="cast">
      {% for credit in cast %}
      <li><a href="{{ urls.people }}{{ credit.person.slug }}/">{{ credit.person.name }}</a>{% if credit.character and credit.character.reveals_at is none %} as <a href="{{ urls.characters }}{{ credit.character.slug }}/{{ query }}">{{ credit.character.name }}</a>{% endif %}{% if credit.note %} <span class="note">({{ credit.note }})</span>{% endif %}</li>
      {% endfor %}
    </ul>
    {% endif %}
  </section>

"""


@pytest.fixture
def built(monkeypatch):
    """Each page's body as built (before the visitor's own parts go in),
    with its context and its FilmRequest."""
    from films import pages

    seen = {}
    real_personal, real_context = pages._personal, pages.film_context

    def personal(body, control, page):
        seen.update(body=body, page=page)
        return real_personal(body, control, page)

    def context(request, page, values):
        seen["context"] = full = real_context(request, page, values)
        return full

    monkeypatch.setattr(pages, "_personal", personal)
    monkeypatch.setattr(pages, "film_context", context)
    return seen


def reference(source, context):
    from django.template import engines

    return engines["jinja2"].env.from_string(source).render(context)


def section(body, start, end="</ol>"):
    at = body.index(start)
    return body[at : body.index(end, at) + len(end)]


@pytest.mark.usefixtures("shipped_guides")
def test_every_shipped_timeline_says_what_its_template_said(client, settings, built):
    settings.PAGE_CACHE = False
    checked = 0
    for film in Film.objects.all():
        points = film.reveal_index["scenes"]
        middle = points[len(points) // 2][1] if points else 0
        for seen in ("none", f"0:{middle // 60:02d}:{middle % 60:02d}", ALL):
            for order in ("screen", "story"):
                url = f"/films/{film.slug}/timeline/"
                client.get(url, {"seen": seen, "order": order})
                body, context, page = built["body"], built["context"], built["page"]
                if context["scenes"]:
                    want = reference(REFERENCE_SCENES, context)
                    assert section(body, want[:40]) == want, (film.slug, seen, order)
                    checked += 1
                items = [
                    placeholder(page.page_url, at, page.film, f"Scene {position}")
                    for position, at, _ in page.points.scenes
                    if not page.horizon.reveals(at)
                ]
                if items and order == "screen":
                    want = reference(REFERENCE_HIDDEN, {"hidden_items": items})
                    start = want[want.index("<ol") :][:60]
                    assert section(body, start) == want[want.index("<ol") :], (
                        film.slug,
                        seen,
                    )
                    checked += 1
    assert checked >= 20


@pytest.mark.usefixtures("shipped_guides")
def test_every_shipped_overview_says_what_its_template_said(client, settings, built):
    settings.PAGE_CACHE = False
    for film in Film.objects.all():
        client.get(f"/films/{film.slug}/", {"seen": ALL})
        body, context = built["body"], built["context"]
        part = documents.load(context["film"], ["overview"])["overview"]
        crew, cast = documents.shown_credits(part)
        want = reference(
            REFERENCE_FACTS,
            {
                **context,
                "facets": {k: part[k] for k in ("languages", "countries", "genres")},
                "crew": crew,
                "cast": cast,
            },
        )
        assert want in body, film.slug


def test_a_hidden_scene_its_stored_part_lacks_is_written_on_the_page(client, settings):
    # The scenes a page lists come with the film's head, which may be newer
    # than its parts (a replica behind the shared cache): a scene the parts
    # lack is written as it would have been.
    settings.PAGE_CACHE = False
    film = build_guide(4)
    url = f"/films/{film.slug}/timeline/"
    whole = client.get(url, {"seen": "0:05"}).text
    assert "Scene 4 — hidden until 0:15" in whole
    row = FilmDocument.objects.get(film=film, name="timeline")
    data = json.loads(row.data)
    del data["hidden"]["4"]
    FilmDocument.objects.filter(pk=row.pk).update(data=json.dumps(data))
    assert client.get(url, {"seen": "0:05"}).text == whole
