"""What crawlers, feed readers and browsers find first: the sitemap, the Atom
feed of updated guides, robots.txt and the site icon — none of them spoiling
anything, whatever the visitor's horizon."""

import html
import re
import xml.etree.ElementTree as ET

import pytest

from films.models import Film
from films.spoilers import Horizon
from tests.factories import build_guide, make_film

pytestmark = pytest.mark.django_db

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
ATOM = "{http://www.w3.org/2005/Atom}"


def locations(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)  # noqa: S314 — our own response
    return [loc.text for loc in root.iter(f"{SITEMAP}loc")]


def all_sitemap_urls(client):
    urls = []
    for section in locations(client, "/sitemap.xml"):
        urls += locations(client, section.removeprefix("http://testserver"))
    return urls


def test_the_sitemap_lists_every_published_guide_without_a_horizon(client):
    build_guide(5)
    make_film(slug="draft-2001", status=Film.Status.DRAFT)
    urls = all_sitemap_urls(client)
    for page in ["", "timeline/", "characters/", "themes/", "ending/", "next/"]:
        assert f"http://testserver/films/guide-2000/{page}" in urls
    assert "http://testserver/films/guide-2000/characters/hero/" in urls
    assert "http://testserver/people/lead-actor/" in urls
    assert "http://testserver/themes/memory/" in urls
    assert not any("draft-2001" in url for url in urls)
    assert not any("seen=" in url for url in urls)


def test_the_sitemap_names_no_character_a_new_visitor_has_not_met(client):
    build_guide(5)
    urls = all_sitemap_urls(client)
    assert not any("late-arrival" in url for url in urls)


def test_the_sitemap_gives_when_each_guide_last_changed(client):
    film = build_guide(5)
    film.refresh_from_db()
    body = client.get("/sitemap-films.xml").content.decode()
    assert f"<lastmod>{(film.changed_at or film.updated_at).date()}" in body


def test_the_feed_lists_updated_guides_with_spoiler_free_summaries(client):
    build_guide(5, premise="A premise anyone may read.")
    make_film(slug="draft-2001", title="Draft Film", status=Film.Status.DRAFT)
    response = client.get("/feeds/updated/", {"seen": "all"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)  # noqa: S314 — our own response
    entries = feed.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == ["Test Film (2000)"]
    assert entries[0].find(f"{ATOM}summary").text == "A premise anyone may read."
    assert entries[0].find(f"{ATOM}link").get("href") == (
        "http://testserver/films/guide-2000/"
    )
    assert "SECRET" not in response.content.decode()


def test_every_page_names_the_feed_and_the_icons(client):
    build_guide(5)
    for url in ["/", "/films/", "/films/guide-2000/", "/search/?q=test"]:
        page = client.get(url).content.decode()
        assert 'type="application/atom+xml"' in page and "/feeds/updated/" in page
        assert re.search(
            r'<link rel="icon" href="[^"]+\.svg" type="image/svg\+xml">', page
        )


def test_robots_txt_points_to_the_sitemap_and_keeps_crawlers_out_of_search(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    lines = response.content.decode().splitlines()
    assert "Sitemap: http://testserver/sitemap.xml" in lines
    assert "Disallow: /search/" in lines and "Disallow: /admin/" in lines


def test_the_favicon_is_an_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    assert "max-age" in response["Cache-Control"]
    assert client.post("/favicon.ico").status_code == 405


# --- the shipped guides ---------------------------------------------------------------


@pytest.mark.usefixtures("shipped_guides")
def test_sitemap_and_feed_spoil_no_shipped_guide(client):
    from tests.test_leaks import secrets

    sent = html.unescape(client.get("/feeds/updated/").content.decode())
    sent += " ".join(all_sitemap_urls(client))
    for film in Film.objects.all():
        for secret in secrets(film, Horizon.parse("none")):
            assert secret not in sent, f"{film.slug}: {secret[:80]}"
        for character in film.characters.exclude(reveals_at=None):
            assert f"/characters/{character.slug}/" not in sent, character.slug


from tests.shipped import shipped_guides  # noqa: E402, F401

DISCOVERY = [
    "/sitemap.xml",
    "/sitemap-films.xml",
    "/sitemap-people.xml",
    "/feeds/updated/",
]
KEPT_HEADERS = ["Content-Type", "X-Robots-Tag", "Last-Modified", "ETag"]


@pytest.mark.parametrize("url", DISCOVERY)
def test_kept_sitemaps_and_feed_are_the_ones_made_afresh(
    client, settings, django_assert_num_queries, url
):
    build_guide(5)
    made = client.get(url)
    assert made.status_code == 200
    with django_assert_num_queries(1):  # the catalogue's version only
        kept = client.get(url)
    settings.PAGE_CACHE = False
    fresh = client.get(url)
    assert kept.content == fresh.content == made.content
    for header in KEPT_HEADERS:
        assert kept.get(header) == fresh.get(header), header
    assert kept["Content-Type"].startswith(("application/xml", "application/atom+xml"))


def test_a_new_guide_is_in_the_next_sitemap_and_feed(client):
    build_guide(5)
    before = {url: client.get(url).content for url in DISCOVERY}
    make_film(slug="newly-published-2002", title="Newly Published")
    assert "http://testserver/films/newly-published-2002/" in all_sitemap_urls(client)
    feed = client.get("/feeds/updated/")
    assert "Newly Published" in feed.text
    assert feed.content != before["/feeds/updated/"]
    # A 304 for what the client holds, until the catalogue changes.
    again = client.get("/feeds/updated/", HTTP_IF_NONE_MATCH=feed["ETag"])
    assert again.status_code == 304
