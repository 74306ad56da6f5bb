"""Each worker's own copy of the small values every page request reads first —
films' heads (``films.pages.head_key``) and the catalogue's version — kept
current by the writers, so that a page served from the cache costs no round
trip to Redis at all.

With Redis as the shared cache, every write that bumps a guide stores the new
heads there once it commits (``films.pages.publish_heads``) and then announces
the keys it changed on a pub/sub channel. Each worker keeps one listener
thread subscribed to that channel, and while the subscription is up it answers
reads of those keys from its own memory; an announcement drops the keys it
names, so the next request reads the new value from Redis.

The copy is only trusted while the listener is subscribed. Until the first
subscription is confirmed, whenever Redis is unreachable, and while the
listener reconnects, the mirror answers nothing and every read goes to the
cache as before; each new subscription starts from an empty copy, since
announcements may have been missed meanwhile. A value read while an
announcement arrived is not kept (it may be the old one). Entries also
expire after ``PAGE_CACHE_HEAD_SECONDS``, and the listener pings Redis, so
a network fault that drops messages silently cannot keep a worker stale for
longer than that.

Without Redis (local memory, one process per cache) there is nothing to
mirror: ``get`` always misses and pages read the database, as before.
"""

import contextlib
import json
import logging
import os
import threading
import time

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.dispatch import receiver

logger = logging.getLogger(__name__)

MISSING = object()
CHANNEL = "stalker-guide:changed-keys"
PING_SECONDS = 5  # the listener asks Redis whether it is there this often
SILENT_SECONDS = 15  # and gives the subscription up after this long unanswered
MAX_ENTRIES = 20_000


class HeadMirror:
    """A worker's copy of hot cache keys, invalidated over Redis pub/sub."""

    def __init__(self):
        self._lock = threading.Lock()
        self._values = {}
        self._generation = 0  # moves on every announcement and (re)subscription
        self._live = False
        self._pid = None
        self._client = None
        self._stop = threading.Event()
        self._thread = None
        # A forked worker starts afresh: its parent's listener is not running
        # there, and the lock may have been held at the fork.
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self):
        self._lock = threading.Lock()
        self._values = {}
        self._live = False
        self._pid = None
        self._thread = None

    # --- reading -------------------------------------------------------------

    def get(self, key):
        """The worker's copy of ``key``, or ``MISSING``."""
        if not self._running():
            return MISSING
        entry = self._values.get(key)
        if entry is None or entry[1] < time.monotonic():
            return MISSING
        return entry[0]

    def generation(self):
        """Take this before reading a value from the cache, and give it to
        ``keep``: a value read while an announcement arrived is not kept."""
        return self._generation

    def keep(self, key, value, generation):
        expires = time.monotonic() + settings.PAGE_CACHE_HEAD_SECONDS
        with self._lock:
            if not self._live or generation != self._generation:
                return
            if len(self._values) >= MAX_ENTRIES:
                self._values.clear()
            self._values[key] = (value, expires)

    @property
    def live(self):
        return self._live

    # --- writing -------------------------------------------------------------

    def announce(self, keys):
        """After the new values are in the cache: every worker drops its copy."""
        keys = list(keys)
        self._forget(keys)  # this worker at once, whatever happens next
        client = self._redis()
        if client is None:
            return
        try:
            client.publish(CHANNEL, json.dumps(keys))
        except Exception:  # a cache outage only makes the site slower
            logger.exception("Announcing changed keys over Redis failed")

    def _forget(self, keys):
        with self._lock:
            self._generation += 1
            for key in keys:
                self._values.pop(key, None)

    def clear(self):
        with self._lock:
            self._generation += 1
            self._values.clear()

    # --- the listener --------------------------------------------------------

    def _redis(self):
        """The shared cache's Redis client, or None when the cache is not Redis."""
        if not (settings.PAGE_CACHE and settings.PAGE_CACHE_SHARED):
            return None
        backend = caches["default"]
        if not isinstance(backend, RedisCache):
            return None
        return backend._cache.get_client(write=True)

    def _running(self):
        """Start the listener in this process if it is not running (a forked
        worker has none of its parent's threads); whether the copy is live."""
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._start()
        return self._live

    def _start(self):
        self._pid = os.getpid()
        self._values.clear()
        self._generation += 1
        self._live = False
        self._stop = threading.Event()
        self._client = self._redis()
        if self._client is None:
            self._thread = None
            return
        self._thread = threading.Thread(
            target=self._listen,
            args=(self._client, self._stop),
            name="head-mirror",
            daemon=True,
        )
        self._thread.start()

    def stop(self):
        """Stop the listener (tests, and a change of settings)."""
        with self._lock:
            self._stop.set()
            thread, self._thread = self._thread, None
            self._pid = None
            self._live = False
            self._values.clear()
            self._generation += 1
        if thread is not None:
            thread.join(timeout=5)

    def _listen(self, client, stop):
        backoff = 0.2
        while not stop.is_set():
            pubsub = None
            try:
                pubsub = client.pubsub()
                pubsub.subscribe(CHANNEL)
                self._await(pubsub, stop, "subscribe")
                with self._lock:
                    if stop.is_set():
                        return
                    self._values.clear()
                    self._generation += 1
                    self._live = True
                backoff = 0.2
                self._follow(pubsub, stop)
            except Exception as error:
                logger.warning("The head mirror lost Redis (%s); reconnecting", error)
            finally:
                if not stop.is_set():  # else stop() has done this
                    with self._lock:
                        self._live = False
                        self._values.clear()
                        self._generation += 1
                if pubsub is not None:
                    with contextlib.suppress(Exception):  # already broken
                        pubsub.close()
            stop.wait(backoff)
            backoff = min(backoff * 2, 5)

    @staticmethod
    def _await(pubsub, stop, kind):
        deadline = time.monotonic() + SILENT_SECONDS
        while not stop.is_set():
            message = pubsub.get_message(timeout=0.5)
            if message and message["type"] == kind:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {kind} confirmation from Redis")

    def _follow(self, pubsub, stop):
        heard = pinged = time.monotonic()
        while not stop.is_set():
            message = pubsub.get_message(timeout=1.0)
            now = time.monotonic()
            if message is not None:
                heard = now
                if message["type"] == "message":
                    self._forget(json.loads(message["data"]))
            if now - pinged >= PING_SECONDS:
                pubsub.ping()
                pinged = now
            if now - heard > SILENT_SECONDS:
                raise TimeoutError("Redis stopped answering pings")


head_mirror = HeadMirror()


@receiver(setting_changed)
def _follow_the_settings(*, setting, **kwargs):
    """A listener follows the cache it was started for: when the settings
    that choose it change (tests do), it stops, and the next read starts one
    for the new cache, if that is Redis. Without this, a listener for a cache
    that is gone went on reconnecting for the rest of the process."""
    if setting in {"CACHES", "PAGE_CACHE", "PAGE_CACHE_SHARED"}:
        head_mirror.stop()
