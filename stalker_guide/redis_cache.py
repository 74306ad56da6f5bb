"""Django's Redis cache, keeping one client per connection pool, and carrying
on without Redis while it does not answer.

Django's ``RedisCacheClient`` builds a new ``redis.Redis`` object for every
cache call, and building one (its table of response callbacks) cost about a
quarter of a millisecond here — more than the round trip to Redis, on every
request served from the cache. A client is only a view of its pool and is
safe to share between threads, so each pool's is made once and kept.

A cache outage only makes the site slower. A call that fails (Redis down,
or not answering within the socket timeouts set in settings) is logged and
answered as a miss — a read finds nothing, a write is dropped — and for the
next ``REDIS_RETRY_SECONDS`` this process does not ask Redis at all, so a
request costs at most one timeout, not one per cache call. Then the next call
tries again: when Redis is back, caching resumes by itself. ``ping()`` always
asks, and raises, for the readiness probe.
"""

import functools
import logging
import threading
import time

from django.conf import settings
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# What a failed call answers: a miss, or a write that did not happen.
_MISS = {
    "add": False,
    "get": None,  # the caller's default, see _guarded
    "set": None,
    "touch": False,
    "delete": False,
    "get_many": {},
    "has_key": False,
    "set_many": None,
    "delete_many": None,
    "clear": False,
}


def _guarded(method):
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if name == "get":
            miss = args[1] if len(args) > 1 else kwargs.get("default")
        else:
            miss = _MISS[name]
            if isinstance(miss, dict):
                miss = {}
        if self._skipping():
            return miss
        try:
            result = method(self, *args, **kwargs)
        except (RedisError, OSError) as error:
            self._failed(error)
            return miss
        self._answered()
        return result

    return wrapper


class PooledClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}
        self._lock = threading.Lock()
        self._retry_at = 0.0  # monotonic time before which Redis is not asked
        self._down = False

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client

    # -- an outage

    def _skipping(self):
        return self._down and time.monotonic() < self._retry_at

    def _failed(self, error):
        with self._lock:
            first = not self._down
            self._down = True
            self._retry_at = time.monotonic() + settings.REDIS_RETRY_SECONDS
        if first:
            logger.error(
                "The Redis cache does not answer (%s: %s); serving without it, "
                "trying again every %s s",
                type(error).__name__,
                error,
                settings.REDIS_RETRY_SECONDS,
            )
        else:
            logger.warning("The Redis cache still does not answer: %s", error)

    def _answered(self):
        if self._down:
            with self._lock:
                was_down, self._down = self._down, False
            if was_down:
                logger.warning("The Redis cache answers again; caching resumes")

    def ping(self):
        """Ask Redis, whatever the last call found; raise if it does not answer."""
        return self.get_client().ping()

    add = _guarded(RedisCacheClient.add)
    get = _guarded(RedisCacheClient.get)
    set = _guarded(RedisCacheClient.set)
    touch = _guarded(RedisCacheClient.touch)
    delete = _guarded(RedisCacheClient.delete)
    get_many = _guarded(RedisCacheClient.get_many)
    has_key = _guarded(RedisCacheClient.has_key)
    set_many = _guarded(RedisCacheClient.set_many)
    delete_many = _guarded(RedisCacheClient.delete_many)
    clear = _guarded(RedisCacheClient.clear)


class PooledClientRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = PooledClientRedisCacheClient

    def ping(self):
        """For the readiness probe: raises unless Redis answers now."""
        return self._cache.ping()
