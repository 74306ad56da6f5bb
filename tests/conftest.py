import pytest
from django.core.cache import cache

from tests import shipped
from tests.shipped import shipped_guides_database  # noqa: F401


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
    """A cheap password hasher: the production one is slow by design, and
    many tests make users and sign them in (its own tests are in
    tests/test_settings.py, which reads settings.py, not these).

    A read replica that mirrors the primary (Django's TEST MIRROR), for the
    tests of the router (tests/test_replica.py), which turn it on with
    ``settings.READ_REPLICA``; no other test reads from it."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if "replica" not in settings.DATABASES:
        settings.DATABASES["replica"] = {
            **settings.DATABASES["default"],
            "TEST": {"MIRROR": "default"},
        }


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    """The tests that ask for the shipped guides run one after another, so that
    they are loaded once (tests/shipped.py).

    Under pytest-xdist with ``--dist loadgroup`` (``make test``) they form one
    group, sent to one worker; every other test goes with its file, as with
    ``--dist loadfile`` (one Chromium per browser module, the Redis database of
    tests/test_head_mirror.py used by one worker at a time, each outage test
    module's servers started once).
    """
    if config.pluginmanager.hasplugin("xdist") and (
        config.getoption("dist", "no") == "loadgroup"
    ):
        for item in items:
            group = (
                shipped.FIXTURE_NAME
                if shipped.wants_shipped_guides(item)
                else item.nodeid.split("::", 1)[0]
            )
            item.add_marker(pytest.mark.xdist_group(group))
    result = yield
    # After pytest-django put the tests in Django's order (database tests,
    # then transactional ones, then the rest): the shipped guides' tests, all
    # of the first kind, move up to the first of them.
    asking = [item for item in items if shipped.wants_shipped_guides(item)]
    if asking:
        first = items.index(asking[0])
        others = [item for item in items if not shipped.wants_shipped_guides(item)]
        items[:] = others[:first] + asking + others[first:]
    return result


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """The shipped guides are in the database for the tests that ask for them,
    and only for those (tests/shipped.py)."""
    shipped.sync(item)
