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
