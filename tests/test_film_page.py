"""The film overview page: facts, credits and the spoiler-free premise."""

import pytest
from django.urls import reverse

from films.models import Country, Credit, Film, Genre, Language
from tests.factories import make_character, make_credit, make_film, make_person

pytestmark = pytest.mark.django_db


def build_film(slug="stalker-1979", **fields):
    film = make_film(
        slug=slug,
        title="Stalker",
        original_title="Сталкер",
        year=1979,
        runtime=162,
        production_companies="Mosfilm",
        based_on="Roadside Picnic, a novel by Arkady and Boris Strugatsky",
        premise="Three men cross a *forbidden* zone.",
        ending_explained="THE-ENDING-SECRET",
        **fields,
    )
    film.languages.add(Language.objects.create(code="ru", name="Russian"))
    film.countries.add(Country.objects.create(code="SU", name="Soviet Union"))
    film.genres.add(Genre.objects.create(slug="drama", name="Drama"))
    make_credit(film, make_person("andrei-tarkovsky", name="Andrei Tarkovsky"))
    stalker = make_character(film, "the-stalker", name="The Stalker")
    make_credit(
        film,
        make_person("alexander-kaidanovsky", name="Alexander Kaidanovsky"),
        Credit.Role.CAST,
        character=stalker,
    )
    return film


def test_the_overview_shows_the_facts(client):
    build_film()
    response = client.get("/films/stalker-1979/")
    assert response.status_code == 200
    for fact in [
        "<h1>Stalker",
        "(1979)",
        "Сталкер",
        "162 min (2 h 42 min)",
        "Russian",
        "Soviet Union",
        "Drama",
        "Mosfilm",
        "Roadside Picnic, a novel by Arkady and Boris Strugatsky",
        '<a href="/people/andrei-tarkovsky/">Andrei Tarkovsky</a>',
        '<a href="/people/alexander-kaidanovsky/">Alexander Kaidanovsky</a>',
        'as <a href="/films/stalker-1979/characters/the-stalker/">The Stalker</a>',
        "Three men cross a <em>forbidden</em> zone.",
        "Last updated",
    ]:
        assert fact in response.text, fact


def test_the_overview_sends_no_ending(client):
    build_film()
    response = client.get("/films/stalker-1979/")
    assert "THE-ENDING-SECRET" not in response.text


def test_the_title_and_description_are_spoiler_free(client):
    build_film()
    response = client.get("/films/stalker-1979/")
    assert "<title>Stalker (1979) — spoiler-free guide · Stalker Guide</title>" in (
        response.text
    )
    assert '<meta name="description" content="Three men cross a forbidden zone.">' in (
        response.text
    )


def test_the_overview_uses_a_constant_number_of_queries(
    client, django_assert_num_queries
):
    film = build_film()
    # The film's head, then the rest of it with the guide's overview.
    with django_assert_num_queries(2):
        client.get(film.get_absolute_url())
    for n in range(20):
        make_credit(film, make_person(f"actor-{n}"), Credit.Role.CAST)
    with django_assert_num_queries(2):
        response = client.get(film.get_absolute_url())
    assert "Actor 19" in response.text


def test_a_draft_film_is_a_404_for_visitors(client):
    build_film(status=Film.Status.DRAFT)
    response = client.get("/films/stalker-1979/")
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert "Three men cross" not in response.text


def test_staff_see_a_draft_with_a_banner(client, staff_user):
    build_film(status=Film.Status.DRAFT)
    client.force_login(staff_user)
    response = client.get("/films/stalker-1979/")
    assert response.status_code == 200
    assert "Draft — visitors cannot see this guide yet." in response.text


def test_a_published_film_has_no_draft_banner(client, staff_user):
    build_film()
    client.force_login(staff_user)
    assert "Draft —" not in client.get("/films/stalker-1979/").text


def test_an_unknown_film_is_a_styled_404(client):
    response = client.get("/films/no-such-film-1999/")
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert 'href="/static/css/site.css"' in response.text


def test_the_home_page_lists_published_guides_only(client):
    build_film()
    make_film(slug="secret-2001", title="Secret Draft", status=Film.Status.DRAFT)
    response = client.get(reverse("films:home"))
    assert 'href="/films/stalker-1979/"' in response.text
    assert "Secret Draft" not in response.text


def test_a_server_error_is_a_styled_500(rf):
    from films.views import server_error

    response = server_error(rf.get("/anything/"))
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert b'href="/static/css/site.css"' in response.content
