"""The film page refuses an inconsistent guide: the message is on the row and field
at fault, and nothing is saved. Renumbering scenes (swaps included) just works.
"""

from datetime import timedelta

import pytest

from films.models import CharacterBeat, Film, FilmTheme, PlotSection, Scene
from tests.admin_helpers import (
    add_row,
    change_url,
    form_data,
    guide_state,
    inline_formset,
    make_editor,
    row_errors,
    row_index,
)
from tests.factories import make_character, make_film, make_scene, make_theme, minutes

pytestmark = pytest.mark.django_db

TIMELINE_MESSAGE = "The timeline does not hold together; nothing was saved."


@pytest.fixture
def editor_client(client, django_user_model):
    client.force_login(make_editor(django_user_model))
    return client


@pytest.fixture
def film():
    """100 minutes; scenes 1–3 run back to back, 0:00–0:05–0:10–0:15."""
    film = make_film(runtime=100)
    for position in (1, 2, 3):
        make_scene(film, position)
    return film


def post_changed(client, film, **changes):
    """Post the film's page with ``changes`` to scene rows, keyed ``prefix-i-field``."""
    data = form_data(client.get(change_url(film)))
    for key, value in changes.items():
        data[key.replace("__", "-")] = value
    return client.post(change_url(film), data)


def assert_refused(response, film, before, prefix, index, field, words):
    assert response.status_code == 200
    errors = row_errors(response, prefix, index)
    assert field in errors, errors
    assert any(words in message for message in errors[field]), errors[field]
    assert guide_state(film) == before  # nothing saved
    return errors


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        pytest.param(
            {"scenes__2__screen_position": "2"},
            "screen_position",
            "Screen position 2 is also used by “Scene 2”.",
            id="screen positions unique",
        ),
        pytest.param(
            {
                "scenes__1__starts_at": "0:10",
                "scenes__1__ends_at": "0:15",
                "scenes__2__starts_at": "0:05",
                "scenes__2__ends_at": "0:10",
            },
            "starts_at",
            "Starts at 0:05, before the scene placed ahead of it on screen "
            "(“Scene 2”, 0:10).",
            id="start times rise in screen order",
        ),
        pytest.param(
            {"scenes__1__ends_at": "0:12"},
            "starts_at",
            "Starts at 0:10, while “Scene 2” is still running (until 0:12).",
            id="no overlaps",
        ),
        pytest.param(
            {"scenes__2__ends_at": "2:00"},
            "ends_at",
            "Ends at 2:00, after the film's end (1:40).",
            id="within the runtime",
        ),
        pytest.param(
            {"scenes__2__story_position": "1"},
            "story_position",
            "Story position 1 is also used by “Scene 1”.",
            id="story positions unique",
        ),
    ],
)
def test_each_timeline_rule_marks_the_scene_at_fault(
    editor_client, film, changes, field, words
):
    before = guide_state(film)
    response = post_changed(editor_client, film, **changes)
    errors = assert_refused(response, film, before, "scenes", 2, field, words)
    assert errors[field].count(words) == 1  # said once, not by each check
    assert row_errors(response, "scenes", 0) == {}
    assert words.replace("'", "&#x27;") in response.text
    assert "Please correct the error" in response.text


def test_a_timeline_problem_is_summed_up_above_the_scenes(editor_client, film):
    response = post_changed(editor_client, film, scenes__1__ends_at="0:12")
    formset_errors = inline_formset(response, "scenes").non_form_errors()
    assert list(formset_errors) == [f"{TIMELINE_MESSAGE} See the scenes marked below."]
    assert TIMELINE_MESSAGE in response.text


def test_a_shorter_runtime_marks_the_scenes_that_overrun(editor_client, film):
    before = guide_state(film)
    response = post_changed(editor_client, film, runtime="12")
    assert_refused(
        response, film, before, "scenes", 2, "ends_at", "after the film's end (0:12)"
    )
    assert row_errors(response, "scenes", 1) == {}


def test_a_scene_must_end_after_it_starts(editor_client, film):
    before = guide_state(film)
    response = post_changed(editor_client, film, scenes__1__ends_at="0:05")
    assert_refused(
        response, film, before, "scenes", 1, "ends_at", "must end after it starts"
    )


def test_positions_are_counted_from_one(editor_client, film):
    before = guide_state(film)
    response = post_changed(editor_client, film, scenes__0__screen_position="0")
    assert_refused(
        response,
        film,
        before,
        "scenes",
        0,
        "screen_position",
        "greater than or equal to 1",
    )


@pytest.mark.parametrize(
    ("prefix", "make_row"),
    [
        ("characters", lambda film: make_character(film, "hero")),
        (
            "film_themes",
            lambda film: FilmTheme.objects.create(
                film=film, theme=make_theme(), analysis="Why."
            ),
        ),
        (
            "plot_sections",
            lambda film: PlotSection.objects.create(
                film=film, position=1, heading="Start", body="Text."
            ),
        ),
    ],
)
def test_reveal_points_must_be_inside_the_film(editor_client, film, prefix, make_row):
    make_row(film)
    before = guide_state(film)
    response = post_changed(editor_client, film, **{f"{prefix}__0__reveals_at": "1:41"})
    assert_refused(
        response,
        film,
        before,
        prefix,
        0,
        "reveals_at",
        "1:41 is outside the film, which runs 0:00 to 1:40.",
    )


def test_a_new_films_reveal_points_are_checked_too(editor_client):
    data = form_data(editor_client.get("/admin/films/film/add/"))
    data.update(title="New", year="2001", slug="new-2001", runtime="90", premise="p")
    add_row(
        data,
        "characters",
        name="Late",
        slug="late",
        description="d",
        position="0",
        reveals_at="1:31",
    )
    add_row(
        data,
        "scenes",
        screen_position="1",
        story_position="1",
        starts_at="1:20",
        ends_at="1:35",
        title="Too late",
        slug="too-late",
        summary="s",
    )
    response = editor_client.post("/admin/films/film/add/", data)
    assert response.status_code == 200
    assert (
        "1:31 is outside the film"
        in row_errors(response, "characters", 0)["reveals_at"][0]
    )
    assert row_errors(response, "scenes", 0)["ends_at"] == [
        "Ends at 1:35, after the film's end (1:30)."
    ]
    assert not Film.objects.filter(slug="new-2001").exists()


def test_every_problem_is_shown_at_once(editor_client, film):
    make_character(film, "hero")
    response = post_changed(
        editor_client,
        film,
        scenes__2__story_position="1",
        scenes__1__ends_at="0:12",
        characters__0__reveals_at="3:00",
    )
    assert "story_position" in row_errors(response, "scenes", 2)
    assert "starts_at" in row_errors(response, "scenes", 2)
    assert "reveals_at" in row_errors(response, "characters", 0)


def test_a_shorter_film_cannot_strand_a_character_beat(editor_client, film):
    hero = make_character(film, "hero")
    CharacterBeat.objects.create(
        character=hero, position=1, text="t", reveals_at=minutes(14)
    )
    before = guide_state(film)
    response = post_changed(editor_client, film, runtime="13")
    errors = response.context["adminform"].form.errors
    assert "Hero (beat 1, 0:14)" in errors["runtime"][0]
    assert guide_state(film) == before


# --- Renumbering is easy ----------------------------------------------------------


def test_two_scenes_swap_places_in_one_save(editor_client, film):
    """The editor typed two scenes in the wrong order: swap them, times and all."""
    response = post_changed(
        editor_client,
        film,
        scenes__1__screen_position="3",
        scenes__1__story_position="3",
        scenes__1__starts_at="0:10",
        scenes__1__ends_at="0:15",
        scenes__2__screen_position="2",
        scenes__2__story_position="2",
        scenes__2__starts_at="0:05",
        scenes__2__ends_at="0:10",
    )
    assert response.status_code == 302
    order = list(film.scenes.in_screen_order().values_list("title", "starts_at"))
    assert order == [
        ("Scene 1", minutes(0)),
        ("Scene 3", minutes(5)),
        ("Scene 2", minutes(10)),
    ]


def test_story_order_can_be_rearranged_in_one_save(editor_client, film):
    response = post_changed(
        editor_client,
        film,
        scenes__0__story_position="3",
        scenes__1__story_position="1",
        scenes__2__story_position="2",
    )
    assert response.status_code == 302
    story = list(film.scenes.in_story_order().values_list("title", flat=True))
    assert story == ["Scene 2", "Scene 3", "Scene 1"]


def test_a_deleted_scenes_position_can_be_reused_in_the_same_save(editor_client, film):
    data = form_data(editor_client.get(change_url(film)))
    data["scenes-1-DELETE"] = "on"
    data["scenes-2-screen_position"] = "2"
    data["scenes-2-story_position"] = "2"
    add_row(
        data,
        "scenes",
        screen_position="3",
        story_position="3",
        starts_at="0:20",
        ends_at="0:30",
        title="Scene 4",
        slug="scene-4",
        summary="s",
    )
    assert editor_client.post(change_url(film), data).status_code == 302
    assert list(
        film.scenes.in_screen_order().values_list("screen_position", "title")
    ) == [(1, "Scene 1"), (2, "Scene 3"), (3, "Scene 4")]


def test_plot_sections_swap_places_in_one_save(editor_client, film):
    for position, heading in ((1, "First"), (2, "Second")):
        PlotSection.objects.create(
            film=film, position=position, heading=heading, body="b"
        )
    data = form_data(editor_client.get(change_url(film)))
    first = row_index(data, "plot_sections", "heading", "First")
    second = row_index(data, "plot_sections", "heading", "Second")
    data[f"plot_sections-{first}-position"] = "2"
    data[f"plot_sections-{second}-position"] = "1"
    assert editor_client.post(change_url(film), data).status_code == 302
    assert list(film.plot_sections.values_list("heading", flat=True)) == [
        "Second",
        "First",
    ]


def test_plot_section_positions_must_differ(editor_client, film):
    for position in (1, 2):
        PlotSection.objects.create(
            film=film, position=position, heading=f"H{position}", body="b"
        )
    before = guide_state(film)
    response = post_changed(editor_client, film, plot_sections__1__position="1")
    assert_refused(
        response,
        film,
        before,
        "plot_sections",
        1,
        "position",
        "Position 1 is also used by “H1”.",
    )


# --- One scene on its own page ----------------------------------------------------


def test_the_scene_page_checks_the_timeline_too(editor_client, film):
    scene = film.scenes.get(screen_position=2)
    url = f"/admin/films/scene/{scene.pk}/change/"
    data = form_data(editor_client.get(url))
    data["ends_at"] = "0:12"
    response = editor_client.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["__all__"] == [
        "Scene “Scene 3”: Starts at 0:10, while “Scene 2” is still running (until 0:12)."
    ]
    assert Scene.objects.get(pk=scene.pk).ends_at == minutes(10)

    data["ends_at"] = "0:09"
    data["starts_at"] = "0:04"
    response = editor_client.post(url, data)
    assert response.context["adminform"].form.errors["starts_at"] == [
        "Starts at 0:04, while “Scene 1” is still running (until 0:05)."
    ]


def test_the_scene_page_offers_only_its_films_characters(editor_client, film):
    make_character(film, "hero")
    make_character(make_film(slug="other-2001"), "stranger")
    scene = film.scenes.get(screen_position=1)
    response = editor_client.get(f"/admin/films/scene/{scene.pk}/change/")
    field = response.context["adminform"].form.fields["characters"]
    assert [label for _, label in field.choices] == ["Hero"]


def test_a_good_edit_on_the_scene_page_is_saved(editor_client, film):
    scene = film.scenes.get(screen_position=3)
    url = f"/admin/films/scene/{scene.pk}/change/"
    data = form_data(editor_client.get(url))
    data["ends_at"] = "0:20"
    assert editor_client.post(url, data).status_code == 302
    assert Scene.objects.get(pk=scene.pk).ends_at == timedelta(minutes=20)
