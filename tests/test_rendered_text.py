"""Editor text is rendered when it is written, and pages never render Markdown."""

import json
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError

from films.markup import html_field_name, render_markdown
from films.models import Film, GuideModel, Scene
from tests.factories import build_guide, make_film, make_scene

pytestmark = pytest.mark.django_db

TEXT_MODELS = [
    model
    for model in apps.get_app_config("films").get_models()
    if issubclass(model, GuideModel) and model.markdown_fields
]


def drift():
    """(model, pk, field) for every stored HTML that is not a fresh render."""
    return [
        (model.__name__, row.pk, name)
        for model in TEXT_MODELS
        for row in model.objects.all()
        for name in model.markdown_fields
        if getattr(row, html_field_name(name)) != render_markdown(getattr(row, name))
    ]


def test_every_markdown_field_has_its_stored_html():
    for model in TEXT_MODELS:
        for name in model.markdown_fields:
            field = model._meta.get_field(html_field_name(name))
            assert not field.editable and not field.serialize


def test_saving_renders_and_sanitises():
    film = make_film(premise="A *quiet* film.<script>alert(1)</script>")
    film.refresh_from_db()
    assert film.premise_html == "<p>A <em>quiet</em> film.</p>"
    scene = make_scene(film, 1, summary="[a link](javascript:alert(1)) **bold**")
    scene.refresh_from_db()
    assert "javascript" not in scene.summary_html
    assert "<strong>bold</strong>" in scene.summary_html


def test_loaddata_renders_what_it_loads(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(
        json.dumps(
            [
                {
                    "model": "films.film",
                    "fields": {
                        "title": "Loaded",
                        "slug": "loaded-2001",
                        "year": 2001,
                        "runtime": 90,
                        "premise": "Loaded *by* loaddata.",
                        "status": "published",
                        "created_at": "2026-01-01T00:00:00Z",
                        "updated_at": "2026-01-01T00:00:00Z",
                    },
                }
            ]
        )
    )
    call_command("loaddata", str(path), verbosity=0)
    assert Film.objects.get().premise_html == "<p>Loaded <em>by</em> loaddata.</p>"


def test_a_guide_file_cannot_set_stored_html(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            [
                {
                    "model": "films.film",
                    "fields": {
                        "title": "Sneaky",
                        "slug": "sneaky-2001",
                        "year": 2001,
                        "runtime": 90,
                        "premise": "Plain.",
                        "premise_html": "<script>alert(1)</script>",
                        "status": "published",
                    },
                }
            ]
        )
    )
    with pytest.raises(CommandError, match=r"premise_html.*unknown field"):
        call_command("load_guides", str(path), verbosity=0)
    assert not Film.objects.exists()


def test_exports_hold_the_markdown_only():
    build_guide(3)
    out = StringIO()
    call_command("export_guides", stdout=out)
    assert "_html" not in out.getvalue()
    assert '"version"' not in out.getvalue()


def test_render_text_renders_again_what_drifted_and_bumps_versions():
    film = build_guide(3)
    Scene.objects.filter(film=film).update(summary_html="<p>stale</p>")
    Film.objects.filter(pk=film.pk).update(premise_html="<p>stale</p>")
    version = Film.objects.get().version
    out = StringIO()
    call_command("render_text", "--dry-run", stdout=out)
    assert "4 rows would be rendered again" in out.getvalue()
    assert len(drift()) == 4
    assert Film.objects.get().version == version
    call_command("render_text", stdout=out)
    assert drift() == []
    assert Film.objects.get().version > version
    out = StringIO()
    call_command("render_text", stdout=out)
    assert "0 rows rendered again" in out.getvalue()


def test_pages_show_the_stored_html_not_a_new_render(client):
    film = build_guide(3)
    # Stored HTML is what pages show: the renderer is not run per request.
    Film.objects.filter(pk=film.pk).update(premise_html="<p>FROM-THE-STORE</p>")
    from films.derived import bump_films

    bump_films([film.pk])
    assert "FROM-THE-STORE" in client.get(f"/films/{film.slug}/").text
