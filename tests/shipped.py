"""The shipped guides in ``fixtures/``, for the tests that ask for them.

Loading every shipped guide takes many seconds (each object is validated,
rendered and indexed as it is saved), and so does removing them. So they are
loaded at most once per run of tests that ask for them in a row, not once per
module: the data is committed outside any test's transaction, each test's
changes are rolled back as usual, and it is removed before the first test that
did not ask for it (which gets the empty database it always had). The suite is
ordered so that the tests asking for it run together (tests/conftest.py), and
under pytest-xdist they go to one worker.
"""

import json
from pathlib import Path

import pytest
from django.core.management import call_command

FIXTURES = sorted((Path(__file__).resolve().parent.parent / "fixtures").glob("*.json"))

FIXTURE_NAME = "shipped_guides"


def read_fixture(path):
    return json.loads(path.read_text(encoding="utf-8"))


def film_slug(path):
    return next(
        o["fields"]["slug"] for o in read_fixture(path) if o["model"] == "films.film"
    )


def delete_everything():
    from django.apps import apps

    # Children first; PROTECT keeps people and themes until their rows go.
    for name in ["Film", "Person", "Theme", "Genre", "Country", "Language"]:
        apps.get_model("films", name).objects.all().delete()


class _Loaded:
    """Whether the shipped guides are in the test database (one per process)."""

    blocker = None  # pytest-django's django_db_blocker, once the database is set up
    loaded = False

    def want(self, loaded):
        if self.blocker is None or loaded == self.loaded:
            return
        with self.blocker.unblock():
            if loaded:
                call_command("loaddata", *FIXTURES, verbosity=0)
            else:
                delete_everything()
        self.loaded = loaded


state = _Loaded()


def wants_shipped_guides(item):
    return FIXTURE_NAME in getattr(item, "fixturenames", ())


@pytest.fixture(scope="session")
def shipped_guides_database(request, django_db_setup, django_db_blocker):
    """The test database the shipped guides go into; left without them if kept
    for the next run (``--reuse-db``), so that run starts as empty as this one."""
    state.blocker = django_db_blocker
    yield
    if request.config.getvalue("reuse_db"):
        state.want(False)


@pytest.fixture(scope="module")
def shipped_guides(shipped_guides_database):
    """Every shipped fixture, in the database for each test that asks for it.

    Module scope, so that it is set up before the test's transaction starts.
    Whether the data is there is settled per test, before its fixtures, by
    ``sync`` (called from tests/conftest.py's ``pytest_runtest_setup``).
    """
    state.want(True)


def sync(item):
    """Before a test's fixtures: the shipped guides there if and only if it asks."""
    state.want(wants_shipped_guides(item))
