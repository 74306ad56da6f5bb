"""Check this guide: the checks saving runs, and what a complete guide needs, over
a guide as stored — each thing to fix names the row and the field, with a link
to where it is edited; a clean guide gets an all-clear."""

import pytest
from django.test import Client

from films.models import CharacterBeat, PlotSection
from tests.admin_helpers import change_url, make_editor
from tests.factories import build_guide, make_character, make_film, make_scene, minutes

pytestmark = pytest.mark.django_db

FILMS_URL = "/admin/films/film/"


@pytest.fixture
def editor(django_user_model):
    return make_editor(django_user_model)


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


def check_url(film):
    return f"/admin/films/film/{film.pk}/check/"


def clean_guide(slug="guide-2000"):
    film = build_guide(slug=slug, timing_release="the 24 fps restoration, 25 min")
    return film


def broken_guide():
    """A guide whose rows reached the database without the admin's checks."""
    film = make_film(slug="broken-2000", title="Broken", runtime=30)
    for position in (1, 2, 3):
        make_scene(film, position, title=f"Scene title {position}")
    # Scene 3 overlaps scene 2 and then stops well before the end (0:30).
    film.scenes.filter(screen_position=3).update(
        starts_at=minutes(8), ends_at=minutes(14)
    )
    PlotSection.objects.create(film=film, position=1, heading="Late", body="…")
    PlotSection.objects.filter(film=film).update(reveals_at=minutes(45))
    hero = make_character(film, "hero", name="Hero", reveals_at=minutes(5))
    film.scenes.get(screen_position=1).characters.add(hero)
    CharacterBeat.objects.create(character=hero, position=1, text="Early.")
    return film


def test_the_film_page_links_to_the_check(editor_client):
    film = clean_guide()
    response = editor_client.get(change_url(film))
    assert f'<a href="{check_url(film)}">Check this guide</a>' in response.text


def test_a_clean_guide_gets_an_all_clear(editor_client):
    film = clean_guide()
    response = editor_client.get(check_url(film))
    assert response.status_code == 200
    assert "All clear: Test Film (2000) passes every check" in response.text
    assert "to fix" not in response.text


def test_each_thing_to_fix_names_the_row_and_the_field(editor_client):
    film = broken_guide()
    response = editor_client.get(check_url(film))
    text = response.text
    assert "7 things to fix in Broken (2000):" in text
    scene_3 = film.scenes.get(screen_position=3)
    hero = film.characters.get()
    expected = [
        f'<a href="/admin/films/scene/{scene_3.pk}/change/">Scene “3. Scene title 3”'
        "</a>, starts at: Starts at 0:08, while “Scene title 2” is still running "
        "(until 0:10).",
        f'<a href="/admin/films/film/{film.pk}/change/">Plot section “Broken (2000): '
        "Late”</a>, reveals at: 0:45 is outside the film, which runs 0:00 to 0:30.",
        f'<a href="/admin/films/film/{film.pk}/change/">Film “Broken (2000)”</a>: '
        "No scene covers 0:14–0:30.",
        f'<a href="/admin/films/scene/{scene_3.pk}/change/">Scene “3. Scene title 3”'
        "</a>, ends at: The last scene ends at 0:14, but the film runs to 0:30",
        f'<a href="/admin/films/film/{film.pk}/change/">Film “Broken (2000)”</a>, '
        "times follow: Name the release the scene times are taken from.",
        f'<a href="/admin/films/character/{hero.pk}/change/">Character “Hero”</a>, '
        "reveals at: Revealed at 0:05, but on screen from scene 1 (“Scene title 1”, "
        "0:00).",
        f'<a href="/admin/films/character/{hero.pk}/change/">Character beat “Hero — '
        "beat 1”</a>, reveals at: Shown before watching, before its character is "
        "revealed (0:05).",
    ]
    for item in expected:
        assert item in text, item
    assert "All clear" not in text


def test_checking_changes_nothing(editor_client):
    film = broken_guide()
    version = film.__class__.objects.get(pk=film.pk).version
    editor_client.get(check_url(film))
    assert film.__class__.objects.get(pk=film.pk).version == version


def test_the_list_action_checks_every_selected_guide(editor_client):
    good, bad = clean_guide(), broken_guide()
    response = editor_client.post(
        FILMS_URL,
        {"action": "check_guides", "_selected_action": [good.pk, bad.pk]},
    )
    assert response.status_code == 200
    assert "Check of 2 guides" in response.text
    assert "All clear: Test Film (2000) passes every check" in response.text
    assert "7 things to fix in Broken (2000):" in response.text


def test_the_action_is_offered_on_the_list(editor_client):
    clean_guide()
    response = editor_client.get(FILMS_URL)
    assert '<option value="check_guides">Check the selected guides</option>' in (
        response.text
    )


def test_editor_text_in_the_report_is_escaped(editor_client):
    film = broken_guide()
    film.scenes.filter(screen_position=2).update(title="<script>alert(1)</script>")
    text = editor_client.get(check_url(film)).text
    assert "<script>alert(1)</script>" not in text
    assert "“&lt;script&gt;alert(1)&lt;/script&gt;” is still running" in text


def test_only_staff_with_film_permissions_may_check(client, django_user_model):
    film = clean_guide()
    response = client.get(check_url(film))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    staff = django_user_model.objects.create_user(
        username="staff", password="x-long-password-1", is_staff=True
    )
    client.force_login(staff)
    assert client.get(check_url(film)).status_code == 403


def test_the_action_needs_a_csrf_token(editor):
    film = clean_guide()
    client = Client(enforce_csrf_checks=True)
    client.force_login(editor)
    response = client.post(
        FILMS_URL, {"action": "check_guides", "_selected_action": [film.pk]}
    )
    assert response.status_code == 403


def test_an_unknown_film_is_a_404(editor_client):
    assert editor_client.get("/admin/films/film/999999/check/").status_code == 404
