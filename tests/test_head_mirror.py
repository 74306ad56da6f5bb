"""Each worker's copy of films' versions, kept current over Redis pub/sub
(films/head_mirror.py): a cached page then costs no round trip at all, and an
edit is still seen on the next request."""

import os
import time

import pytest
import redis

from films import pages
from films.head_mirror import MISSING, HeadMirror, head_mirror
from films.models import Scene
from tests.factories import build_guide

pytestmark = pytest.mark.django_db

TIMELINE = "/films/guide-2000/timeline/"
REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/14")


def wait_until(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def redis_cache_settings(url):
    return {
        "default": {
            "BACKEND": "stalker_guide.redis_cache.PooledClientRedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }


@pytest.fixture
def with_redis(settings):
    """The site on a real Redis, as in production (a database of its own)."""
    try:
        redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1).flushdb()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no Redis answers at {REDIS_TEST_URL} (CI starts one)")
    head_mirror.stop()
    settings.CACHES = redis_cache_settings(REDIS_TEST_URL)
    settings.PAGE_CACHE_SHARED = True
    yield
    head_mirror.stop()
    redis.Redis.from_url(REDIS_TEST_URL).flushdb()


class CacheSpy:
    """Django's cache, counting the reads that go to it."""

    def __init__(self, real):
        self.real = real
        self.reads = []

    def __getattr__(self, name):
        attribute = getattr(self.real, name)
        if name.startswith("get"):

            def counted(*args, **kwargs):
                self.reads.append((name, args))
                return attribute(*args, **kwargs)

            return counted
        return attribute


def test_a_cached_page_asks_neither_redis_nor_the_database(
    client,
    with_redis,
    monkeypatch,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        build_guide(5)
    first = client.get(TIMELINE, {"seen": "all"})
    assert wait_until(lambda: head_mirror.live)
    client.get(TIMELINE, {"seen": "all"})  # now the worker keeps its copy
    client.get("/films/")
    spy = CacheSpy(pages.cache)
    monkeypatch.setattr(pages, "cache", spy)
    with django_assert_num_queries(0):
        again = client.get(TIMELINE, {"seen": "all"})
        catalogue = client.get("/films/")
    assert again.content == first.content
    assert "Test Film" in catalogue.text
    assert spy.reads == []


def test_with_the_copy_live_an_edit_is_seen_on_the_next_request(
    client, with_redis, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        film = build_guide(5)
    client.get(TIMELINE, {"seen": "all"})
    assert wait_until(lambda: head_mirror.live)
    assert "SCENE-1-SECRET" in client.get(TIMELINE, {"seen": "all"}).text
    assert "Test Film" in client.get("/films/").text
    with django_capture_on_commit_callbacks(execute=True):
        scene = Scene.objects.get(film=film, screen_position=1)
        scene.summary = "REWRITTEN summary."
        scene.save()
        film.title = "Retitled Film"
        film.save()
    assert "REWRITTEN summary." in client.get(TIMELINE, {"seen": "all"}).text
    assert "Retitled Film" in client.get("/films/").text
    with django_capture_on_commit_callbacks(execute=True):
        film.status = film.Status.DRAFT
        film.save()
    assert client.get(TIMELINE).status_code == 404


def test_another_worker_drops_its_copy_when_a_change_is_announced(with_redis):
    other = HeadMirror()  # another worker's
    try:
        other.get("film-head:x")  # starts its listener
        assert wait_until(lambda: other.live)
        other.keep("film-head:x", {"version": 1}, other.generation())
        assert other.get("film-head:x") == {"version": 1}
        head_mirror.announce(["film-head:x"])
        assert wait_until(lambda: other.get("film-head:x") is MISSING, seconds=2)
    finally:
        other.stop()


def test_a_value_read_while_a_change_was_announced_is_not_kept(with_redis):
    head_mirror.get("film-head:y")
    assert wait_until(lambda: head_mirror.live)
    generation = head_mirror.generation()
    head_mirror.announce(["film-head:y"])  # a writer, between read and keep
    head_mirror.keep("film-head:y", {"version": 1}, generation)
    assert head_mirror.get("film-head:y") is MISSING
    head_mirror.keep("film-head:y", {"version": 2}, head_mirror.generation())
    assert head_mirror.get("film-head:y") == {"version": 2}


def test_copies_expire_after_the_head_lifetime(with_redis, settings):
    settings.PAGE_CACHE_HEAD_SECONDS = 0
    head_mirror.get("film-head:z")
    assert wait_until(lambda: head_mirror.live)
    head_mirror.keep("film-head:z", {"version": 1}, head_mirror.generation())
    time.sleep(0.01)
    assert head_mirror.get("film-head:z") is MISSING


def test_without_redis_there_is_no_copy(settings):
    settings.PAGE_CACHE_SHARED = True  # local memory: nothing to subscribe to
    mirror = HeadMirror()
    mirror.keep("film-head:a", {"version": 1}, mirror.generation())
    assert mirror.get("film-head:a") is MISSING
    assert not mirror.live


def test_with_redis_unreachable_pages_are_served_and_nothing_is_kept(
    client, settings, caplog
):
    head_mirror.stop()
    settings.CACHES = redis_cache_settings("redis://127.0.0.1:1/0")  # nobody there
    settings.PAGE_CACHE_SHARED = True
    try:
        build_guide(5)
        for _ in range(2):
            response = client.get(TIMELINE, {"seen": "all"})
            assert response.status_code == 200
            assert "SCENE-5-SECRET" in response.text
        assert not head_mirror.live
    finally:
        head_mirror.stop()


def listeners():
    import threading

    return [t for t in threading.enumerate() if t.name == "head-mirror"]


def test_a_listener_stops_when_the_cache_it_follows_is_changed(with_redis, settings):
    head_mirror.get("film-head:a")  # the first read starts the listener
    assert wait_until(lambda: head_mirror.live)
    assert len(listeners()) == 1
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    }
    assert listeners() == []
    assert head_mirror.get("film-head:a") is MISSING
    assert listeners() == []  # local memory: nothing to follow
    assert not head_mirror.live
