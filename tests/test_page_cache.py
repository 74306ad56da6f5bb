"""The page cache and HTTP caching: fast, and never one visitor's horizon for another."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from films.derived import bump_films
from films.models import CharacterBeat, Film, PlotSection, Scene
from films.pages import film_points, pages_cache
from films.spoilers import Horizon, effective_horizon, variant_key
from tests.factories import build_guide, make_film, minutes

pytestmark = pytest.mark.django_db

TIMELINE = "/films/guide-2000/timeline/"


def shown_scene_secrets(response):
    return sorted(set(re.findall(r"SCENE-\d+-SECRET", response.text)))


# --- The effective horizon: few variants ---------------------------------------------


def test_a_time_moves_back_to_the_latest_reveal_point():
    points = (minutes(0), minutes(5), minutes(10), minutes(25))
    assert effective_horizon(Horizon.at_time(minutes(7)), points) == Horizon.at_time(
        minutes(5)
    )
    assert effective_horizon(Horizon.at_time(minutes(5)), points) == Horizon.at_time(
        minutes(5)
    )
    assert effective_horizon(Horizon.at_time(minutes(24)), points) == Horizon.at_time(
        minutes(10)
    )
    assert effective_horizon(Horizon.parse("none"), points).is_none
    assert effective_horizon(Horizon.parse("all"), points).is_all


def test_a_time_before_every_reveal_point_is_nothing_seen():
    points = (minutes(3), minutes(9))
    assert effective_horizon(Horizon.at_time(minutes(2)), points).is_none


def test_the_reveal_points_are_every_kind_of_reveal_point():
    film = build_guide(5)
    points = film_points(film).reveal_points
    # Scenes at 0, 5, 10, 15, 20; the late character and a beat at 10 and 5;
    # a plot section at 15; an analysis at 5; the ending at the end (25).
    assert points == tuple(minutes(m) for m in (0, 5, 10, 15, 20, 25))


def test_two_times_that_reveal_the_same_things_get_the_same_page(client):
    film = build_guide(5)
    CharacterBeat.objects.filter(character__film=film, position=3).update(
        reveals_at=minutes(17)
    )
    bump_films([film.pk])
    first = client.get(TIMELINE, {"seen": "0:12"})
    second = Client().get(TIMELINE, {"seen": "0:13"})
    assert shown_scene_secrets(first) == shown_scene_secrets(second)
    assert first["ETag"] != second["ETag"]  # only the visitor's own label differs
    strip = re.compile(r'<section class="horizon".*?</section>|seen=0%3A1[23]', re.S)
    assert strip.sub("", first.text) == strip.sub("", second.text)
    assert "seen=0%3A12" in first.text and "seen=0%3A13" in second.text
    assert "0:12 (your choice)" in first.text
    assert "0:13 (your choice)" in second.text


def test_a_film_has_a_variant_per_reveal_point_whatever_times_are_asked(
    client, settings
):
    film = build_guide(5)
    seen_keys = set()
    for minute in range(film.runtime + 1):
        for second in (0, 30):
            value = f"0:{minute:02d}:{second:02d}" if minute < 60 else "all"
            response = client.get(TIMELINE, {"seen": value})
            assert response.status_code == 200
            seen_keys.add(shown_scene_secrets(response).__repr__())
    # none, each of the 6 reveal points (the last is the end: all).
    assert len(seen_keys) <= len(film_points(film).reveal_points) + 1


# --- The cache key ------------------------------------------------------------------


def key(**changes):
    values = {
        "page": "timeline",
        "film_id": 1,
        "version": 7,
        "horizon": Horizon.at_time(minutes(5)),
        "order": "screen",
        "code": "abc",
        "site": "https://guide.example.org",
        "extra": "",
        **changes,
    }
    return variant_key(**values)


@pytest.mark.parametrize(
    "change",
    [
        {"page": "characters"},
        {"film_id": 2},
        {"version": 8},
        {"horizon": Horizon.at_time(minutes(6))},
        {"horizon": Horizon.parse("all")},
        {"horizon": Horizon.parse("none")},
        {"order": "story"},
        {"code": "abd"},
        {"site": "http://guide.example.org"},
        {"extra": "the-writer"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_what_fixes_a_page_changes_its_cache_key(change):
    assert key(**change) != key()


def test_the_same_inputs_give_the_same_key():
    assert key() == key(horizon=Horizon.parse("0:05"))


def test_the_visitors_own_time_is_not_in_the_key(client):
    # Two visitors whose times reveal the same things share the variant.
    film = build_guide(5)
    points = film_points(film).reveal_points
    at_7 = effective_horizon(Horizon.parse("0:07"), points)
    at_9 = effective_horizon(Horizon.parse("0:09:59"), points)
    assert key(horizon=at_7) == key(horizon=at_9)


# --- Never another visitor's horizon ---------------------------------------------------


ORDERS_OF_ARRIVAL = [("all", "fresh"), ("fresh", "all")]


@pytest.mark.parametrize("first, second", ORDERS_OF_ARRIVAL)
@pytest.mark.parametrize("how", ["url", "cookie"])
def test_a_cached_page_never_crosses_horizons(first, second, how):
    build_guide(5)

    def visit(who):
        client = Client()
        if who == "all":
            if how == "url":
                return client.get(TIMELINE, {"seen": "all"})
            client.cookies["seen_guide-2000"] = "all"
        return client.get(TIMELINE)

    responses = {first: visit(first), second: visit(second)}
    for who in (first, second):
        again = visit(who)
        assert shown_scene_secrets(again) == shown_scene_secrets(responses[who])
    assert shown_scene_secrets(responses["all"]) == [
        f"SCENE-{n}-SECRET" for n in range(1, 6)
    ]
    assert shown_scene_secrets(responses["fresh"]) == []
    assert "ENDING-SECRET" not in responses["fresh"].text


@pytest.mark.parametrize("order", ["screen", "story"])
def test_every_horizon_gets_its_own_content_in_any_order(order):
    build_guide(5, story_reversed=True)
    values = ["0:07", "all", "none", "0:12", "0:00", "0:19", "0:07"]
    expected = {
        "0:07": 2,
        "all": 5,
        "none": 0,
        "0:12": 3,
        "0:00": 1,
        "0:19": 4,
    }
    for value in values:
        response = Client().get(TIMELINE, {"seen": value, "order": order})
        assert len(shown_scene_secrets(response)) == expected[value], value


def test_a_visitor_with_a_cookie_gets_their_own_horizon_from_a_shared_url():
    build_guide(5)
    Client().get(TIMELINE, {"seen": "all"})  # cached at all
    visitor = Client()
    visitor.cookies["seen_guide-2000"] = "0:05"
    response = visitor.get(TIMELINE)
    assert shown_scene_secrets(response) == ["SCENE-1-SECRET", "SCENE-2-SECRET"]


# --- Edits are seen on the very next request --------------------------------------------


def test_an_edit_is_seen_on_the_next_request(client):
    film = build_guide(5)
    assert "SCENE-1-SECRET" in client.get(TIMELINE, {"seen": "all"}).text
    scene = Scene.objects.get(film=film, screen_position=1)
    scene.summary = "REWRITTEN summary."
    scene.save()
    response = client.get(TIMELINE, {"seen": "all"})
    assert "REWRITTEN summary." in response.text
    assert "SCENE-1-SECRET" not in response.text


def test_a_deleted_row_disappears_on_the_next_request(client):
    film = build_guide(5)
    assert "PLOT-2-SECRET" in client.get("/films/guide-2000/", {"seen": "all"}).text
    PlotSection.objects.filter(film=film, position=2).delete()
    assert "PLOT-2-SECRET" not in client.get("/films/guide-2000/", {"seen": "all"}).text


def test_a_renamed_person_is_seen_on_every_page_that_names_them(client):
    build_guide(5)
    pages = ["/films/guide-2000/", "/films/", "/people/the-director/"]
    for page in pages:
        assert "The Director" in client.get(page).text
    person = Film.objects.get().credits.get(role="director").person
    person.name = "Renamed Director"
    person.save()
    for page in pages:
        assert "Renamed Director" in client.get(page).text, page


def test_a_scenes_characters_changing_is_seen(client):
    film = build_guide(5)
    scene = Scene.objects.get(film=film, screen_position=1)
    assert "Hero</a>" in client.get(TIMELINE, {"seen": "all"}).text
    for other in Scene.objects.filter(film=film):
        other.characters.clear()
    assert "Hero</a>" not in client.get(TIMELINE, {"seen": "all"}).text
    scene.characters.add(film.characters.get(slug="hero"))
    assert "Hero</a>" in client.get(TIMELINE, {"seen": "all"}).text


def test_publishing_a_recommended_film_links_it_from_other_guides(client):
    build_guide(5)
    assert (
        'href="/films/mirror-1975/"' not in client.get("/films/guide-2000/next/").text
    )
    make_film(slug="mirror-1975", title="Mirror", year=1975)
    assert 'href="/films/mirror-1975/"' in client.get("/films/guide-2000/next/").text
    Film.objects.get(slug="mirror-1975").delete()
    assert (
        'href="/films/mirror-1975/"' not in client.get("/films/guide-2000/next/").text
    )


def test_unpublishing_a_film_takes_it_off_every_cached_page(client):
    film = build_guide(5)
    assert client.get("/films/guide-2000/").status_code == 200
    assert "Test Film" in client.get("/films/").text
    film.status = Film.Status.DRAFT
    film.save()
    assert client.get("/films/guide-2000/").status_code == 404
    assert "guide-2000" not in client.get("/films/").text


def test_versions_only_grow_and_differ_between_films():
    one = build_guide(5, slug="one-2000")
    two = build_guide(5, slug="two-2000")
    one.refresh_from_db()
    two.refresh_from_db()
    assert one.version != two.version
    before = one.version
    bump_films([one.pk])
    one.refresh_from_db()
    assert one.version > max(before, two.version)


# --- HTTP caching ------------------------------------------------------------------------


def test_a_url_that_fixes_the_content_may_be_cached_by_anyone(client):
    build_guide(5)
    client.get(TIMELINE, {"seen": "0:10"})  # this one sets the visitor's cookie
    response = client.get(TIMELINE, {"seen": "0:10"})
    control = response["Cache-Control"]
    assert "public" in control and "max-age=" in control
    assert "stale-while-revalidate=" in control
    assert "Cookie" not in response.get("Vary", "")
    assert re.fullmatch(r'"[0-9a-f]+"', response["ETag"])  # strong
    assert "Last-Modified" not in response  # changed this very second
    Film.objects.update(changed_at=timezone.now() - timedelta(minutes=5))
    assert Client().get(TIMELINE, {"seen": "0:10"})["Last-Modified"]


@pytest.mark.parametrize("cookie", [None, "all", "0:05"])
def test_a_page_from_the_cookie_or_the_default_is_private(cookie):
    build_guide(5)
    client = Client()
    if cookie:
        client.cookies["seen_guide-2000"] = cookie
    response = client.get(TIMELINE)
    assert "private" in response["Cache-Control"]
    assert "public" not in response["Cache-Control"]
    assert "Cookie" in response["Vary"]


def test_a_conditional_get_answers_304_and_a_changed_guide_200(client):
    film = build_guide(5)
    first = client.get(TIMELINE, {"seen": "all"})
    again = client.get(TIMELINE, {"seen": "all"}, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again.content == b""
    Scene.objects.filter(film=film, screen_position=1).first().save()
    changed = client.get(TIMELINE, {"seen": "all"}, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert changed["ETag"] != first["ETag"]


def test_each_horizon_has_its_own_etag():
    build_guide(5)
    tags = {
        Client().get(TIMELINE, {"seen": value})["ETag"]
        for value in ("none", "0:05", "0:10", "all")
    }
    assert len(tags) == 4
    fresh = Client().get(TIMELINE)
    seen_all = Client()
    seen_all.cookies["seen_guide-2000"] = "all"
    # A browser holding the fresh page's ETag, now with a cookie at "all",
    # must get the page at "all", not a 304.
    response = seen_all.get(TIMELINE, HTTP_IF_NONE_MATCH=fresh["ETag"])
    assert response.status_code == 200
    assert len(shown_scene_secrets(response)) == 5


def test_the_cookie_is_set_only_when_it_changes(client):
    build_guide(5)
    first = client.get(TIMELINE, {"seen": "0:10"})
    assert first.cookies["seen_guide-2000"].value == "0:10"
    again = client.get(TIMELINE, {"seen": "0:10"})
    assert "seen_guide-2000" not in again.cookies


def test_a_bad_parameter_is_answered_privately_with_its_message(client):
    build_guide(5)
    response = client.get(TIMELINE, {"seen": "soon", "order": "sideways"})
    assert response.status_code == 200
    assert "is not a point in the film" in response.text
    assert "is not an order" in response.text
    assert "private" in response["Cache-Control"]
    assert "ETag" not in response
    assert shown_scene_secrets(response) == []


def test_staff_are_never_served_or_given_cached_pages(client, staff_user):
    film = build_guide(5, status=Film.Status.DRAFT)
    client.force_login(staff_user)
    response = client.get(TIMELINE, {"seen": "all"})
    assert response.status_code == 200
    assert "Draft" in response.text
    assert "private" in response["Cache-Control"]
    assert "ETag" not in response
    visitor = Client()
    assert visitor.get(TIMELINE, {"seen": "all"}).status_code == 404
    film.status = Film.Status.PUBLISHED
    film.save()
    assert "Draft —" not in visitor.get(TIMELINE, {"seen": "all"}).text


def test_with_page_cache_off_nothing_is_stored(client, settings):
    from django.core.cache import cache

    settings.PAGE_CACHE = False
    build_guide(5)
    client.get(TIMELINE, {"seen": "all"})
    client.get("/films/")
    assert not any(
        key.startswith((":1:page:", ":1:site:", ":1:points:"))
        for key in cache._cache  # local memory: the keys themselves
    )
    assert not pages_cache.local


def test_a_render_that_used_the_nonce_is_not_stored(client, monkeypatch):
    from django.core.cache import cache

    from films import pages

    build_guide(5)
    monkeypatch.setattr(pages, "_used_per_request_parts", lambda request: True)
    client.get(TIMELINE, {"seen": "all"})
    assert not any(":1:page:" in key for key in cache._cache)
    assert not any(key.startswith("page:") for key in pages_cache.local)


def test_the_full_stalker_sized_timeline_stays_small(client):
    build_guide(60)
    response = client.get(TIMELINE, {"seen": "all"})
    assert len(response.content) < 100_000


def test_horizon_time_past_the_runtime_is_all():
    film = build_guide(5)
    response = Client().get(TIMELINE, {"seen": "9:00"})
    assert len(shown_scene_secrets(response)) == 5
    assert film.duration == timedelta(minutes=25)


# --- With a shared cache (Redis), versions come from the cache ------------------------


@pytest.fixture
def shared_cache(settings):
    # Local memory stands in for Redis: one process, so it is "shared".
    settings.PAGE_CACHE_SHARED = True


def test_a_cached_page_costs_no_query_with_a_shared_cache(
    client, shared_cache, django_assert_num_queries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        build_guide(5)
    first = client.get(TIMELINE, {"seen": "all"})
    with django_assert_num_queries(0):
        again = client.get(TIMELINE, {"seen": "all"})
    assert again.content == first.content
    client.get("/films/")
    with django_assert_num_queries(0):
        assert "Test Film" in client.get("/films/").text


def test_with_a_shared_cache_an_edit_is_seen_on_the_next_request(
    client, shared_cache, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        film = build_guide(5)
    assert "SCENE-1-SECRET" in client.get(TIMELINE, {"seen": "all"}).text
    assert "Test Film" in client.get("/films/").text
    with django_capture_on_commit_callbacks(execute=True):
        scene = Scene.objects.get(film=film, screen_position=1)
        scene.summary = "REWRITTEN summary."
        scene.save()
        film.title = "Retitled Film"
        film.save()
    response = client.get(TIMELINE, {"seen": "all"})
    assert "REWRITTEN summary." in response.text
    assert "Retitled Film" in client.get("/films/").text


def test_with_a_shared_cache_unpublishing_and_deleting_take_effect_at_once(
    client, shared_cache, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        film = build_guide(5)
    assert client.get(TIMELINE).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        film.status = Film.Status.DRAFT
        film.save()
    assert client.get(TIMELINE).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        film.status = Film.Status.PUBLISHED
        film.save()
    assert client.get(TIMELINE).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        film.delete()
    assert client.get(TIMELINE).status_code == 404


def test_a_cache_outage_only_makes_pages_slower(client, monkeypatch, settings):
    from films import pages

    class Down:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise ConnectionError("the cache is down")

            return fail

    settings.PAGE_CACHE_SHARED = True  # as with Redis: versions from the cache too
    monkeypatch.setattr(pages, "cache", Down())
    build_guide(5)
    for url in [TIMELINE, "/films/", "/search/?q=scene", "/films/guide-2000/"]:
        response = client.get(url, {"seen": "all"})
        assert response.status_code == 200, url
    assert "SCENE-5-SECRET" in client.get(TIMELINE, {"seen": "all"}).text
