"""The editors' admin: one screen per film, lists that help, roles and drafts."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from films.admin import TimecodeField
from films.derived import bumps_deferred
from films.models import Character, Credit, Film, Language, Scene
from tests.admin_helpers import (
    add_row,
    change_url,
    form_data,
    make_editor,
)
from tests.factories import (
    make_character,
    make_credit,
    make_film,
    make_person,
    make_scene,
    make_theme,
)

pytestmark = pytest.mark.django_db

FILMS_URL = "/admin/films/film/"


@pytest.fixture
def editor(django_user_model):
    return make_editor(django_user_model)


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


# --- An editor writes a guide -----------------------------------------------------


def test_an_editor_adds_a_film_with_scenes_and_a_character_and_publishes_it(
    editor_client,
):
    visitor = Client()
    data = form_data(editor_client.get(f"{FILMS_URL}add/"))
    data.update(
        title="The Sacrifice",
        year="1986",
        slug="the-sacrifice-1986",
        runtime="149",
        premise="A man makes a *vow* on the eve of war.",
    )
    add_row(
        data,
        "characters",
        position="1",
        name="Alexander",
        slug="alexander",
        description="A retired actor.",
    )
    add_row(
        data,
        "scenes",
        screen_position="1",
        story_position="1",
        starts_at="0:00",
        ends_at="0:09:30",
        title="The dead tree",
        slug="the-dead-tree",
        summary="Alexander plants a tree with his son.",
    )
    add_row(
        data,
        "scenes",
        screen_position="2",
        story_position="2",
        starts_at="0:09:30",
        ends_at="0:20",
        title="The birthday",
        slug="the-birthday",
        summary="Guests arrive.",
    )
    response = editor_client.post(f"{FILMS_URL}add/", data)
    assert response.status_code == 302, response.context["errors"]

    film = Film.objects.get(slug="the-sacrifice-1986")
    assert film.status == Film.Status.DRAFT  # a new film is a draft
    assert [s.title for s in film.scenes.in_screen_order()] == [
        "The dead tree",
        "The birthday",
    ]
    assert film.scenes.get(slug="the-dead-tree").ends_at == timedelta(
        minutes=9, seconds=30
    )
    assert list(film.characters.values_list("name", flat=True)) == ["Alexander"]
    assert visitor.get("/films/the-sacrifice-1986/").status_code == 404

    response = editor_client.post(
        FILMS_URL, {"action": "publish", "_selected_action": [film.pk]}
    )
    assert response.status_code == 302
    film.refresh_from_db()
    assert film.is_published

    page = visitor.get(film.get_absolute_url())
    assert page.status_code == 200
    assert "The Sacrifice" in page.text
    assert "A man makes a <em>vow</em> on the eve of war." in page.text
    assert "Draft —" not in page.text


def test_an_editor_links_the_films_characters_to_a_scene(editor_client):
    film = make_film()
    hero = make_character(film, "hero")
    make_character(make_film(slug="other-2001", title="Other"), "stranger")
    scene = make_scene(film, 1)
    response = editor_client.get(change_url(film))
    data = form_data(response)
    choices = [
        label for _, label in inline_field(response, "scenes", 0, "characters").choices
    ]
    assert choices == ["Hero"]  # the film's characters only
    data["scenes-0-characters"] = [str(hero.pk)]
    assert editor_client.post(change_url(film), data).status_code == 302
    assert list(scene.characters.all()) == [hero]


def inline_field(response, prefix, index, name):
    for inline in response.context["inline_admin_formsets"]:
        if inline.formset.prefix == prefix:
            return inline.formset.forms[index].fields[name]
    raise LookupError(prefix)


def test_the_film_page_has_every_part_of_the_guide(editor_client):
    film = make_film()
    response = editor_client.get(change_url(film))
    prefixes = [i.formset.prefix for i in response.context["inline_admin_formsets"]]
    assert prefixes == [
        "credits",
        "characters",
        "scenes",
        "plot_sections",
        "film_themes",
        "recommendations",
    ]


def test_scenes_are_listed_in_screen_order(editor_client):
    film = make_film()
    for position in (3, 1, 2):
        make_scene(film, position)
    response = editor_client.get(change_url(film))
    data = form_data(response)
    assert [data[f"scenes-{i}-screen_position"] for i in range(3)] == ["1", "2", "3"]


def test_the_slug_is_prefilled_from_title_and_year(editor_client):
    response = editor_client.get(f"{FILMS_URL}add/")
    assert response.context["adminform"].prepopulated_fields[0]["dependencies"]
    assert [
        f.name
        for f in response.context["adminform"].prepopulated_fields[0]["dependencies"]
    ] == ["title", "year"]


@pytest.mark.parametrize(
    ("model", "term", "expected"),
    [
        ("person", "Tark", "Andrei Tarkovsky"),
        ("theme", "Mem", "Memory"),
        ("genre", "Dra", "Drama"),
        ("film", "Stal", "Stalker (1979)"),
    ],
)
def test_autocomplete_finds_people_themes_genres_and_films(
    editor_client, model, term, expected
):
    from films.models import Genre

    make_person("andrei-tarkovsky", name="Andrei Tarkovsky")
    make_theme("memory")
    Genre.objects.create(slug="drama", name="Drama")
    make_film(slug="stalker-1979", title="Stalker", year=1979)
    source = {
        "person": ("credit", "person"),
        "theme": ("scene", "themes"),
        "genre": ("film", "genres"),
        "film": ("scene", "film"),
    }[model]
    response = editor_client.get(
        reverse("admin:autocomplete"),
        {
            "term": term,
            "app_label": "films",
            "model_name": source[0],
            "field_name": source[1],
        },
    )
    assert response.status_code == 200, response.content
    assert [r["text"] for r in response.json()["results"]] == [expected]


def test_times_are_written_as_on_the_site():
    field = TimecodeField()
    assert field.clean("1:12") == timedelta(hours=1, minutes=12)
    assert field.clean("1:12:30") == timedelta(hours=1, minutes=12, seconds=30)
    assert field.prepare_value(timedelta(hours=1, minutes=5)) == "1:05"
    with pytest.raises(Exception, match="H:MM or H:MM:SS"):
        field.clean("72 minutes")


# --- Lists ------------------------------------------------------------------------


@bumps_deferred()  # one bump per film, not per row
def make_listed_film(n):
    film = make_film(slug=f"film-{n}", title=f"Film {n}", year=1950 + n % 40)
    make_credit(film, make_person(f"director-{n}", name=f"Director {n}"))
    for position in (1, 2):
        make_scene(film, position)
    film.languages.add(Language.objects.get_or_create(code="ru", name="Russian")[0])
    return film


def test_the_film_list_shows_director_status_scenes_and_last_updated(editor_client):
    make_listed_film(1)
    response = editor_client.get(FILMS_URL)
    result = response.context["cl"].result_list[0]
    assert result.director_credits[0].person.name == "Director 1"
    assert result.scene_count == 2
    for text in [
        "Film 1",
        "1951",
        "Director 1",
        "Draft",
        '<td class="field-scene_count">2</td>',
    ]:
        assert text in response.text, text
    assert "column-updated_at" in response.text


def test_the_film_list_runs_a_constant_number_of_queries(
    editor_client, django_assert_num_queries
):
    for n in range(5):
        make_listed_film(n)
    editor_client.get(FILMS_URL)  # warm caches (content types), as in a live site
    with django_assert_num_queries(FILM_LIST_QUERIES):
        response = editor_client.get(FILMS_URL)
    assert len(response.context["cl"].result_list) == 5
    with bumps_deferred():  # the 95 films bumped once, together
        for n in range(5, 100):
            make_listed_film(n)
    with django_assert_num_queries(FILM_LIST_QUERIES):
        response = editor_client.get(FILMS_URL)
    assert response.context["cl"].result_count == 100
    assert "Director 99" in response.text or "Director 0" in response.text


FILM_LIST_QUERIES = 10


def test_the_film_page_runs_a_constant_number_of_queries(
    editor_client, django_assert_num_queries
):
    @bumps_deferred()  # one bump per guide, not per row
    def build(slug, n):
        film = make_film(slug=slug, runtime=300)
        theme = make_theme(f"theme-{slug}")
        characters = [make_character(film, f"c{i}") for i in range(n)]
        for i in range(n):
            scene = make_scene(film, i + 1)
            scene.characters.add(*characters)
            scene.themes.add(theme)
            make_credit(
                film,
                make_person(f"p-{slug}-{i}"),
                Credit.Role.CAST,
                character=characters[i],
            )
        return film

    small, large = build("small-2000", 2), build("large-2000", 30)
    editor_client.get(change_url(small))  # warm caches (content types)
    with django_assert_num_queries(FILM_PAGE_QUERIES):
        editor_client.get(change_url(small))
    with django_assert_num_queries(FILM_PAGE_QUERIES):
        response = editor_client.get(change_url(large) + "?scenes=edit")
    assert "P Large 2000 29" in response.text
    # By default a long timeline is listed, each scene edited on its own page.
    with django_assert_num_queries(FILM_PAGE_LISTED_QUERIES):
        response = editor_client.get(change_url(large))
    assert "P Large 2000 29" in response.text


FILM_PAGE_QUERIES = 21  # one of them: the scenes offered beside reveal points
FILM_PAGE_LISTED_QUERIES = 17  # the same, without the scene rows' widgets


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=published", ["Published One"]),
        ("decade=1970", ["Seventies"]),
        ("q=Сталкер", ["Seventies"]),
        ("q=Kaidanovsky", ["Seventies"]),
        ("q=Draft", ["Draft Two"]),
    ],
)
def test_the_film_list_filters_and_searches(editor_client, query, expected):
    make_film(slug="published-one-2001", title="Published One", year=2001)
    seventies = make_film(
        slug="seventies-1979",
        title="Seventies",
        original_title="Сталкер",
        year=1979,
        status=Film.Status.DRAFT,
    )
    make_credit(
        seventies,
        make_person("alexander-kaidanovsky", name="Alexander Kaidanovsky"),
        Credit.Role.CAST,
    )
    make_film(
        slug="draft-two-2002", title="Draft Two", year=2002, status=Film.Status.DRAFT
    )
    response = editor_client.get(f"{FILMS_URL}?{query}")
    assert [str(f.title) for f in response.context["cl"].result_list] == expected


def test_the_film_list_filters_by_language(editor_client):
    russian = Language.objects.create(code="ru", name="Russian")
    make_film(slug="a-2000", title="In Russian").languages.add(russian)
    make_film(slug="b-2000", title="In Silence")
    response = editor_client.get(f"{FILMS_URL}?languages__id__exact={russian.pk}")
    assert [f.title for f in response.context["cl"].result_list] == ["In Russian"]


@pytest.mark.parametrize(
    ("url", "search", "expected"),
    [
        ("/admin/films/person/", "Тарковский", "Andrei Tarkovsky"),
        ("/admin/films/theme/", "memory", "Memory"),
        ("/admin/films/character/", "Stalker", "The Stalker"),
        ("/admin/films/character/", "Kaidanovsky", "The Stalker"),
    ],
)
def test_people_themes_and_characters_have_lists_with_search(
    editor_client, url, search, expected
):
    film = make_film(slug="stalker-1979", title="Stalker", year=1979)
    make_theme("memory")
    stalker = make_character(film, "the-stalker", name="The Stalker")
    make_credit(
        film,
        make_person(
            "andrei-tarkovsky",
            name="Andrei Tarkovsky",
            original_name="Андрей Тарковский",
        ),
    )
    make_credit(
        film,
        make_person("alexander-kaidanovsky", name="Alexander Kaidanovsky"),
        Credit.Role.CAST,
        character=stalker,
    )
    response = editor_client.get(url, {"q": search})
    assert response.status_code == 200
    assert [str(o) for o in response.context["cl"].result_list] == [expected]


# --- Drafts and preview -----------------------------------------------------------


def test_the_film_page_offers_view_on_site_and_previews(editor_client):
    film = make_film(slug="draft-2000", status=Film.Status.DRAFT)
    response = editor_client.get(change_url(film))
    assert "View on site" in response.text
    assert 'href="/films/draft-2000/?seen=none"' in response.text
    assert 'href="/films/draft-2000/?seen=all"' in response.text
    assert "This guide is a <strong>draft</strong>" in response.text

    view_on_site = editor_client.get(response.context["absolute_url"], follow=True)
    assert view_on_site.status_code == 200
    assert view_on_site.redirect_chain[-1][0].endswith("/films/draft-2000/")
    assert "Draft — visitors cannot see this guide yet." in view_on_site.text


def test_unpublish_takes_a_film_back_to_draft(editor_client):
    film = make_film(slug="live-2000")
    response = editor_client.post(
        FILMS_URL, {"action": "unpublish", "_selected_action": [film.pk]}, follow=True
    )
    assert "1 film back to draft." in response.text
    film.refresh_from_db()
    assert film.status == Film.Status.DRAFT
    assert Client().get("/films/live-2000/").status_code == 404


# --- Roles -----------------------------------------------------------------------


def test_an_editor_cannot_open_the_user_or_group_admin(editor_client):
    assert editor_client.get("/admin/auth/user/").status_code == 403
    assert editor_client.get("/admin/auth/group/").status_code == 403
    assert editor_client.get("/admin/").status_code == 200
    assert "/admin/auth/" not in editor_client.get("/admin/").text


def test_editors_have_exactly_the_permissions_to_edit_guides():
    from django.apps import apps

    editors = Group.objects.get(name="Editors")
    granted = set(
        editors.permissions.values_list("content_type__app_label", "codename")
    )
    expected = {
        ("films", f"{action}_{model._meta.model_name}")
        for model in apps.get_app_config("films").get_models()
        for action in ("add", "change", "delete", "view")
        if action in model._meta.default_permissions
    }
    assert granted == expected
    assert not Permission.objects.filter(
        group=editors, content_type__app_label__in=["auth", "reversion", "axes"]
    ).exists()


def test_a_staff_member_outside_editors_cannot_edit_films(client, django_user_model):
    user = django_user_model.objects.create_user(
        username="staff", password="x-long-password-1", is_staff=True
    )
    client.force_login(user)
    assert client.get(FILMS_URL).status_code == 403


def test_an_editor_can_delete_a_scene_but_its_character_stays(editor_client):
    film = make_film()
    make_scene(film, 1)
    make_scene(film, 2)
    make_character(film, "hero")
    data = form_data(editor_client.get(change_url(film)))
    data["scenes-1-DELETE"] = "on"
    assert editor_client.post(change_url(film), data).status_code == 302
    assert list(Scene.objects.filter(film=film).values_list("title", flat=True)) == [
        "Scene 1"
    ]
    assert Character.objects.filter(film=film).count() == 1
