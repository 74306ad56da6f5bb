import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache.

    Page caches are keyed by guide versions, and a test database that is
    rolled back gives the next test the same versions again: a page cached by
    one test must not be served to the next.
    """
    from films import pages
    from films.head_mirror import head_mirror

    def empty():
        cache.clear()
        head_mirror.clear()
        pages.pages_cache.clear()
        pages._points_memo.clear()
        pages._last_heads.clear()

    empty()
    yield
    empty()


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="editor", password="a-long-editor-password", is_staff=True
    )


def pytest_configure(config):
    """A read replica that mirrors the primary (Django's TEST MIRROR), for the
    tests of the router (tests/test_replica.py), which turn it on with
    ``settings.READ_REPLICA``; no other test reads from it."""
    from django.conf import settings

    if "replica" not in settings.DATABASES:
        settings.DATABASES["replica"] = {
            **settings.DATABASES["default"],
            "TEST": {"MIRROR": "default"},
        }
