"""An editor, in a real browser, corrects a scene and sees it on the site."""

import pytest
from django.urls import reverse

from films.models import Scene
from tests.admin_helpers import EDITOR_PASSWORD, make_editor
from tests.factories import make_film, make_scene

# serialized_rollback: the Editors group comes from a migration, and a
# transactional test before this one may have flushed it away.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_an_editor_changes_a_scene_summary_and_sees_it_on_the_timeline(
    page, django_user_model
):
    make_editor(django_user_model, username="ana")
    film = make_film(slug="stalker-1979", title="Stalker", year=1979, runtime=162)
    for position in (1, 2):
        make_scene(film, position)
    scene = Scene.objects.get(film=film, screen_position=2)

    page.goto("/admin/")
    page.get_by_label("Username").fill("ana")
    page.get_by_label("Password").fill(EDITOR_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Films").first.click()
    page.get_by_role("link", name="Stalker", exact=True).click()

    summary = page.locator("#id_scenes-1-summary")
    assert summary.input_value() == "What happens in scene 2."
    summary.fill("The Stalker *wakes* beside his wife and daughter.")
    page.get_by_role("button", name="Save", exact=True).first.click()
    page.get_by_text("was changed successfully").wait_for()
    scene.refresh_from_db()
    assert scene.summary == "The Stalker *wakes* beside his wife and daughter."

    page.goto(reverse("films:timeline", args=[film.slug]) + "?seen=all")
    entry = page.locator(f"#{scene.slug}")
    assert "The Stalker wakes beside his wife and daughter." in entry.inner_text()
    assert entry.locator("em").inner_text() == "wakes"


def test_an_editor_finds_a_scene_of_a_long_guide_and_reveals_a_character_in_it(
    page, django_user_model
):
    from django.core.management import call_command

    from films.models import Character, Film

    # A superuser: a flush by an earlier transactional test may have taken the
    # Editors group (made by a migration) away.
    django_user_model.objects.create_superuser(
        "ana", "ana@example.org", EDITOR_PASSWORD
    )
    call_command("loaddata", "stalker-1979", verbosity=0)
    film = Film.objects.get(slug="stalker-1979")
    scene = film.scenes.get(screen_position=5)

    page.goto("/admin/")
    page.get_by_label("Username").fill("ana")
    page.get_by_label("Password").fill(EDITOR_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"/admin/films/film/{film.pk}/change/")

    # The page is a few screens of parts, not every scene's form.
    height = page.evaluate("document.documentElement.scrollHeight")
    print(f"Stalker change page: {height} px tall")
    assert height < 15_000
    page.get_by_role("link", name="Scenes (29)").click()
    page.locator("#scene-list").get_by_role("link", name=scene.title).click()
    assert page.locator("#id_title").input_value() == scene.title

    page.goto(f"/admin/films/film/{film.pk}/change/")
    field = page.locator("#id_characters-0-reveals_in_scene")
    field.fill("5")
    page.get_by_role("button", name="Save", exact=True).first.click()
    page.get_by_text("was changed successfully").wait_for()
    first = Character.objects.filter(film=film).order_by("position", "name").first()
    assert first.reveals_at == scene.starts_at
