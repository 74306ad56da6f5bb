"""Editor text never carries a script to a page.

Each payload goes through every editor text field by the admin's own forms,
then every visitor page of the film (at ``?seen=all``, where every text is
shown) and the admin pages are parsed: no script of the editor's, no event
handler, no ``javascript:`` link, no frame.
"""

import json
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse

from films import urls as film_urls
from films.markup import render_markdown
from films.models import Film, Person, Theme
from tests.admin_helpers import add_row, change_url, form_data, make_editor

pytestmark = pytest.mark.django_db

PAYLOADS = [
    '<script>alert("xss")</script>',
    '<img src=x onerror=alert("xss")>',
    "<svg/onload=alert('xss')>",
    '"><script>alert("xss")</script>',
    "'><img src=x onerror=alert(1)>",
    '[click me](javascript:alert("xss"))',
    "[click me](JaVaScRiPt:alert('xss'))",
    "<a href=\"javascript:alert('xss')\">link</a>",
    "<a href=\"jav&#x09;ascript:alert('xss')\">link</a>",
    '![x](javascript:alert("xss"))',
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<iframe src=\"javascript:alert('xss')\"></iframe>",
    '<details open ontoggle=alert("xss")>',
    '<math><mtext><table><mglyph><style><img src=x onerror=alert("xss")>',
    "<<script>script>alert('xss')<</script>/script>",
    '<p style="background:url(javascript:alert(1))">xss</p>',
    "<object data=\"javascript:alert('xss')\"></object>",
    "</textarea><script>alert('xss')</script>",
    "{{ 7|add:7 }}{% csrf_token %}<script>alert('xss')</script>",
]

FORBIDDEN_TAGS = {
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "base",
    "math",
}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "srcdoc"}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:text/html")


class ScriptFinder(HTMLParser):
    """Collects what in a page could run the payload."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []
        self._in = None

    def handle_starttag(self, tag, attrs):
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if name in URL_ATTRIBUTES and value:
                cleaned = "".join(ch for ch in value if ch > " ").lower()
                if cleaned.startswith(BAD_SCHEMES):
                    self.problems.append(f"<{tag} {name}={value!r}>")
            if name == "style" and "javascript" in (value or "").lower():
                self.problems.append(f"<{tag} style={value!r}>")
        if tag in ("script", "style"):
            self._in = tag
            self._json = "json" in dict(attrs).get("type", "")

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "script" and self._json:
            # Data, not code (JSON-LD, json_script): safe while the text stays
            # inside it, which a "</script>" that broke out would not.
            try:
                json.loads(data)
            except ValueError:
                self.problems.append(f"<script> with broken JSON {data[:60]!r}")
        elif self._in and ("alert(" in data or "xss" in data.lower()):
            self.problems.append(f"<{self._in}> holding {data[:40]!r}")


def problems_in(html):
    finder = ScriptFinder()
    finder.feed(html)
    return finder.problems


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_never_lets_a_payload_through(payload):
    assert problems_in(render_markdown(payload)) == []


def visitor_urls(film, person, theme, character_slug):
    """Every visitor page of the site that can show this film's text."""
    values = {
        "films/": film.slug,
        "people/": person.slug,
        "themes/": theme.slug,
    }
    urls = [reverse("films:home"), reverse("films:catalogue"), "/search/?q=xss"]

    def walk(patterns, prefix, kwargs):
        for pattern in patterns:
            route = str(pattern.pattern)
            args = dict(kwargs)
            for name in pattern.pattern.converters:
                if name == "slug":
                    args[name] = values.get(route.split("<")[0], film.slug)
                else:  # a new kind of argument needs a value here
                    args[name] = {"character_slug": character_slug, "section": "films"}[
                        name
                    ]
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + route, args)
            elif isinstance(pattern, URLPattern) and args:
                urls.append(reverse(f"films:{pattern.name}", kwargs=args) + "?seen=all")

    walk(film_urls.urlpatterns, "", {})
    return urls


def write_guide(client, payload):
    """An editor writes a whole guide with ``payload`` in every text field."""
    theme_data = form_data(client.get("/admin/films/theme/add/"))
    theme_data.update(name=payload[:100], slug="xss-theme", description=payload)
    assert client.post("/admin/films/theme/add/", theme_data).status_code == 302
    person_data = form_data(client.get("/admin/films/person/add/"))
    person_data.update(name=payload, original_name=payload, slug="xss-person")
    assert client.post("/admin/films/person/add/", person_data).status_code == 302
    theme = Theme.objects.get(slug="xss-theme")
    person = Person.objects.get(slug="xss-person")

    data = form_data(client.get("/admin/films/film/add/"))
    data.update(
        title=payload,
        original_title=payload,
        year="2001",
        slug="xss-2001",
        runtime="90",
        status="published",
        production_companies=payload,
        based_on=payload,
        premise=payload,
        ending_explained=payload,
    )
    add_row(
        data, "characters", name=payload, slug="hero", description=payload, position="1"
    )
    add_row(
        data,
        "scenes",
        screen_position="1",
        story_position="1",
        starts_at="0:00",
        ends_at="0:10",
        story_label=payload[:100],
        title=payload,
        slug="scene-1",
        summary=payload,
        location=payload,
        themes=[str(theme.pk)],
    )
    add_row(data, "plot_sections", position="1", heading=payload, body=payload)
    add_row(data, "film_themes", theme=str(theme.pk), position="1", analysis=payload)
    add_row(
        data,
        "recommendations",
        position="1",
        target_slug="solaris-1972",
        target_title=payload,
        target_year="1972",
        reason=payload,
    )
    add_row(
        data,
        "credits",
        position="1",
        role="director",
        person=str(person.pk),
        note=payload,
    )
    response = client.post("/admin/films/film/add/", data)
    assert response.status_code == 302, response.context["errors"]
    film = Film.objects.get(slug="xss-2001")

    # Second pass: what needs the saved film (cast, a scene's characters, beats).
    data = form_data(client.get(change_url(film)))
    hero = film.characters.get()
    data["scenes-0-characters"] = [str(hero.pk)]
    data["credits-0-role"] = "cast"
    data["credits-0-character"] = str(hero.pk)
    assert client.post(change_url(film), data).status_code == 302
    url = f"/admin/films/character/{hero.pk}/change/"
    character_data = form_data(client.get(url))
    add_row(character_data, "beats", position="1", text=payload, reveals_at="0:05")
    assert client.post(url, character_data).status_code == 302
    return film, person, theme, hero


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_payload_in_every_text_field_reaches_no_page(
    client, django_user_model, payload
):
    client.force_login(make_editor(django_user_model))
    film, person, theme, hero = write_guide(client, payload)

    visitor = Client()
    pages = visitor_urls(film, person, theme, hero.slug)
    assert f"/films/{film.slug}/?seen=all" in pages
    for url in pages:
        response = visitor.get(url)
        assert response.status_code == 200, url
        assert problems_in(response.text) == [], url

    admin_pages = [
        "/admin/films/film/",
        change_url(film),
        f"/admin/films/film/{film.pk}/history/",
        f"/admin/films/character/{hero.pk}/change/",
        "/admin/films/character/",
        "/admin/films/scene/",
        "/admin/films/person/",
        "/admin/films/theme/",
    ]
    for url in admin_pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert problems_in(response.text) == [], url
