"""The shipped guides in ``fixtures/``, loaded once per test module that asks."""

import json
from pathlib import Path

import pytest
from django.core.management import call_command

FIXTURES = sorted((Path(__file__).resolve().parent.parent / "fixtures").glob("*.json"))


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


@pytest.fixture(scope="module")
def shipped_guides(django_db_setup, django_db_blocker):
    """Every shipped fixture, loaded for the module and removed after it."""
    with django_db_blocker.unblock():
        call_command("loaddata", *FIXTURES, verbosity=0)
        try:
            yield
        finally:
            delete_everything()
