"""The catalogue: filters, sort, pagination; bad values are reported, never a 500."""

import re

import pytest

from films.models import Country, Credit, Film, FilmTheme, Genre, Language
from tests.factories import make_credit, make_film, make_person, make_theme

pytestmark = pytest.mark.django_db


def titles(response):
    return re.findall(r'<h2><a href="/films/[^"]+/">([^<]+)</a>', response.text)


@pytest.fixture
def catalogue():
    russian = Language.objects.create(code="ru", name="Russian")
    italian = Language.objects.create(code="it", name="Italian")
    soviet = Country.objects.create(code="SU", name="Soviet Union")
    italy = Country.objects.create(code="IT", name="Italy")
    drama = Genre.objects.create(slug="drama", name="Drama")
    scifi = Genre.objects.create(slug="science-fiction", name="Science fiction")
    faith = make_theme("faith", name="Faith")
    tarkovsky = make_person("andrei-tarkovsky", name="Andrei Tarkovsky")
    bergman = make_person("ingmar-bergman", name="Ingmar Bergman")
    rows = [
        ("Stalker", 1979, 162, [russian], [soviet], [drama, scifi], tarkovsky, True),
        ("Solaris", 1972, 167, [russian], [soviet], [drama, scifi], tarkovsky, False),
        (
            "Nostalghia",
            1983,
            125,
            [italian, russian],
            [italy, soviet],
            [drama],
            tarkovsky,
            True,
        ),
        ("Persona", 1966, 85, [], [], [drama], bergman, False),
    ]
    for title, year, runtime, languages, countries, genres, director, has_faith in rows:
        film = make_film(
            slug=f"{title.lower()}-{year}", title=title, year=year, runtime=runtime
        )
        film.languages.set(languages)
        film.countries.set(countries)
        film.genres.set(genres)
        make_credit(film, director, Credit.Role.DIRECTOR)
        if has_faith:
            FilmTheme.objects.create(film=film, theme=faith, analysis="x")
    make_film(slug="hidden-2001", title="Hidden Draft", status=Film.Status.DRAFT)


def test_the_catalogue_lists_published_films_by_title(client, catalogue):
    response = client.get("/films/")
    assert titles(response) == ["Nostalghia", "Persona", "Solaris", "Stalker"]
    assert "4 films" in response.text
    assert 'directed by <a href="/people/andrei-tarkovsky/">Andrei Tarkovsky</a>' in (
        response.text
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"decade": "1970"}, ["Solaris", "Stalker"]),
        ({"year_min": "1975", "year_max": "1983"}, ["Nostalghia", "Stalker"]),
        ({"director": "ingmar-bergman"}, ["Persona"]),
        ({"director": "tarkovsky"}, ["Nostalghia", "Solaris", "Stalker"]),
        ({"director": "  Ingmar   BERGMAN "}, ["Persona"]),
        ({"language": "it"}, ["Nostalghia"]),
        ({"language": "ru"}, ["Nostalghia", "Solaris", "Stalker"]),
        ({"country": "SU"}, ["Nostalghia", "Solaris", "Stalker"]),
        ({"genre": "science-fiction"}, ["Solaris", "Stalker"]),
        ({"theme": "faith"}, ["Nostalghia", "Stalker"]),
        ({"runtime_min": "120", "runtime_max": "165"}, ["Nostalghia", "Stalker"]),
        ({"sort": "-year"}, ["Nostalghia", "Stalker", "Solaris", "Persona"]),
        ({"sort": "runtime"}, ["Persona", "Nostalghia", "Stalker", "Solaris"]),
        ({"q": "stalk"}, ["Stalker"]),
        (
            {"director": "andrei-tarkovsky", "sort": "year"},
            ["Solaris", "Stalker", "Nostalghia"],
        ),
    ],
)
def test_filters_and_sorting(client, catalogue, query, expected):
    response = client.get("/films/", query)
    assert response.status_code == 200
    assert titles(response) == expected


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"decade": "banana"}, "id_decade", "Select a valid choice"),
        ({"year_min": "abc"}, "id_year_min", "Enter a number"),
        ({"year_max": "99999"}, "id_year_max", "less than or equal to 2100"),
        ({"runtime_min": "-5"}, "id_runtime_min", "greater than or equal to 1"),
        (
            {"director": "nobody"},
            "id_director",
            "No director in the catalogue is called “nobody”",
        ),
        ({"language": "<script>"}, "id_language", "Select a valid choice"),
        ({"sort": "password"}, "id_sort", "Select a valid choice"),
    ],
)
def test_a_bad_filter_value_is_reported_beside_its_field(
    client, catalogue, query, field, words
):
    response = client.get("/films/", query)
    assert response.status_code == 200
    error = re.search(
        rf'<p class="field-error" id="{field}-error" role="alert">([^<]*)</p>',
        response.text,
    )
    assert error and words in error.group(1)
    # The bad value is ignored; the other films are still listed.
    assert titles(response)
    assert "<script>" not in response.text


@pytest.mark.parametrize("page", ["-1", "0", "abc", "1e9"])
def test_a_bad_page_gives_page_one_with_a_message(client, catalogue, page):
    response = client.get("/films/", {"page": page})
    assert response.status_code == 200
    assert "is not a page number; showing page 1." in response.text
    assert titles(response) == ["Nostalghia", "Persona", "Solaris", "Stalker"]


def test_a_page_past_the_end_gives_the_last_page(client, catalogue):
    response = client.get("/films/", {"page": "7"})
    assert response.status_code == 200
    assert "There is no page 7; showing the last page, 1." in response.text


def test_pagination_keeps_the_filters(client):
    for n in range(45):
        make_film(slug=f"film-{n:02d}-2000", title=f"Film {n:02d}")
    response = client.get("/films/", {"sort": "title", "page": "2"})
    assert titles(response)[0] == "Film 20"
    assert "Page 2 of 3" in response.text
    assert 'href="?sort=title&amp;page=3" rel="next"' in response.text
    assert 'href="?sort=title&amp;page=1" rel="prev"' in response.text


def test_the_catalogue_query_count_is_constant(
    client, catalogue, django_assert_num_queries
):
    # The catalogue's version, the filter form's choices (kept with the
    # version: checking the genre asked for costs nothing more), and the
    # page with its directors and the count of films.
    with django_assert_num_queries(3):
        client.get("/films/", {"genre": "drama"})
    # The choices of a version this process has read are known.
    with django_assert_num_queries(2):
        client.get("/films/", {"genre": "drama", "sort": "year"})
    for n in range(30):
        film = make_film(slug=f"more-{n}-2000", title=f"More {n}")
        make_credit(film, make_person(f"director-{n}"), Credit.Role.DIRECTOR)
    with django_assert_num_queries(3):
        response = client.get("/films/", {"genre": "drama"})
    assert response.status_code == 200
    # The page and its filter form do not grow with the catalogue either.
    assert "director-29" not in response.text


def test_filters_through_several_lists_count_each_film_once(client, catalogue):
    query = {"language": "ru", "country": "SU", "genre": "drama", "theme": "faith"}
    response = client.get("/films/", query)
    assert titles(response) == ["Nostalghia", "Stalker"]
    assert "2 films" in response.text


def test_a_page_far_past_the_end_gives_the_last_page(client, catalogue):
    response = client.get("/films/", {"page": str(10**30)})
    assert response.status_code == 200
    assert "showing the last page, 1." in response.text
    assert titles(response) == ["Nostalghia", "Persona", "Solaris", "Stalker"]


def test_the_filter_choices_follow_every_change_to_their_rows(client):
    # Kept with the catalogue's version: a new genre, a renamed one and a
    # deleted one are in the form on the very next request.
    make_film()
    fantasy = Genre.objects.create(name="Fantasy", slug="fantasy")
    assert '<option value="fantasy">Fantasy</option>' in client.get("/films/").text
    fantasy.name = "Fantastic"
    fantasy.save()
    page = client.get("/films/").text
    assert '<option value="fantasy">Fantastic</option>' in page
    assert ">Fantasy<" not in page
    fantasy.delete()
    assert 'value="fantasy"' not in client.get("/films/").text


def test_the_form_keeps_what_was_chosen_and_escapes_every_name(client, catalogue):
    Genre.objects.create(slug="noir", name='Drama & "Noir" <i>')
    response = client.get("/films/", {"genre": "noir", "decade": "1970"})
    text = response.text
    assert (
        '<option value="noir" selected>Drama &amp; &#34;Noir&#34; &lt;i&gt;</option>'
        in text
    )
    assert '<option value="1970" selected>1970s</option>' in text
    assert '<option value="" selected>Any language</option>' in text
    assert text.count(" selected>") == 6  # one in each list


def test_a_card_names_every_director_in_billing_order(client):
    film = make_film(slug="two-hands-2000", title="Two Hands")
    make_credit(film, make_person("second-named", name="Second Named"), position=2)
    make_credit(film, make_person("first-named", name="First Named"), position=1)
    make_credit(film, make_person("the-actor"), Credit.Role.CAST, position=0)
    make_film(slug="no-hands-2001", title="No Hands")
    text = client.get("/films/").text
    assert (
        'directed by <a href="/people/first-named/">First Named</a>, '
        '<a href="/people/second-named/">Second Named</a></p>'
    ) in text
    assert "the-actor" not in text
    assert titles(client.get("/films/")) == ["No Hands", "Two Hands"]


def test_with_page_cache_off_a_page_costs_one_query(
    client, catalogue, settings, django_assert_num_queries
):
    settings.PAGE_CACHE = False
    client.get("/films/")  # this process keeps the version's filter choices
    # The catalogue's version comes with the page's films and their count.
    with django_assert_num_queries(1):
        response = client.get("/films/", {"genre": "drama", "sort": "year"})
    assert titles(response) == ["Persona", "Solaris", "Stalker", "Nostalghia"]
    assert '<option value="drama" selected>Drama</option>' in response.text
    with django_assert_num_queries(1):
        response = client.get("/films/")
    assert titles(response) == ["Nostalghia", "Persona", "Solaris", "Stalker"]


@pytest.mark.parametrize("query", [{}, {"q": "no such film"}, {"page": "9"}])
def test_with_page_cache_off_a_change_shows_its_choices_and_etag_at_once(
    client, catalogue, settings, query
):
    # The page is read with the choices of the version this process last
    # saw; its films, of a newer version, make it read that one's.
    settings.PAGE_CACHE = False
    before = client.get("/films/", query)
    Genre.objects.create(slug="noir", name="Film noir")
    after = client.get("/films/", query)
    assert '<option value="noir">Film noir</option>' in after.text
    assert "Film noir" not in before.text
    assert after["ETag"] != before["ETag"]
    again = client.get("/films/", query, headers={"if-none-match": after["ETag"]})
    assert again.status_code == 304
    stale = client.get("/films/", query, headers={"if-none-match": before["ETag"]})
    assert stale.status_code == 200
    assert stale.text == after.text


def test_with_page_cache_off_a_chosen_new_genre_filters_at_once(
    client, catalogue, settings
):
    settings.PAGE_CACHE = False
    client.get("/films/", {"genre": "drama"})
    noir = Genre.objects.create(slug="noir", name="Film noir")
    Film.objects.get(title="Persona").genres.add(noir)
    response = client.get("/films/", {"genre": "noir"})
    assert "Select a valid choice" not in response.text
    assert titles(response) == ["Persona"]


def test_one_visitors_values_and_errors_are_not_in_the_next_form(
    client, catalogue, settings
):
    settings.PAGE_CACHE = False
    client.get("/films/")
    chosen = client.get("/films/", {"q": "stalk", "decade": "abc", "genre": "drama"})
    assert 'value="stalk"' in chosen.text
    assert '<option value="drama" selected>' in chosen.text
    assert "Select a valid choice" in chosen.text
    for query in ({}, {"sort": "year"}):
        text = client.get("/films/", query).text
        assert 'value="stalk"' not in text
        assert '<option value="drama" selected>' not in text
        assert "Select a valid choice" not in text
        assert "has-error" not in text
        assert text.count(" selected>") == 6  # one in each list
