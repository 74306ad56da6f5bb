"""A read replica for visitors' pages (``DATABASE_REPLICA_URL``).

Visitors only read, and there are thousands of them for each editor: their
reads go to the replica. Everything else goes to the primary — every write,
every request of someone signed in (editors, the admin, a preview of a
draft), every request that is not a GET or HEAD, and, for a few seconds
after a request that wrote, that browser's next pages (a cookie), so an
editor sees their own save even while the replica lags. Outside requests
(management commands, the loader) everything is the primary.

If the replica does not answer, reads go to the primary, and the replica is
tried again after ``REPLICA_RETRY_SECONDS``.
"""

import logging
import time
from contextvars import ContextVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.urls import reverse

logger = logging.getLogger(__name__)

PIN_COOKIE = "read_primary"

# Per request: {"replica": may reads go there, "wrote": did anything write}.
_request = ContextVar("replica_request", default=None)
_retry_at = 0.0  # monotonic time before which the replica is not tried again


def replica_usable():
    """Whether the replica answers (a connection is, or can be, opened)."""
    global _retry_at
    if time.monotonic() < _retry_at:
        return False
    alias = settings.READ_REPLICA
    try:
        connections[alias].ensure_connection()
    except (OperationalError, InterfaceError) as error:
        _retry_at = time.monotonic() + settings.REPLICA_RETRY_SECONDS
        logger.error(
            "The read replica does not answer (%s); reading from the primary for %s s",
            error,
            settings.REPLICA_RETRY_SECONDS,
        )
        return False
    return True


class ReplicaRouter:
    """Visitors' reads to the replica; everything else to the primary."""

    def db_for_read(self, model, **hints):
        state = _request.get()
        if state is not None and state["replica"] and replica_usable():
            return settings.READ_REPLICA
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        state = _request.get()
        if state is not None:
            state["wrote"] = True
            # The rest of this request reads what it wrote.
            state["replica"] = False
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, and its copy

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


class ReplicaMiddleware:
    """Decides, per request, whether its reads may go to the replica."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not settings.READ_REPLICA:
            return self.get_response(request)
        state = {"replica": self.reads_from_replica(request), "wrote": False}
        token = _request.set(state)
        try:
            response = self.get_response(request)
        finally:
            _request.reset(token)
        if state["wrote"]:
            response.set_cookie(
                PIN_COOKIE,
                "1",
                max_age=settings.REPLICA_PIN_SECONDS,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response

    @staticmethod
    def reads_from_replica(request):
        return (
            request.method in ("GET", "HEAD")
            and PIN_COOKIE not in request.COOKIES
            and settings.SESSION_COOKIE_NAME not in request.COOKIES
            and not request.path.startswith(reverse("admin:index"))
        )
