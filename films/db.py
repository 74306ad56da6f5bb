"""Running our own precompiled statements.

Pages run a few statements of their own, each compiled once per process
(``pages._film_statement``, ``documents._statement``, the catalogue's cards):
cheap to send, but PostgreSQL would still parse and plan each one on every
request. :func:`prepared_cursor` binds their parameters on the server instead,
so psycopg prepares a statement after it has run ``prepare_threshold`` times
on a connection (settings), and PostgreSQL plans it once there. Django's own
queries keep binding on the client and are never prepared.
"""

from contextlib import contextmanager

from django.db import connections


@contextmanager
def prepared_cursor(alias):
    """Django's cursor on ``alias`` (query logging, error wrapping and all);
    on PostgreSQL, binding its parameters on the server."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            from django.db.backends.postgresql.base import ServerBindingCursor

            cursor.cursor.close()
            cursor.cursor = ServerBindingCursor(connection.connection)
        yield cursor
