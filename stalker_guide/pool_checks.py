"""How often a pooled PostgreSQL connection is checked before it is used.

psycopg's pool can check a connection each time it hands one out (an empty
query: a round trip to the server), so that a connection the server dropped
— after a restart, say — is replaced before a request fails on it. Checking
on every request costs every page that reads the database a round trip.

Here a connection handed out moments ago (``DATABASE_CHECK_WINDOW``, a
quarter of a second by default) is handed out again unchecked: it is back in
the pool since, and the pool takes back only a connection in good order (one
the server dropped during its last use is closed; one left in a transaction
is rolled back, and closed if that fails). Any other connection is checked as before. A restart of the
server takes longer than that, so after one every connection is checked. A
connection the server drops some other way within that moment (a backend
killed by hand) fails the one request that gets it, with the usual 503, and
is replaced. (The same trade-off as HikariCP's ``aliveBypassWindowMs``.)

Only the ``check`` hook is used: a ``reset`` hook would have the pool hand
every returned connection to a worker thread before it can be used again —
a thread switch on every request.
"""

import time
import weakref


class CheckedUnlessRecent:
    """psycopg_pool's ``check`` hook for one pool."""

    def __init__(self, window):
        self.window = window
        self._handed_out = weakref.WeakKeyDictionary()

    def check(self, connection):
        """The pool's ``check``: before a connection is handed out."""
        last = self._handed_out.get(connection)
        if last is None or time.monotonic() - last >= self.window:
            from psycopg_pool import ConnectionPool

            ConnectionPool.check_connection(connection)
        self._handed_out[connection] = time.monotonic()
