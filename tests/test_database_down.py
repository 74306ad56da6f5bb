"""When the database does not answer: a fast 503 in the site's look.

The real thing — gunicorn, a PostgreSQL stopped under traffic and started
again — is tests/test_outage.py; here the database's refusal is simulated,
and the pool's timeouts are measured against a port nothing listens on.
"""

import socket
import time
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import Client

from stalker_guide.postgresql.base import DatabaseWrapper
from stalker_guide.settings import parse_database_url
from tests.factories import build_guide

pytestmark = pytest.mark.django_db

REFUSED = OperationalError(
    'connection failed: connection to server at "10.9.8.7", port 5432 failed: '
    "Connection refused"
)


@pytest.fixture
def visitor():
    # Errors become pages, as for a real visitor, instead of being raised.
    return Client(raise_request_exception=False)


def assert_no_internals(response):
    text = response.content.decode()
    for secret in ("10.9.8.7", "5432", "refused", "OperationalError", "Traceback"):
        assert secret not in text


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/films/",
        "/films/guide-2000/",
        "/films/guide-2000/timeline/",
        "/search/?q=x",
    ],
)
def test_a_visitor_gets_a_styled_503_with_retry_after(visitor, url):
    build_guide()
    with mock.patch.object(connection, "ensure_connection", side_effect=REFUSED):
        response = visitor.get(url)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "no-cache" in response["Cache-Control"]
    text = response.content.decode()
    assert "<title>Back in a moment · Stalker Guide</title>" in text
    assert 'href="/static/css/site.css"' in text  # the site's own look
    assert 'class="site-header"' in text
    assert "It usually comes back within a minute or two, by itself." in text
    assert_no_internals(response)


def test_a_failure_in_a_middleware_gets_the_503_too(visitor):
    # Saving a session happens in a middleware, after the view.
    with mock.patch(
        "django.contrib.sessions.middleware.SessionMiddleware.process_response",
        side_effect=REFUSED,
    ):
        response = visitor.get("/")
    assert response.status_code == 503
    assert "Back in a moment" in response.content.decode()


@pytest.fixture
def editor(visitor, staff_user):
    visitor.force_login(staff_user)
    return visitor


@pytest.mark.parametrize(
    "url", ["/admin/", "/admin/films/film/", "/admin/films/film/add/"]
)
def test_the_admin_says_editing_is_unavailable(editor, url):
    with mock.patch.object(connection, "ensure_connection", side_effect=REFUSED):
        response = editor.get(url)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    text = response.content.decode()
    assert "<h1>Editing is unavailable for now</h1>" in text
    assert "Nothing you sent in this request was saved." in text
    assert "admin/css/base.css" in text
    assert_no_internals(response)


def test_a_save_in_the_admin_gets_the_503(editor):
    with mock.patch.object(connection, "ensure_connection", side_effect=REFUSED):
        response = editor.post("/admin/films/film/add/", {"title": "New"})
    assert response.status_code == 503
    assert "Editing is unavailable for now" in response.content.decode()


def test_other_errors_are_still_a_500(visitor):
    with mock.patch(
        "films.views.FilmFilter", side_effect=ValueError("a bug in the catalogue")
    ):
        response = visitor.get("/films/")
    assert response.status_code == 500
    assert "Retry-After" not in response
    assert "a bug" not in response.content.decode()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def refusing_database(alias):
    """A connection, configured as settings make it, to a port nothing
    listens on."""
    url = f"postgres://postgres@127.0.0.1:{free_port()}/stalker_guide"
    return DatabaseWrapper(
        {**connection.settings_dict, **parse_database_url(url), "TIME_ZONE": None},
        alias=alias,
    )


def connecting_takes(wrapper):
    started = time.monotonic()
    with pytest.raises(OperationalError):
        wrapper.ensure_connection()
    return time.monotonic() - started


def test_a_database_that_refuses_connections_costs_a_request_under_3_seconds(
    settings,
):
    # The pool's own timeouts, as settings make them: the wait ends in an
    # error Django reports as OperationalError (a 503).
    settings.DATABASE_RETRY_SECONDS = 0.01
    wrapper = refusing_database("refusing")
    try:
        assert connecting_takes(wrapper) < 3
        time.sleep(0.02)
        assert connecting_takes(wrapper) < 3  # and again, after the pool failed
    finally:
        wrapper.close_pool()
        DatabaseWrapper._retry_at.pop("refusing", None)


def test_after_a_failure_requests_fail_at_once_until_the_retry_time(settings):
    settings.DATABASE_RETRY_SECONDS = 1.0
    wrapper = refusing_database("refusing-fast")
    try:
        connecting_takes(wrapper)  # waits for the pool, and fails
        retry_at = DatabaseWrapper._retry_at["refusing-fast"]
        for _ in range(5):
            assert connecting_takes(wrapper) < 0.05  # no waiting
        # Failing at once does not put the next try off.
        assert DatabaseWrapper._retry_at["refusing-fast"] == retry_at
        time.sleep(1.0)
        # It tries again, with one connection of its own: refused at once,
        # without waiting for the pool.
        assert connecting_takes(wrapper) < 0.5
        assert time.monotonic() < DatabaseWrapper._retry_at["refusing-fast"]
    finally:
        wrapper.close_pool()
        DatabaseWrapper._retry_at.pop("refusing-fast", None)
