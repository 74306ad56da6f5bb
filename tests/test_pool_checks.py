"""Pooled PostgreSQL connections are checked before use, except one handed
out moments ago, and back in the pool since (stalker_guide/pool_checks.py)."""

import time

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from stalker_guide.pool_checks import CheckedUnlessRecent
from stalker_guide.settings import parse_database_url


class Checks:
    """Counts the pool's own checks (ConnectionPool.check_connection)."""

    def __init__(self, monkeypatch):
        from psycopg_pool import ConnectionPool

        self.count = 0
        real = ConnectionPool.check_connection

        def counted(conn):
            self.count += 1
            real(conn)

        monkeypatch.setattr(ConnectionPool, "check_connection", counted)


class FakeConnection:
    pass


def test_a_connection_handed_out_moments_ago_is_handed_out_unchecked(monkeypatch):
    from psycopg_pool import ConnectionPool

    checked = []
    monkeypatch.setattr(ConnectionPool, "check_connection", checked.append)
    checks = CheckedUnlessRecent(window=60)
    conn, other = FakeConnection(), FakeConnection()
    checks.check(conn)  # never handed out: checked
    checks.check(conn)  # moments ago: trusted
    checks.check(conn)
    checks.check(other)  # each connection on its own
    assert checked == [conn, other]


def test_a_connection_handed_out_longer_ago_than_the_window_is_checked(monkeypatch):
    from psycopg_pool import ConnectionPool

    checked = []
    monkeypatch.setattr(ConnectionPool, "check_connection", checked.append)
    checks = CheckedUnlessRecent(window=0.05)
    conn = FakeConnection()
    checks.check(conn)
    time.sleep(0.1)
    checks.check(conn)
    assert checked == [conn, conn]


def test_a_connection_that_fails_its_check_is_not_trusted_after(monkeypatch):
    from psycopg_pool import ConnectionPool

    def broken(conn):
        raise ConnectionError("the server has gone")

    monkeypatch.setattr(ConnectionPool, "check_connection", broken)
    checks = CheckedUnlessRecent(window=60)
    conn = FakeConnection()
    for _ in range(2):
        with pytest.raises(ConnectionError):
            checks.check(conn)


def test_the_pool_gets_the_check_by_default(monkeypatch):
    monkeypatch.delenv("DATABASE_CHECK_WINDOW", raising=False)
    monkeypatch.delenv("DATABASE_HEALTH_CHECKS", raising=False)
    pool = parse_database_url("postgres://127.0.0.1/guide")["OPTIONS"]["pool"]
    checks = pool["check"].__self__
    assert isinstance(checks, CheckedUnlessRecent)
    assert checks.window == 0.25
    # No reset hook: with one, the pool returns each connection through a
    # worker thread (a thread switch on every request).
    assert "reset" not in pool


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_CHECK_WINDOW", "0"),
        ("DATABASE_CHECK_WINDOW", "0.00"),
        ("DATABASE_HEALTH_CHECKS", "false"),
    ],
)
def test_every_connection_is_checked_or_none_is(monkeypatch, name, value):
    # A window of 0: Django's own check, every time. No health checks: none.
    monkeypatch.setenv(name, value)
    db = parse_database_url("postgres://127.0.0.1/guide")
    assert "check" not in db["OPTIONS"]["pool"]
    assert "reset" not in db["OPTIONS"]["pool"]
    assert db["CONN_HEALTH_CHECKS"] is (name != "DATABASE_HEALTH_CHECKS")


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_a_bad_window_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv("DATABASE_CHECK_WINDOW", value)
    with pytest.raises(ImproperlyConfigured, match="DATABASE_CHECK_WINDOW"):
        parse_database_url("postgres://127.0.0.1/guide")


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="psycopg's pool is PostgreSQL's"
)


@pytest.fixture
def pool(db):
    """A real psycopg pool on the test database, with the site's hooks."""
    from psycopg_pool import ConnectionPool

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    checks = CheckedUnlessRecent(window=0.5)
    name = "stalker-pool-checks-test"
    pool = ConnectionPool(
        kwargs={**params, "autocommit": True, "application_name": name},
        min_size=1,
        max_size=1,
        check=checks.check,
        open=True,
    )
    pool.wait()
    yield pool
    pool.close()
    # Nothing of this pool may outlive the test: a session left on the test
    # database (one the pool was still opening, say) would stop it being
    # dropped at the end of the run.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            [name],
        )


@postgres_only
def test_back_to_back_requests_make_no_check_round_trip(pool, monkeypatch):
    checks = Checks(monkeypatch)
    with pool.connection() as conn:
        conn.execute("SELECT 1")
    with pool.connection() as conn:
        conn.execute("SELECT 1")
    assert checks.count <= 1  # the first (a new connection) at most


@postgres_only
def test_a_connection_the_server_dropped_is_replaced_before_use(pool, monkeypatch):
    """The promise of the check: after the server drops a connection (as on
    a restart, which takes longer than the window), the next user gets a
    working one, not an error."""
    with pool.connection() as conn:
        pid = conn.info.backend_pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    time.sleep(0.6)  # longer than the window
    checks = Checks(monkeypatch)
    with pool.connection(timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.info.backend_pid != pid
    assert checks.count >= 1
