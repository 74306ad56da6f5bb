"""Every constraint and every ``clean()`` rule refuses bad data, naming the field.

Each rule is checked twice where it lives in the database: ``full_clean()``
gives a message on the field at fault (what the admin and the loader show),
and a save that skips validation is refused by the database itself.
"""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from films.models import (
    Character,
    CharacterBeat,
    Credit,
    Film,
    FilmTheme,
    PlotSection,
    Recommendation,
    Scene,
)
from films.spoilers import Horizon
from tests.factories import (
    make_character,
    make_film,
    make_person,
    make_scene,
    make_theme,
    minutes,
)

pytestmark = pytest.mark.django_db


def errors_of(obj):
    with pytest.raises(ValidationError) as caught:
        obj.full_clean()
    return caught.value.message_dict


def refused_by_database(obj):
    with pytest.raises(IntegrityError), transaction.atomic():
        obj.save()


# --- Film -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("year", 1800, "greater than or equal to 1888"),
        ("year", 2200, "less than or equal to 2100"),
        ("runtime", 0, "greater than or equal to 1"),
        ("runtime", 5000, "less than or equal to 1440"),
        ("status", "archived", "not a valid choice"),
    ],
)
def test_film_field_out_of_range_is_refused(field, value, words):
    values = {"year": 2000, "runtime": 90, field: value}
    film = Film(title="Bad", slug="bad-2000", premise="p", **values)
    errors = errors_of(film)
    assert list(errors) == [field]
    assert words in errors[field][0]
    refused_by_database(film)


def test_film_slug_must_be_unique():
    make_film(slug="stalker-1979")
    twin = Film(title="Twin", slug="stalker-1979", year=1979, runtime=90, premise="p")
    assert "already exists" in errors_of(twin)["slug"][0]
    refused_by_database(twin)


# --- Scene ------------------------------------------------------------------


def test_scene_must_end_after_it_starts():
    film = make_film()
    scene = Scene(
        film=film,
        slug="s",
        screen_position=1,
        story_position=1,
        starts_at=minutes(10),
        ends_at=minutes(10),
        title="S",
        summary="x",
    )
    assert errors_of(scene)["ends_at"] == ["A scene must end after it starts."]
    refused_by_database(scene)


def test_scene_cannot_start_before_zero():
    film = make_film()
    scene = Scene(
        film=film,
        slug="s",
        screen_position=1,
        story_position=1,
        starts_at=timedelta(seconds=-5),
        ends_at=minutes(1),
        title="S",
        summary="x",
    )
    assert errors_of(scene)["starts_at"] == ["A scene cannot start before 0:00."]
    refused_by_database(scene)


def test_scene_must_end_within_the_runtime():
    film = make_film(runtime=100)
    scene = Scene(
        film=film,
        slug="s",
        screen_position=1,
        story_position=1,
        starts_at=minutes(95),
        ends_at=minutes(101),
        title="S",
        summary="x",
    )
    assert errors_of(scene)["ends_at"] == ["Ends at 1:41, after the film's end (1:40)."]


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("screen_position", "Another scene of this film has this screen position."),
        ("story_position", "Another scene of this film has this story position."),
        ("slug", "Another scene of this film has this slug."),
    ],
)
def test_scene_position_and_slug_are_unique_per_film(field, message):
    film = make_film()
    first = make_scene(film, 1)
    values = {"slug": "other", "screen_position": 2, "story_position": 2}
    values[field] = getattr(first, field)
    twin = Scene(
        film=film,
        starts_at=minutes(20),
        ends_at=minutes(25),
        title="Twin",
        summary="x",
        **values,
    )
    assert errors_of(twin) == {field: [message]}
    refused_by_database(twin)


def test_the_same_positions_are_fine_in_another_film():
    make_scene(make_film(slug="one-2000"), 1)
    other = make_film(slug="two-2000")
    scene = Scene(
        film=other,
        slug="scene-1",
        screen_position=1,
        story_position=1,
        starts_at=minutes(0),
        ends_at=minutes(5),
        title="S",
        summary="x",
    )
    scene.full_clean()


def test_scene_positions_count_from_one():
    film = make_film()
    scene = Scene(
        film=film,
        slug="s",
        screen_position=0,
        story_position=1,
        starts_at=minutes(0),
        ends_at=minutes(5),
        title="S",
        summary="x",
    )
    assert "screen_position" in errors_of(scene)
    refused_by_database(scene)


def test_scene_characters_must_belong_to_its_film():
    film = make_film(slug="mine-2000")
    other = make_film(slug="other-2000", title="Other")
    scene = make_scene(film, 1)
    ours = make_character(film, "ours")
    stranger = make_character(other, "stranger", name="Stranger")
    scene.clean_characters([ours])
    with pytest.raises(ValidationError) as caught:
        scene.clean_characters([ours, stranger])
    assert caught.value.message_dict == {
        "characters": ["Not characters of Test Film (2000): Stranger (Other (2000))."]
    }


# --- Reveal points ------------------------------------------------------------


def _beat(film):
    return CharacterBeat(character=make_character(film), position=1, text="x")


def _section(film):
    return PlotSection(film=film, position=1, heading="H", body="x")


def _analysis(film):
    return FilmTheme(film=film, theme=make_theme(), analysis="x")


def _character(film):
    return Character(film=film, name="Late", slug="late", description="x")


@pytest.mark.parametrize("build", [_beat, _section, _analysis, _character])
def test_reveal_point_must_be_inside_the_film(build):
    film = make_film(runtime=100)
    obj = build(film)
    obj.reveals_at = minutes(101)
    assert errors_of(obj) == {
        "reveals_at": ["1:41 is outside the film, which runs 0:00 to 1:40."]
    }
    obj.reveals_at = minutes(100)
    obj.full_clean()
    obj.reveals_at = None  # spoiler-free
    obj.full_clean()


@pytest.mark.parametrize("build", [_beat, _section, _analysis, _character])
def test_reveal_point_cannot_be_negative(build):
    obj = build(make_film())
    obj.reveals_at = timedelta(minutes=-1)
    assert "reveals_at" in errors_of(obj)
    refused_by_database(obj)


def test_beat_positions_are_unique_per_character():
    character = make_character(make_film())
    CharacterBeat.objects.create(character=character, position=1, text="x")
    twin = CharacterBeat(character=character, position=1, text="y")
    assert errors_of(twin) == {
        "position": ["Another beat of this character has this position."]
    }
    refused_by_database(twin)


def test_plot_section_positions_are_unique_per_film():
    film = make_film()
    PlotSection.objects.create(film=film, position=1, heading="A", body="x")
    twin = PlotSection(film=film, position=1, heading="B", body="y")
    assert errors_of(twin) == {
        "position": ["Another plot section of this film has this position."]
    }
    refused_by_database(twin)


def test_a_theme_has_one_analysis_per_film():
    film = make_film()
    theme = make_theme()
    FilmTheme.objects.create(film=film, theme=theme, analysis="x")
    twin = FilmTheme(film=film, theme=theme, analysis="y")
    assert errors_of(twin) == {
        "theme": ["This theme already has an analysis for this film."]
    }
    refused_by_database(twin)


def test_character_slug_is_unique_per_film():
    film = make_film()
    make_character(film, "hero")
    twin = Character(film=film, slug="hero", name="Hero", description="x")
    assert errors_of(twin) == {
        "slug": ["Another character of this film has this slug."]
    }
    refused_by_database(twin)


# --- Credits and recommendations ----------------------------------------------


def test_only_a_cast_credit_names_a_character():
    film = make_film()
    credit = Credit(
        film=film,
        person=make_person(),
        role=Credit.Role.DIRECTOR,
        character=make_character(film),
    )
    assert errors_of(credit) == {"character": ["Only a cast credit names a character."]}
    refused_by_database(credit)


def test_a_credited_character_must_be_of_the_same_film():
    film = make_film(slug="mine-2000")
    other = make_film(slug="other-2000", title="Other")
    credit = Credit(
        film=film,
        person=make_person(),
        role=Credit.Role.CAST,
        character=make_character(other, "stranger", name="Stranger"),
    )
    assert errors_of(credit) == {
        "character": ["Stranger is not a character of Test Film (2000)."]
    }


def test_a_person_has_one_credit_per_role_per_film():
    film = make_film()
    person = make_person()
    Credit.objects.create(film=film, person=person, role=Credit.Role.WRITER)
    twin = Credit(film=film, person=person, role=Credit.Role.WRITER, note="again")
    assert errors_of(twin) == {
        "role": ["This person already has this role in this film."]
    }
    refused_by_database(twin)
    Credit(film=film, person=person, role=Credit.Role.DIRECTOR).full_clean()


def test_a_film_cannot_recommend_itself():
    film = make_film(slug="solaris-1972")
    rec = Recommendation(
        film=film,
        target_slug="solaris-1972",
        target_title="Solaris",
        target_year=1972,
        reason="x",
    )
    assert errors_of(rec) == {"target_slug": ["A film cannot recommend itself."]}


def test_a_film_is_recommended_once_per_film():
    film = make_film()
    values = {
        "target_slug": "mirror-1975",
        "target_title": "Mirror",
        "target_year": 1975,
    }
    Recommendation.objects.create(film=film, reason="x", **values)
    twin = Recommendation(film=film, reason="y", **values)
    assert errors_of(twin) == {
        "target_slug": ["This film is already recommended here."]
    }
    refused_by_database(twin)


# --- The horizon in QuerySets ---------------------------------------------------


def test_up_to_is_one_query_per_kind_of_row(django_assert_num_queries):
    film = make_film()
    for n in range(1, 6):
        make_scene(film, n, length=10)
    PlotSection.objects.create(film=film, position=1, heading="Set-up", body="x")
    PlotSection.objects.create(
        film=film, position=2, heading="Twist", body="y", reveals_at=minutes(30)
    )
    horizon = Horizon.parse("0:25")
    with django_assert_num_queries(2):
        scenes = list(film.scenes.up_to(horizon).in_screen_order())
        sections = list(film.plot_sections.up_to(horizon))
    assert [s.screen_position for s in scenes] == [1, 2, 3]
    assert [s.heading for s in sections] == ["Set-up"]


@pytest.mark.parametrize(
    ("seen", "visible"),
    [
        ("none", []),
        ("0:00", [1]),
        ("0:19:59", [1, 2]),
        ("0:20", [1, 2, 3]),
        ("all", [1, 2, 3, 4, 5]),
    ],
)
def test_a_scene_is_revealed_at_its_own_start(seen, visible):
    film = make_film()
    for n in range(1, 6):
        make_scene(film, n, length=10)
    horizon = Horizon.parse(seen)
    shown = [s.screen_position for s in film.scenes.up_to(horizon).in_screen_order()]
    hidden = [s.screen_position for s in film.scenes.beyond(horizon).in_screen_order()]
    assert shown == visible
    assert sorted(shown + hidden) == [1, 2, 3, 4, 5]


def test_story_order_and_screen_order_differ_when_the_story_is_told_out_of_order():
    film = make_film()
    make_scene(film, 1, story_position=2, story_label="the present")
    make_scene(film, 2, story_position=1, story_label="1935")
    assert [s.title for s in film.scenes.in_screen_order()] == ["Scene 1", "Scene 2"]
    assert [s.title for s in film.scenes.in_story_order()] == ["Scene 2", "Scene 1"]


def test_published_and_visible_to():
    make_film(slug="out-2000")
    make_film(slug="draft-2000", status=Film.Status.DRAFT)

    class Visitor:
        is_active = True
        is_staff = False

    class Staff(Visitor):
        is_staff = True

    assert [f.slug for f in Film.objects.published()] == ["out-2000"]
    assert [f.slug for f in Film.objects.visible_to(Visitor())] == ["out-2000"]
    assert sorted(f.slug for f in Film.objects.visible_to(Staff())) == [
        "draft-2000",
        "out-2000",
    ]


def test_a_new_film_is_a_draft():
    film = Film.objects.create(
        title="New", slug="new-2020", year=2020, runtime=90, premise="p"
    )
    assert film.status == Film.Status.DRAFT
