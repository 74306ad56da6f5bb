"""Repeated failed admin sign-ins are throttled per user name and address."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import F

from tests.admin_helpers import EDITOR_PASSWORD, make_editor

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
LIMIT = settings.AXES_FAILURE_LIMIT


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    # Each attempt hashes a password; the production hasher is slow by design.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def editor(django_user_model):
    return make_editor(django_user_model)


def sign_in(client, password, username="editor", address="127.0.0.1"):
    return client.post(
        LOGIN,
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


def signed_in(client):
    return client.get("/admin/").status_code == 200


def fail(client, times, **kwargs):
    for _ in range(times):
        response = sign_in(client, "wrong-password", **kwargs)
    return response


def test_the_right_password_signs_in(client, editor):
    assert sign_in(client, EDITOR_PASSWORD).status_code == 302
    assert signed_in(client)


def test_the_attempt_after_the_limit_is_refused_even_with_the_right_password(
    client, editor
):
    response = fail(client, LIMIT - 1)
    assert response.status_code == 200  # the usual "enter a correct username…"
    assert "Please enter the correct username and password" in response.text
    response = fail(client, 1)
    assert response.status_code == 429

    response = sign_in(client, EDITOR_PASSWORD)
    assert response.status_code == 429
    assert "Too many failed sign-ins for “editor” from your address." in response.text
    assert f"locked for {settings.AXES_COOLOFF_TIME.seconds // 60} minutes" in (
        response.text
    )
    assert not signed_in(client)


def test_the_lockout_ends_after_the_cool_off(client, editor):
    fail(client, LIMIT)
    assert sign_in(client, EDITOR_PASSWORD).status_code == 429
    # Time passes: the attempts are older than the cool-off.
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME
    )
    assert sign_in(client, EDITOR_PASSWORD).status_code == 302
    assert signed_in(client)


def test_the_lockout_is_per_user_name_and_address(client, editor, django_user_model):
    make_editor(django_user_model, username="colleague")
    fail(client, LIMIT)
    assert sign_in(client, EDITOR_PASSWORD).status_code == 429
    # The same user name from another address, another user from this one.
    assert sign_in(client, EDITOR_PASSWORD, address="127.0.0.2").status_code == 302
    client.logout()
    assert sign_in(client, EDITOR_PASSWORD, username="colleague").status_code == 302


def test_a_successful_sign_in_clears_the_failures(client, editor):
    fail(client, LIMIT - 1)
    assert sign_in(client, EDITOR_PASSWORD).status_code == 302
    client.logout()
    fail(client, LIMIT - 1)
    assert sign_in(client, EDITOR_PASSWORD).status_code == 302
