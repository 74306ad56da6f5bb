"""The read API, /api/v1/: the same horizon as the pages, JSON errors, ETags.

The leak tests read every text of every shipped guide from the database, as
tests/test_leaks.py does for the pages: at each horizon, no text beyond it is
anywhere in the JSON, and every text within it is.
"""

import html
import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from openapi_spec_validator import validate

from films.models import Character, Film
from films.spoilers import Horizon
from tests.test_leaks import horizons, secrets, shipped_films, texts

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shipped_guides")]
from tests.shipped import shipped_guides  # noqa: E402, F401

TAG = re.compile(r"<[^>]+>")
GUIDE = "/api/v1/films/{}/"


def strings(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


def json_text(response):
    """Every string the JSON carries, raw and untagged, unescaped, one-spaced."""
    raw = html.unescape(" ".join(strings(response.json())))
    return " ".join(raw.split()) + " " + " ".join(TAG.sub(" ", raw).split())


# --- The horizon, exactly as the pages apply it ------------------------------------


@pytest.mark.parametrize("slug", shipped_films())
def test_nothing_beyond_the_horizon_is_sent(client, slug):
    film = Film.objects.get(slug=slug)
    for horizon in horizons(film):
        response = client.get(GUIDE.format(slug), {"seen": str(horizon)})
        assert response.status_code == 200, horizon
        sent = json_text(response)
        for secret in secrets(film, horizon):
            assert secret not in sent, f"{slug} at {horizon} leaks: {secret[:80]}"
        visible, _ = texts(film, horizon)
        for _, text in visible:
            assert text in sent, f"{slug} at {horizon} does not send: {text[:80]}"


@pytest.mark.parametrize("slug", shipped_films())
def test_without_seen_nothing_has_been_seen(client, slug):
    default = client.get(GUIDE.format(slug))
    assert default.json() == client.get(GUIDE.format(slug), {"seen": "none"}).json()
    assert default.json()["horizon"] == {
        "seen": "none",
        "effective": "none",
        "order": "screen",
    }
    film = Film.objects.get(slug=slug)
    sent = json_text(default)
    for secret in secrets(film, Horizon.parse("none")):
        assert secret not in sent
    assert default.json()["scenes"] == []
    assert default.json()["ending"] is None


def test_a_cookie_does_not_move_the_horizon(client):
    client.cookies["seen_stalker-1979"] = "all"
    data = client.get(GUIDE.format("stalker-1979")).json()
    assert data["horizon"]["seen"] == "none"
    assert data["scenes"] == []


def test_mid_film_says_what_is_applied_and_what_is_hidden(client):
    film = Film.objects.get(slug="stalker-1979")
    data = client.get(GUIDE.format(film.slug), {"seen": "1:00"}).json()
    horizon = Horizon.parse(data["horizon"]["effective"])
    assert data["horizon"]["seen"] == "1:00"
    assert horizon.at <= Horizon.parse("1:00").at
    shown = film.scenes.up_to(horizon).count()
    assert len(data["scenes"]) == shown
    hidden = data["hidden"]["scenes"]
    assert hidden["count"] == film.scenes.count() - shown
    first_hidden = film.scenes.beyond(horizon).order_by("starts_at").first()
    assert Horizon.parse(hidden["next_reveal"]).at == first_hidden.starts_at
    assert data["hidden"]["ending"] == {
        "count": 1,
        "next_reveal": "end",
        "next_seen": "all",
    }
    assert data["ending"] is None
    # Hidden analyses: named, but only the time is sent.
    for theme in data["themes"]:
        assert (theme["analysis"] is None) == (theme["analysis_hidden"] is not None)


def test_all_sends_the_ending_and_hides_nothing(client):
    data = client.get(GUIDE.format("stalker-1979"), {"seen": "all"}).json()
    film = Film.objects.get(slug="stalker-1979")
    assert data["ending"]["html"] == film.ending_explained_html
    assert set(data["hidden"].values()) == {None}
    assert len(data["scenes"]) == film.scenes.count()


def test_a_time_past_the_end_is_all(client):
    data = client.get(GUIDE.format("stalker-1979"), {"seen": "9:00"}).json()
    assert data["horizon"]["seen"] == "all"
    assert data["ending"] is not None


def test_story_order(client):
    film = Film.objects.get(slug="stalker-1979")
    data = client.get(GUIDE.format(film.slug), {"seen": "all", "order": "story"}).json()
    assert data["horizon"]["order"] == "story"
    positions = [scene["story_position"] for scene in data["scenes"]]
    assert positions == sorted(positions)


def hidden_characters_with_credits():
    return (
        Character.objects.filter(reveals_at__isnull=False, credits__isnull=False)
        .select_related("film")
        .prefetch_related("credits__person")
    )


def test_credits_name_only_spoiler_free_characters(client):
    characters = list(hidden_characters_with_credits())
    assert characters, "a shipped guide credits a character revealed later"
    for character in characters:
        url = GUIDE.format(character.film.slug)
        for seen in ("none", "all"):  # as the overview's credits, at any horizon
            credits = client.get(url, {"seen": seen}).json()["credits"]
            for credit in credits:
                named = credit["character"]
                assert named is None or named["slug"] != character.slug


def test_person_names_only_spoiler_free_characters(client):
    for character in hidden_characters_with_credits():
        for credit in character.credits.all():
            url = f"/api/v1/people/{credit.person.slug}/"
            response = client.get(url)
            assert character.name not in json_text(response)
            roles = [
                role
                for film in response.json()["films"]
                if film["slug"] == character.film.slug
                for role in film["roles"]
            ]
            assert {"role": "cast", "note": credit.note, "character": None} in roles
            page = client.get(f"/people/{credit.person.slug}/").content.decode()
            assert character.name not in page


# --- The catalogue -----------------------------------------------------------------


def test_films_are_the_published_ones_with_spoiler_free_fields(client):
    draft = Film.objects.get(slug="stalker-1979")
    Film.objects.filter(pk=draft.pk).update(status=Film.Status.DRAFT)
    data = client.get("/api/v1/films/").json()
    slugs = [film["slug"] for film in data["results"]]
    assert "stalker-1979" not in slugs
    assert data["count"] == Film.objects.published().count() == len(slugs)
    assert client.get(GUIDE.format("stalker-1979")).status_code == 404
    assert set(data["results"][0]) >= {"title", "premise", "directors", "genres"}


def test_films_filter_like_the_catalogue(client):
    data = client.get("/api/v1/films/", {"director": "tarkovsky", "decade": "1970"})
    slugs = {film["slug"] for film in data.json()["results"]}
    assert "stalker-1979" in slugs
    assert all(1970 <= film["year"] <= 1979 for film in data.json()["results"])
    page = client.get("/films/", {"director": "tarkovsky", "decade": "1970"})
    for slug in slugs:
        assert f"/films/{slug}/" in page.content.decode()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"decade": "17"}, "decade"),
        ({"year_min": "1200"}, "year_min"),
        ({"director": "Nobody Atall"}, "director"),
        ({"genre": "no-such-genre"}, "genre"),
        ({"sort": "sideways"}, "sort"),
    ],
)
def test_bad_filters_are_400_with_the_catalogues_messages(client, params, field):
    response = client.get("/api/v1/films/", params)
    assert response.status_code == 400
    from films.filters import FilmFilter

    expected = FilmFilter(params, queryset=Film.objects.all()).errors[field]
    assert response.json()["errors"][field] == list(expected)


@pytest.mark.parametrize("page", ["x", "0", "99"])
def test_bad_page_is_400(client, page):
    response = client.get("/api/v1/films/", {"page": page})
    assert response.status_code == 400
    assert "page" in response.json()["detail"]


# --- Errors, methods, ETags ----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/films/stalker-1979/?seen=1:99",
        "/api/v1/films/stalker-1979/?seen=soon",
        "/api/v1/films/stalker-1979/?order=backwards",
        "/api/v1/search/?q=zone&seen=later",
        "/api/v1/search/?q=zone&kind=planets",
        "/api/v1/search/?q=zone&kind=scenes&page=x",
        "/api/v1/search/",
    ],
)
def test_bad_parameters_are_400_with_a_message(client, url):
    response = client.get(url)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "url", ["/api/v1/films/no-such-film/", "/api/v1/people/nobody/"]
)
def test_unknown_is_404_in_json(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert "slug" in response.json()["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/films/",
        "/api/v1/films/stalker-1979/",
        "/api/v1/people/andrei-tarkovsky/",
        "/api/v1/search/?q=zone",
    ],
)
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_api_is_read_only(client, url, method):
    response = getattr(client, method)(url)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert "read-only" in response.json()["detail"]
    assert client.head(url).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/films/?decade=1970",
        "/api/v1/films/stalker-1979/?seen=1:00",
        "/api/v1/people/andrei-tarkovsky/",
        "/api/v1/search/?q=zone&seen=all",
    ],
)
def test_strong_etags_and_304(client, url):
    first = client.get(url)
    etag = first["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again["ETag"] == etag
    assert client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_etag_follows_the_horizon_and_the_guide(client):
    url = GUIDE.format("stalker-1979")
    none, all_ = client.get(url)["ETag"], client.get(url, {"seen": "all"})["ETag"]
    assert none != all_
    film = Film.objects.get(slug="stalker-1979")
    film.title = "Stalker"  # any save bumps the guide's version
    film.save()
    assert client.get(url)["ETag"] != none


# --- Query counts, constant in guide size -------------------------------------------


@pytest.mark.parametrize("slug", shipped_films())
@pytest.mark.parametrize("seen", ["none", "1:00", "all"])
def test_guide_query_count(client, django_assert_num_queries, slug, seen):
    """A constant number of queries, whatever the guide's size and horizon.
    Made: the film's head; the film, and with it its facets and its scenes
    (who and what is in them too) from the guide's documents
    (films/documents.py); its credits, themes, characters (with credits and
    beats), analyses and plot. Kept (again, or another time that shows the
    same): the head only."""
    with django_assert_num_queries(8):
        made = client.get(GUIDE.format(slug), {"seen": seen})
    assert made.status_code == 200
    with django_assert_num_queries(1):
        again = client.get(GUIDE.format(slug), {"seen": seen})
    assert again.content == made.content
    if seen == "1:00":  # a second later shows the same guide
        with django_assert_num_queries(1):
            later = client.get(GUIDE.format(slug), {"seen": "1:00:01"})
        assert later.json()["horizon"]["seen"] == "1:00:01"
        assert later.json() == {
            **made.json(),
            "horizon": {**made.json()["horizon"], "seen": "1:00:01"},
        }


def test_kept_guides_are_the_guides_made_afresh(client, settings):
    """Every variant of a guide as a kept response — made at another horizon
    that shows the same, then read back with the asked one written in — is
    byte for byte what the API makes with the page cache off."""
    film = Film.objects.get(slug="stalker-1979")
    from films.pages import film_points

    points = film_points(film).reveal_points
    asked = ["none", "all", "0:00:01", "9:00"]
    for at in points:
        seconds = int(at.total_seconds())
        asked += [
            str(Horizon.at_time(at)),
            f"{seconds // 3600}:{seconds // 60 % 60:02d}",
        ]
        asked.append(str(Horizon.at_time(at + timedelta(seconds=1))))
    for order in ("screen", "story"):
        kept = {}
        for seen in asked:
            response = client.get(
                GUIDE.format(film.slug), {"seen": seen, "order": order}
            )
            assert response.status_code == 200, seen
            kept[seen] = response.content
        settings.PAGE_CACHE = False
        for seen in asked:
            fresh = client.get(GUIDE.format(film.slug), {"seen": seen, "order": order})
            assert fresh.content == kept[seen], (order, seen)
        settings.PAGE_CACHE = True


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/films/?decade=1970",
        "/api/v1/people/andrei-tarkovsky/",
        "/api/v1/search/?q=stalker&seen=all",
    ],
)
def test_kept_responses_are_the_responses_made_afresh(client, settings, url):
    client.get(url)
    kept = client.get(url)
    settings.PAGE_CACHE = False
    fresh = client.get(url)
    assert kept.status_code == fresh.status_code == 200
    assert kept.content == fresh.content
    assert kept["ETag"] == fresh["ETag"]


def test_an_edit_is_in_the_next_response(client):
    """Kept responses are keyed by the versions they show: an editor's
    change is in the very next response, on every endpoint."""
    from films.models import Person

    urls = [
        GUIDE.format("stalker-1979") + "?seen=all",
        "/api/v1/films/",
        "/api/v1/people/andrei-tarkovsky/",
        "/api/v1/search/?q=stalker",
    ]
    for url in urls:
        assert "Stalker, revised" not in client.get(url).text
    film = Film.objects.get(slug="stalker-1979")
    film.title = "Stalker, revised"
    film.save()
    for url in urls:
        assert "Stalker, revised" in client.get(url).text, url
    person = Person.objects.get(slug="andrei-tarkovsky")
    person.name = "Andrei A. Tarkovsky"
    person.save()
    assert "Andrei A. Tarkovsky" in client.get(urls[2]).text
    assert "Andrei A. Tarkovsky" in client.get(urls[0]).text


# The catalogue's version, then search() itself: on PostgreSQL one
# statement; on SQLite its FTS5 statements (films/search_index.py). A horizon
# other than none costs more: the published films it applies to.
SEARCH_QUERIES = {"postgresql": (2, 3), "sqlite": (6, 8)}


@pytest.mark.parametrize(
    ("url", "count"),
    [
        ("/api/v1/films/", 8),
        ("/api/v1/films/?decade=1970&director=tarkovsky", 9),
        ("/api/v1/films/?page=1&sort=-year", 8),
        ("/api/v1/people/andrei-tarkovsky/", 3),
        ("/api/v1/people/alisa-freindlich/", 3),
        ("/api/v1/search/?q=zone", "search"),
        ("/api/v1/search/?q=zone&seen=all", "search+1"),
        ("/api/v1/search/?q=zone&seen=1:00", "search+1"),
    ],
)
def test_query_counts(client, django_assert_num_queries, url, count):
    if isinstance(count, str):
        count = SEARCH_QUERIES[connection.vendor][count.count("+1")]
    with django_assert_num_queries(count):
        made = client.get(url)
    assert made.status_code == 200
    with django_assert_num_queries(1):  # kept: the catalogue's version only
        again = client.get(url)
    assert again.content == made.content


# --- The schema and the docs ----------------------------------------------------------


def test_openapi_schema_validates(client):
    response = client.get(reverse("api:openapi-json"))
    schema = json.loads(response.content)
    validate(schema)
    assert set(schema["paths"]) == {
        "/api/v1/films/",
        "/api/v1/films/{slug}/",
        "/api/v1/people/{slug}/",
        "/api/v1/search/",
    }
    for path in schema["paths"].values():
        assert set(path) <= {"get", "head"}


def test_docs_use_our_static_files(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in body
    assert "cdn" not in body.lower()
