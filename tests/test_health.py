"""/healthz/ (liveness) and /readyz/ (readiness), as a load balancer asks them."""

from unittest import mock

import pytest
from django.core.cache import cache
from django.db import OperationalError, connection


def test_liveness_answers_without_touching_the_database(client):
    # No django_db mark: pytest-django refuses any database access here.
    with mock.patch.object(cache, "get", side_effect=AssertionError("touched")):
        response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_probes_answer_a_load_balancer_over_plain_http_by_address(client, settings):
    # A probe comes over HTTP with the server's address as its Host: neither
    # the HTTPS redirect nor ALLOWED_HOSTS may refuse it.
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["guide.example.org"]
    assert client.get("/healthz/", HTTP_HOST="10.0.0.7:8000").status_code == 200
    assert client.get("/readyz/", HTTP_HOST="10.0.0.7:8000").status_code == 200


@pytest.mark.django_db
def test_readiness_reports_database_and_cache(client):
    response = client.get("/readyz/")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok"},
    }
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readiness_names_the_database_when_it_is_down(client):
    refused = OperationalError("connection to server at 10.1.2.3 port 5432 refused")
    with mock.patch.object(connection, "ensure_connection", side_effect=refused):
        response = client.get("/readyz/")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "unavailable", "cache": "ok"},
    }
    # Nothing about the server or the error.
    assert b"10.1.2.3" not in response.content
    assert b"refused" not in response.content


@pytest.mark.django_db
def test_readiness_names_the_cache_when_it_is_down(client):
    with mock.patch.object(cache, "get", side_effect=ConnectionError("no redis")):
        response = client.get("/readyz/")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "unavailable"}
    assert b"redis" not in response.content
