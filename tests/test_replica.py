"""The read replica: visitors read from it; writes, the admin, signed-in
editors and an editor's next pages after a save use the primary; and if the
replica does not answer, reads fall back to the primary.

The replica here is Django's test mirror of the primary (tests/conftest.py):
a second connection to the same database, so which one a query used is what
these tests look at. Data is committed (``transaction=True``) so both see it.
"""

from unittest import mock

import pytest
from django.db import OperationalError, connections
from django.test.utils import CaptureQueriesContext

from stalker_guide import replica
from stalker_guide.replica import PIN_COOKIE
from tests.factories import build_guide

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])

VISITOR_PAGES = ["/", "/films/", "/films/guide-2000/", "/films/guide-2000/timeline/"]


@pytest.fixture(autouse=True)
def with_replica(settings):
    settings.READ_REPLICA = "replica"
    settings.PAGE_CACHE = False  # every request reads its page's rows
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    replica._retry_at = 0.0
    yield
    replica._retry_at = 0.0


@pytest.fixture(scope="module", autouse=True)
def replica_connections_closed():
    # The mirror's pooled connections (PostgreSQL) would keep the test
    # database from being dropped at the end of the run.
    yield
    connections["replica"].close()
    if getattr(connections["replica"], "pool", None):
        connections["replica"].close_pool()


@pytest.fixture
def guide():
    return build_guide()


PASSWORD = "a-long-editor-password"


@pytest.fixture
def editor(client, django_user_model):
    # A superuser: the Editors group of the migrations is flushed by
    # transactional tests.
    django_user_model.objects.create_superuser(username="editor", password=PASSWORD)
    client.force_login(django_user_model.objects.get(username="editor"))
    return client


class Queries:
    """The queries each database ran meanwhile."""

    def __enter__(self):
        self.contexts = {
            alias: CaptureQueriesContext(connections[alias])
            for alias in ("default", "replica")
        }
        for context in self.contexts.values():
            context.__enter__()
        return self

    def __exit__(self, *exc):
        for context in self.contexts.values():
            context.__exit__(*exc)

    def count(self, alias):
        return len(self.contexts[alias].captured_queries)


@pytest.mark.parametrize("url", VISITOR_PAGES)
def test_visitors_read_from_the_replica(client, guide, url):
    with Queries() as queries:
        assert client.get(url).status_code == 200
    assert queries.count("replica") > 0


def test_writes_go_to_the_primary(client, guide):
    with Queries() as queries:
        client.post("/admin/login/", {"username": "x", "password": "y"})
    assert queries.count("replica") == 0
    assert queries.count("default") > 0


def test_signed_in_editors_read_from_the_primary(editor, guide):
    client = editor
    with Queries() as queries:
        assert client.get("/films/guide-2000/").status_code == 200
        assert client.get("/admin/films/film/").status_code == 200
    assert queries.count("replica") == 0


def test_after_a_save_the_editors_next_page_reads_the_primary(editor, guide, settings):
    client, film = editor, guide
    response = client.post(
        "/admin/films/genre/add/", {"name": "Mystery", "slug": "mystery"}
    )
    assert response.status_code == 302
    pin = response.cookies[PIN_COOKIE]
    assert pin["max-age"] == settings.REPLICA_PIN_SECONDS
    assert pin["httponly"]
    # Signed out, with only the cookie: still the primary.
    client.cookies.pop(settings.SESSION_COOKIE_NAME)
    with Queries() as queries:
        assert client.get(f"/films/{film.slug}/").status_code == 200
    assert queries.count("replica") == 0
    # Once it has expired, the replica again.
    client.cookies.pop(PIN_COOKIE)
    with Queries() as queries:
        assert client.get(f"/films/{film.slug}/").status_code == 200
    assert queries.count("replica") > 0


def test_when_the_replica_does_not_answer_reads_go_to_the_primary(
    client, guide, caplog
):
    down = OperationalError("replica refused")
    with (
        Queries() as queries,
        mock.patch.object(
            connections["replica"], "ensure_connection", side_effect=down
        ),
    ):
        for url in VISITOR_PAGES:
            assert client.get(url).status_code == 200
    assert queries.count("replica") == 0
    # Asked once, then left alone for REPLICA_RETRY_SECONDS.
    assert caplog.text.count("The read replica does not answer") == 1
    replica._retry_at = 0.0
    with Queries() as queries:
        assert client.get("/films/guide-2000/").status_code == 200
    assert queries.count("replica") > 0


def test_without_a_replica_everything_reads_the_primary(client, guide, settings):
    settings.READ_REPLICA = None
    with Queries() as queries:
        for url in VISITOR_PAGES:
            assert client.get(url).status_code == 200
    assert queries.count("replica") == 0


def test_management_commands_use_the_primary(guide):
    from films.models import Film

    assert Film.objects.all()._db is None
    with Queries() as queries:
        assert Film.objects.count() == 1
    assert queries.count("replica") == 0


def test_readiness_reports_the_replica_without_requiring_it(client):
    assert client.get("/readyz/").json()["checks"]["replica"] == "ok"
    with mock.patch.object(
        connections["replica"],
        "ensure_connection",
        side_effect=OperationalError("replica refused"),
    ):
        response = client.get("/readyz/")
    assert response.status_code == 200
    assert response.json()["checks"] == {
        "database": "ok",
        "cache": "ok",
        "replica": "unavailable",
    }
