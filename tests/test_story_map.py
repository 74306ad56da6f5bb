"""The story map: on the timeline, on the overview, and as an image — each
drawing exactly the revealed scenes and nothing past the horizon."""

import html
import re

import pytest

from films.models import Film
from films.spoilers import Horizon
from tests.factories import build_guide, make_character
from tests.shipped import shipped_guides  # noqa: F401

pytestmark = pytest.mark.django_db

TIMELINE = "/films/guide-2000/timeline/"
IMAGE = "/films/guide-2000/timeline.svg"
SVG = re.compile(r"<svg[^>]*class=\"story-map[^\"]*\".*?</svg>", re.S)


def the_map(response):
    """The story map's SVG, the first on the page (or the image itself)."""
    text = response.content.decode()
    if response["Content-Type"].startswith("image/svg+xml"):
        return text
    found = SVG.search(text)
    assert found, "no story map on the page"
    return found.group(0)


def scene_links(svg):
    return re.findall(r'<a href="([^"]*)"', svg)


def drawn_scenes(svg):
    return re.findall(r'<rect class="map-scene[^"]*" x="', svg)


# --- the timeline's map ---------------------------------------------------------


def test_nothing_seen_draws_one_block_and_no_scene(client):
    build_guide(5)
    svg = the_map(client.get(TIMELINE))
    assert drawn_scenes(svg) == []
    assert scene_links(svg) == []
    assert svg.count('class="map-unseen"') == 1
    assert "Not yet seen" in svg
    for n in range(1, 6):
        assert f"Scene title {n}" not in svg
    assert "<title" in svg and "<desc" in svg
    assert "Hero" not in svg  # no lanes before anyone is on screen


def test_mid_film_draws_the_revealed_scenes_and_one_unseen_block(client):
    build_guide(5)
    response = client.get(TIMELINE, {"seen": "0:12"})  # scenes 1–3 (0:00, 0:05, 0:10)
    svg = the_map(response)
    assert len(drawn_scenes(svg)) == 3
    for n in (1, 2, 3):
        assert f"Scene title {n}" in svg
    for n in (4, 5):
        assert f"Scene title {n}" not in svg
        assert f"#scene-{n}" not in svg
    assert svg.count('class="map-unseen"') == 1
    assert 'class="map-horizon"' in svg
    # The unseen block starts where the last revealed scene ends (0:15 of 0:25)
    # and no boundary past it is drawn.
    unseen_x = float(re.search(r'class="map-unseen" x="([\d.]+)"', svg).group(1))
    assert unseen_x == pytest.approx(10 + 620 * 15 / 25)
    page = response.content.decode()
    for href in scene_links(svg):
        assert href.startswith("#")
        assert f'id="{href[1:]}"' in page, f"{href} is not an anchor on the page"


def test_lanes_show_main_characters_and_theme_rows_show_revealed_themes(client):
    film = build_guide(5)
    make_character(film, "minor", name="Minor Figure", is_main=False)
    svg = the_map(client.get(TIMELINE, {"seen": "0:05"}))
    assert "map-character" in svg and ">Hero</text>" in svg
    assert "Late Arrival" not in svg  # revealed at 0:10
    assert "Minor Figure" not in svg  # not a main character
    # Scene 1 is about memory and scene 2 about faith: both rows, labelled.
    assert ">Memory</text>" in svg and ">Faith</text>" in svg
    assert re.search(r'class="map-theme theme-c\d"', svg)
    svg = the_map(client.get(TIMELINE, {"seen": "0:00"}))
    assert ">Faith</text>" not in svg  # its first scene is not seen yet


def test_everything_seen_draws_every_scene_and_no_horizon(client):
    build_guide(5)
    svg = the_map(client.get(TIMELINE, {"seen": "all"}))
    assert len(drawn_scenes(svg)) == 5
    assert 'class="map-unseen"' not in svg
    assert 'class="map-horizon"' not in svg
    assert ">Late Arrival</text>" not in svg  # not a main character either


def test_story_order_draws_the_braid_for_a_film_told_out_of_order(client):
    build_guide(5, story_reversed=True)
    svg = the_map(client.get(TIMELINE, {"seen": "0:12", "order": "story"}))
    assert 'class="braid"' in svg
    assert svg.count("<path") == 3  # one strand per revealed scene
    assert len(drawn_scenes(svg)) == 6  # three on screen, three in the story
    assert "Scene title 4" not in svg and "Scene title 5" not in svg
    page = client.get(TIMELINE, {"seen": "0:12", "order": "story"}).text
    assert "Of the 3 scenes you have seen, 2 are told out of order." in page
    all_page = client.get(TIMELINE, {"seen": "all", "order": "story"}).text
    assert "Told out of order in 4 of its 5 scenes." in all_page
    # Screen order, or a film told in order: no braid.
    assert 'class="braid"' not in the_map(client.get(TIMELINE, {"seen": "all"}))


def test_a_film_told_in_order_has_no_braid_in_story_order(client):
    build_guide(5)
    svg = the_map(client.get(TIMELINE, {"seen": "all", "order": "story"}))
    assert 'class="braid"' not in svg


def test_the_map_needs_no_inline_style_or_script(client):
    build_guide(5)
    svg = the_map(client.get(TIMELINE, {"seen": "all", "order": "story"}))
    assert "style=" not in svg and "<style" not in svg and "<script" not in svg


# --- the overview's compact map ----------------------------------------------------


def test_the_overview_has_a_compact_map_linking_to_the_timeline(client):
    build_guide(5)
    page = client.get("/films/guide-2000/", {"seen": "0:12"}).content.decode()
    svg = SVG.search(page).group(0)
    assert "story-map-compact" in svg
    assert len(drawn_scenes(svg)) == 3
    assert "Scene title" not in svg  # blocks only
    assert 'href="/films/guide-2000/timeline/?seen=0%3A12"' in page
    none = client.get("/films/guide-2000/", {"seen": "none"}).content.decode()
    assert drawn_scenes(SVG.search(none).group(0)) == []


def test_a_film_without_scenes_has_no_map_on_its_overview(client):
    from tests.factories import make_film

    make_film(slug="bare-2000")
    page = client.get("/films/bare-2000/", {"seen": "all"}).content.decode()
    assert "story-map" not in page


# --- the map as an image ------------------------------------------------------------


def test_the_image_is_svg_under_the_same_horizon_rules(client):
    build_guide(5)
    response = client.get(IMAGE, {"seen": "0:12"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    svg = response.content.decode()
    assert svg.startswith("<?xml")
    assert 'xmlns="http://www.w3.org/2000/svg"' in svg
    assert len(drawn_scenes(svg)) == 3
    assert "Scene title 4" not in svg and "SCENE-4" not in svg
    for href in scene_links(svg):
        assert href.startswith("http://testserver/films/guide-2000/timeline/?order=")
        assert "seen=0%3A12" in html.unescape(href)
    nothing = client.get(IMAGE).content.decode()
    assert drawn_scenes(nothing) == []


def test_the_image_sets_no_cookie_and_is_public_when_the_url_fixes_it(client):
    build_guide(5)
    response = client.get(IMAGE, {"seen": "all"})
    assert "Set-Cookie" not in response.headers
    assert "public" in response["Cache-Control"]
    assert response["ETag"]
    # The image did not move the visitor's horizon on the guide's pages.
    assert "SCENE-1-SECRET" not in client.get(TIMELINE).text


def test_the_image_is_cached_per_variant(client, django_assert_num_queries):
    build_guide(5)
    first = client.get(IMAGE, {"seen": "0:12", "order": "story"})
    with django_assert_num_queries(1):  # the film's version; the map is cached
        again = client.get(IMAGE, {"seen": "0:13", "order": "story"})
    assert again.content.replace(b"0%3A13", b"0%3A12") == first.content.replace(
        b"0:13", b"0:12"
    )
    assert again["Content-Type"].startswith("image/svg+xml")


def test_the_image_of_an_unknown_film_is_404_and_bad_order_is_screen(client):
    build_guide(5)
    assert client.get("/films/no-such-film/timeline.svg").status_code == 404
    response = client.get(IMAGE, {"seen": "all", "order": "sideways"})
    assert response.status_code == 200
    assert 'class="braid"' not in response.content.decode()
    response = client.get(IMAGE, {"seen": "not-a-time"})
    assert response.status_code == 200
    assert drawn_scenes(response.content.decode()) == []


# --- every shipped guide ------------------------------------------------------------


def shipped_films():
    from tests.shipped import FIXTURES, film_slug

    return [film_slug(path) for path in FIXTURES]


@pytest.mark.usefixtures("shipped_guides")
@pytest.mark.parametrize("slug", shipped_films())
def test_no_map_of_a_shipped_guide_draws_past_the_horizon(client, slug):
    film = Film.objects.get(slug=slug)
    scenes = list(film.scenes.all())
    times = ["none", "0:30", "1:15", "all"]
    for seen in times:
        horizon = Horizon.parse(seen)
        later = [s for s in scenes if not horizon.reveals(s.starts_at)]
        shown = [s for s in scenes if horizon.reveals(s.starts_at)]
        for order in ("screen", "story"):
            timeline = client.get(
                f"/films/{slug}/timeline/", {"seen": seen, "order": order}
            )
            image = client.get(
                f"/films/{slug}/timeline.svg", {"seen": seen, "order": order}
            )
            for svg in (the_map(timeline), image.content.decode()):
                text = html.unescape(svg)
                for scene in later:
                    assert f'#{scene.slug}"' not in text, (slug, seen, scene.slug)
                    assert scene.title not in text or any(
                        scene.title in s.title for s in shown
                    ), (slug, seen, scene.title)
            page = timeline.content.decode()
            for href in scene_links(the_map(timeline)):
                assert f'id="{href[1:]}"' in page, (slug, seen, href)
            expected = len(shown) * (2 if order == "story" and shown else 1)
            if order == "story" and 'class="braid"' not in the_map(timeline):
                expected = len(shown)
            assert len(drawn_scenes(the_map(timeline))) == expected, (slug, seen)


def test_the_story_row_is_as_wide_as_the_revealed_scenes(client):
    build_guide(5, story_reversed=True)
    svg = the_map(client.get(TIMELINE, {"seen": "0:12", "order": "story"}))
    screen = [
        (float(x), float(w))
        for x, w in re.findall(
            r'<rect class="map-scene" x="([\d.]+)" y="\d+" width="([\d.]+)"', svg
        )
    ]
    story = [
        (float(x), float(w))
        for x, w in re.findall(
            r'<rect class="map-scene map-story" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"',
            svg,
        )
    ]
    assert len(screen) == len(story) == 3
    assert max(x + w for x, w in story) == pytest.approx(max(x + w for x, w in screen))
