"""When Redis does not answer: the site carries on, uncached, and says so.

Two kinds of outage: Redis stopped (the connection is refused at once) and
Redis hung (it accepts connections and never answers: the socket timeouts
end the wait). tests/test_outage.py stops and starts a real redis-server.
"""

import logging
import socket
import time
from unittest import mock

import pytest
from django.core.cache import cache, caches
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from stalker_guide.redis_cache import PooledClientRedisCache
from tests.factories import build_guide

BACKEND = "stalker_guide.redis_cache.PooledClientRedisCache"
TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def hung_server():
    """A port that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield server.getsockname()[1]


@pytest.fixture(params=["stopped", "hung"])
def redis_down(request, settings):
    if request.param == "stopped":
        port = free_port()
    else:
        port = request.getfixturevalue("hung_server")
    settings.CACHES = {
        "default": {
            "BACKEND": BACKEND,
            "LOCATION": f"redis://127.0.0.1:{port}/11",
            "OPTIONS": TIMEOUTS,
        }
    }
    settings.PAGE_CACHE_SHARED = True
    settings.REDIS_RETRY_SECONDS = 1.0
    return request.param


@pytest.mark.django_db
def test_pages_are_served_uncached_each_within_2_seconds(client, redis_down, caplog):
    build_guide()
    urls = ["/", "/films/", "/films/guide-2000/", "/films/guide-2000/timeline/"]
    with caplog.at_level(logging.WARNING, logger="stalker_guide.redis_cache"):
        for url in urls * 2:
            started = time.monotonic()
            response = client.get(url)
            assert response.status_code == 200, url
            assert time.monotonic() - started < 2, url
    # Logged once when it failed, not raised, not once per call.
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "The Redis cache does not answer" in errors[0].getMessage()


@pytest.mark.django_db
def test_readiness_reports_the_cache(client, redis_down):
    response = client.get("/readyz/")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "unavailable"}


def test_every_call_answers_as_a_miss(redis_down):
    assert cache.get("k") is None
    assert cache.get("k", "default") == "default"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.add("k", 1) is False
    assert cache.set("k", 1) is None
    assert cache.set_many({"a": 1}) == []
    assert cache.delete("k") is False
    assert cache.has_key("k") is False
    cache.delete_many(["a"])


def failing_then_answering():
    backend = PooledClientRedisCache("redis://127.0.0.1:1/11", {"OPTIONS": TIMEOUTS})
    client = mock.Mock()
    client.get.side_effect = [RedisConnectionError("down"), b"1"]
    backend._cache._clients = mock.Mock()
    backend._cache.get_client = mock.Mock(return_value=client)
    return backend, client


def test_after_a_failure_redis_is_not_asked_until_the_retry_time(settings):
    settings.REDIS_RETRY_SECONDS = 1.0
    backend, client = failing_then_answering()
    now = time.monotonic()
    with mock.patch("stalker_guide.redis_cache.time.monotonic", return_value=now):
        assert backend.get("k") is None
        assert backend.get("k") is None  # not asked
        assert backend.get_many(["k"]) == {}
    assert client.get.call_count == 1


def test_when_redis_answers_again_caching_resumes(settings, caplog):
    settings.REDIS_RETRY_SECONDS = 1.0
    backend, client = failing_then_answering()
    now = time.monotonic()
    with mock.patch("stalker_guide.redis_cache.time.monotonic", return_value=now):
        assert backend.get("k") is None
    with (
        mock.patch("stalker_guide.redis_cache.time.monotonic", return_value=now + 1.1),
        caplog.at_level(logging.WARNING, logger="stalker_guide.redis_cache"),
    ):
        assert backend.get("k") == 1
    assert "caching resumes" in caplog.text
    assert client.get.call_count == 2


def test_the_readiness_ping_always_asks(redis_down):
    backend = caches["default"]
    backend.get("k")  # fails, and the next calls are skipped …
    started = time.monotonic()
    with pytest.raises((RedisError, OSError)):  # refused, or timed out
        backend.ping()  # … but not the probe's
    assert time.monotonic() - started < 2
