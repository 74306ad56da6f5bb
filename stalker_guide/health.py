"""Probes for process managers and load balancers: /healthz/ and /readyz/.

``/healthz/`` (liveness) says the process answers and touches nothing else:
restarting an app server cannot bring a database back. ``/readyz/``
(readiness) says whether this server can serve pages — the database and the
cache answer — so a load balancer sends visitors elsewhere while they do not.

They are answered here, first in the middleware, before anything that could
touch a backing service or refuse the probe: a probe comes from the load
balancer with its own Host header (often an address, not ALLOWED_HOSTS) and
over plain HTTP (which SECURE_SSL_REDIRECT would redirect). Nothing they say
names a host, a version or an error: only which check failed.
"""

import logging

from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.http import HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers

logger = logging.getLogger(__name__)

LIVENESS_PATH = "/healthz/"
READINESS_PATH = "/readyz/"


def database_ready(alias="default"):
    """Whether the database answers a query (within the pool's timeout)."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.warning(
            "Readiness: the database %r does not answer", alias, exc_info=True
        )
        return False
    return True


def cache_ready(alias="default"):
    """Whether the cache answers (a Redis server: a PING within its timeouts)."""
    backend = caches[alias]
    try:
        ping = getattr(backend, "ping", None)
        if ping is not None:
            ping()
        else:
            backend.get("readyz")
    except Exception:
        logger.warning("Readiness: the cache %r does not answer", alias, exc_info=True)
        return False
    return True


def readiness():
    """Each check's result, and whether the server can serve. A read replica
    is reported but not required: reads fall back to the primary."""
    checks = {
        "database": "ok" if database_ready() else "unavailable",
        "cache": "ok" if cache_ready() else "unavailable",
    }
    ready = all(result == "ok" for result in checks.values())
    if settings.READ_REPLICA:
        checks["replica"] = (
            "ok" if database_ready(settings.READ_REPLICA) else "unavailable"
        )
    return checks, ready


def _never_cached(response):
    add_never_cache_headers(response)
    return response


class ProbeMiddleware:
    """Answers the two probes before any other middleware runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == LIVENESS_PATH:
            return _never_cached(HttpResponse("ok\n", content_type="text/plain"))
        if request.path_info == READINESS_PATH:
            checks, ready = readiness()
            return _never_cached(
                JsonResponse(
                    {"status": "ok" if ready else "unavailable", "checks": checks},
                    status=200 if ready else 503,
                )
            )
        return self.get_response(request)
