"""Repeated failed admin sign-ins are throttled per user name and address."""

import ipaddress

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import F

from stalker_guide.proxies import client_address
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


def sign_in(client, password, username="editor", address="127.0.0.1", **headers):
    return client.post(
        LOGIN,
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
        **headers,
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


# --- Behind a reverse proxy -----------------------------------------------------

PROXY = "10.0.0.5"


def via_proxy(client, password, client_address, *, forwarded=""):
    """A sign-in through our proxy, which appends the address it saw."""
    chain = f"{forwarded}, {client_address}" if forwarded else client_address
    return sign_in(client, password, address=PROXY, HTTP_X_FORWARDED_FOR=chain)


def test_behind_a_trusted_proxy_only_the_guessing_client_is_locked_out(
    client, editor, settings
):
    settings.TRUSTED_PROXIES = (ipaddress.ip_network("10.0.0.0/24"),)
    for _ in range(LIMIT):
        response = via_proxy(client, "wrong-password", "203.0.113.9")
    assert response.status_code == 429
    assert AccessAttempt.objects.get().ip_address == "203.0.113.9"

    # Another visitor, through the same proxy, signs in.
    assert via_proxy(client, EDITOR_PASSWORD, "198.51.100.7").status_code == 302


def test_a_forged_forwarded_for_does_not_shift_the_blame(client, editor, settings):
    # The client sends its own X-Forwarded-For naming someone else; our proxy
    # appends the client's real address, which is the one counted.
    settings.TRUSTED_PROXIES = (ipaddress.ip_network("10.0.0.0/24"),)
    for _ in range(LIMIT):
        via_proxy(client, "wrong-password", "203.0.113.9", forwarded="198.51.100.7")
    assert AccessAttempt.objects.get().ip_address == "203.0.113.9"
    assert via_proxy(client, EDITOR_PASSWORD, "198.51.100.7").status_code == 302


def test_without_trusted_proxies_the_header_is_never_read(client, editor, settings):
    settings.TRUSTED_PROXIES = ()
    for n in range(LIMIT):
        # A new forged address each time cannot escape the count.
        response = sign_in(
            client,
            "wrong-password",
            address="203.0.113.9",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )
    assert response.status_code == 429
    assert AccessAttempt.objects.get().ip_address == "203.0.113.9"


@pytest.mark.parametrize(
    ("remote", "forwarded", "client"),
    [
        # Not from a trusted proxy: the header is ignored.
        ("203.0.113.9", "198.51.100.7", "203.0.113.9"),
        # From our proxy: the entry it appended.
        ("10.0.0.5", "198.51.100.7", "198.51.100.7"),
        # Two of our proxies in a row: the first address neither of them is.
        ("10.0.0.5", "198.51.100.7, 10.0.0.6", "198.51.100.7"),
        # Forged entries to the left of the one our proxy added are not read.
        ("10.0.0.5", "1.1.1.1, 198.51.100.7", "198.51.100.7"),
        # Only proxies in the chain: the farthest one.
        ("10.0.0.5", "10.0.0.6", "10.0.0.6"),
        # No header, or garbage where our proxy's entry should be: the proxy.
        ("10.0.0.5", "", "10.0.0.5"),
        ("10.0.0.5", "198.51.100.7, not-an-address", "10.0.0.5"),
        # IPv6, and a trusted IPv6 network.
        ("fd00::1", "2001:db8::7", "2001:db8::7"),
    ],
)
def test_client_address_reads_only_what_trusted_proxies_wrote(
    rf, settings, remote, forwarded, client
):
    settings.TRUSTED_PROXIES = (
        ipaddress.ip_network("10.0.0.0/24"),
        ipaddress.ip_network("fd00::/8"),
    )
    request = rf.get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == client
