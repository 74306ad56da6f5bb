"""How often a pooled PostgreSQL connection is checked before it is used.

psycopg's pool can check a connection each time it hands one out (an empty
query: a round trip to the server), so that a connection the server dropped
— after a restart, say — is replaced before a request fails on it. Checking
on every request costs every page that reads the database a round trip.

Here a connection that came back to the pool in good order moments ago
(``DATABASE_CHECK_WINDOW``, a quarter of a second by default) is handed out
unchecked, and any other is checked as before. A restart of the server takes
longer than that, so after one every connection is checked. A connection the
server drops some other way within that moment (a backend killed by hand)
fails the one request that gets it, with the usual 503, and is replaced. A
connection is trusted once per return. (The same trade-off as HikariCP's
``aliveBypassWindowMs``.)
"""

import time
import weakref


class CheckedUnlessRecent:
    """psycopg_pool's ``check`` and ``reset`` hooks for one pool."""

    def __init__(self, window):
        self.window = window
        self._returned = weakref.WeakKeyDictionary()

    def returned(self, connection):
        """The pool's ``reset``: called when a connection comes back idle."""
        self._returned[connection] = time.monotonic()

    def check(self, connection):
        """The pool's ``check``: before a connection is handed out."""
        returned = self._returned.pop(connection, None)
        if returned is not None and time.monotonic() - returned < self.window:
            return
        from psycopg_pool import ConnectionPool

        ConnectionPool.check_connection(connection)
