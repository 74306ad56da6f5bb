"""Django's PostgreSQL backend, failing fast while the database is down.

A request that needs a connection when PostgreSQL does not answer waits for
the pool (``DATABASE_POOL_TIMEOUT``) and gets a 503. Under traffic, every
request waiting that long would tie up every worker — and requests queued
behind them would wait far longer. So once connecting has failed, this
process does not wait again for ``DATABASE_RETRY_SECONDS``: requests that need
the database fail at once (a 503 in milliseconds), pages that do not need it
are served, and after that time the next request tries again — with a
connection of its own, which a stopped server refuses at once, before it asks
the pool (which keeps reconnecting meanwhile).

This assumes gunicorn's sync workers (gunicorn.conf.py): a worker uses one
connection at a time, so its pool timing out means the database is not
answering, never that the pool is merely busy.
"""

import logging
import threading
import time

from django.conf import settings
from django.db.backends.postgresql import base

logger = logging.getLogger(__name__)


class DatabaseWrapper(base.DatabaseWrapper):
    # alias → monotonic time before which connecting is not tried again.
    _retry_at = {}
    _lock = threading.Lock()

    def get_new_connection(self, conn_params):
        retry_at = self._retry_at.get(self.alias)
        if retry_at is not None and time.monotonic() < retry_at:
            raise self.Database.OperationalError(
                "the database did not answer a moment ago; not trying again "
                f"for {retry_at - time.monotonic():.1f} s"
            )
        try:
            if retry_at is not None and self.pool:
                # Known to be down: one connection of our own says at once
                # whether it is back (a refused one fails in milliseconds),
                # rather than waiting for the pool's next attempt.
                self.Database.connect(**conn_params).close()
            connection = super().get_new_connection(conn_params)
        except self.Database.OperationalError as error:
            with self._lock:
                first = self.alias not in self._retry_at
                self._retry_at[self.alias] = (
                    time.monotonic() + settings.DATABASE_RETRY_SECONDS
                )
            if first:
                logger.error(
                    "The database %r does not answer (%s); failing fast for %s s "
                    "at a time until it does",
                    self.alias,
                    error,
                    settings.DATABASE_RETRY_SECONDS,
                )
            raise
        if self._retry_at.pop(self.alias, None) is not None:
            logger.warning("The database %r answers again", self.alias)
        return connection
