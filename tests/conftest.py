from pathlib import Path

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
    from films import filters, pages, views
    from films.head_mirror import head_mirror

    def empty():
        cache.clear()
        head_mirror.clear()
        pages.pages_cache.clear()
        pages._points_memo.clear()
        pages._descriptions.clear()
        filters._choices_memo.clear()
        pages._last_heads.clear()
        pages._head_films.clear()
        views._json_ld.clear()

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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """The tests that ask for the shipped guides run one after another, so that
    they are loaded once (tests/shipped.py).

    After pytest-django has put the tests in Django's order (database tests,
    then transactional ones, then the rest), they move up to the first of
    them: they are all of the first kind.
    """
    asking = [item for item in items if shipped.wants_shipped_guides(item)]
    if asking:
        first = items.index(asking[0])
        others = [item for item in items if not shipped.wants_shipped_guides(item)]
        items[:] = others[:first] + asking + others[first:]


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook, unknown without it
def pytest_xdist_make_scheduler(config, log):
    """Under pytest-xdist with ``--dist loadfile`` (``make test``): each file's
    tests on one worker (one Chromium per browser module, the Redis database
    of tests/test_head_mirror.py used by one worker at a time, the outage
    tests' servers started once), and the files that use the shipped guides
    all on the same worker, so that they are loaded there once."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    asking = {
        path.relative_to(config.rootpath).as_posix()
        for path in Path(__file__).parent.rglob("test_*.py")
        if f'"{shipped.FIXTURE_NAME}"' in path.read_text(encoding="utf-8")
    }

    class ShippedGuidesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid):
            path = super()._split_scope(nodeid)
            return shipped.FIXTURE_NAME if path in asking else path

    return ShippedGuidesTogether(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """The shipped guides are in the database for the tests that ask for them,
    and only for those (tests/shipped.py)."""
    shipped.sync(item)
