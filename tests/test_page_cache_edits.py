"""The page cache after edits of every kind, and what it sends (found by a review)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from films.models import Film, Genre, Scene
from tests.factories import build_guide, make_film, make_theme

pytestmark = pytest.mark.django_db

TIMELINE = "/films/guide-2000/timeline/"


@pytest.fixture
def shared_cache(settings):
    settings.PAGE_CACHE_SHARED = True


# --- stale content -------------------------------------------------------------


def test_deleting_a_genre_is_seen_on_the_film_page(client):
    film = build_guide(5)
    genre = Genre.objects.create(slug="drama", name="GENRE-DRAMA")
    film.genres.add(genre)
    assert "GENRE-DRAMA" in client.get("/films/guide-2000/").text
    genre.delete()
    assert "GENRE-DRAMA" not in client.get("/films/guide-2000/").text


def test_deleting_a_theme_tagged_on_scenes_is_seen_on_the_timeline(client):
    film = build_guide(5)
    tag = make_theme("dread", name="THEME-DREAD")
    Scene.objects.get(film=film, screen_position=1).themes.add(tag)
    assert "THEME-DREAD" in client.get(TIMELINE, {"seen": "all"}).text
    tag.delete()
    assert "THEME-DREAD" not in client.get(TIMELINE, {"seen": "all"}).text


def test_renaming_a_recommended_film_unlinks_it_from_other_guides(client):
    build_guide(5)
    target = make_film(slug="mirror-1975", title="Mirror", year=1975)
    assert 'href="/films/mirror-1975/"' in client.get("/films/guide-2000/next/").text
    target.slug = "zerkalo-1975"
    target.save()
    assert client.get("/films/mirror-1975/").status_code == 404
    # The cached "next" page still links the old, now dead, address.
    assert (
        'href="/films/mirror-1975/"' not in client.get("/films/guide-2000/next/").text
    )


def test_with_shared_heads_a_renamed_film_leaves_its_old_address(
    client, shared_cache, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        film = build_guide(5)
    assert client.get(TIMELINE).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        film.slug = "renamed-2000"
        film.status = Film.Status.PUBLISHED
        film.save()
    assert client.get("/films/renamed-2000/timeline/").status_code == 200
    assert client.get(TIMELINE).status_code == 404


def test_with_shared_heads_a_renamed_then_unpublished_film_is_gone(
    client, shared_cache, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        film = build_guide(5)
    assert client.get(TIMELINE, {"seen": "all"}).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        film.slug = "renamed-2000"
        film.save()
        film.status = Film.Status.DRAFT
        film.save()
    # The draft must not be served at either address.
    assert client.get(TIMELINE, {"seen": "all"}).status_code == 404


# --- horizon carried by links --------------------------------------------------


def test_navigation_keeps_the_visitors_own_time(client):
    build_guide(5)
    for _ in range(2):  # built, then from the page cache
        response = Client().get(TIMELINE, {"seen": "0:07"})
        # Links carry the visitor's own time, not the page's effective 0:05.
        for page in ["", "characters/", "themes/", "ending/", "next/"]:
            assert f'href="/films/guide-2000/{page}?seen=0%3A07"' in response.text
        assert "seen=0%3A05" not in response.text


def test_a_response_that_sets_the_cookie_is_private_and_a_public_one_sets_none(
    client,
):
    build_guide(5)
    first = client.get(TIMELINE, {"seen": "all"})
    assert first.cookies["seen_guide-2000"].value == "all"
    assert (
        "private" in first["Cache-Control"] and "public" not in first["Cache-Control"]
    )
    again = client.get(TIMELINE, {"seen": "all"})
    assert "public" in again["Cache-Control"]
    assert "seen_guide-2000" not in again.cookies


# --- escaping ------------------------------------------------------------------

XSS = '"><script>alert(1)</script>'


@pytest.mark.parametrize(
    "url,params",
    [
        (
            "/films/",
            {
                "q": XSS,
                "director": XSS,
                "year_min": XSS,
                "genre": XSS,
                "sort": XSS,
                "page": XSS,
            },
        ),
        ("/search/", {"q": XSS, "kind": XSS, "page": XSS}),
        (TIMELINE, {"seen": XSS[:19], "order": XSS}),
        ("/films/guide-2000/", {"seen": "<b>x"}),
    ],
)
def test_no_raw_markup_from_the_query(client, url, params):
    build_guide(5)
    text = client.get(url, params).text
    assert "<script>alert" not in text
    assert "<b>x" not in text


def test_editor_markup_is_sanitised_on_every_path(client):
    film = build_guide(5)
    film.premise = "Hi <script>alert(1)</script> <img src=x onerror=alert(2)> [a](javascript:alert(3))"
    film.title = "<script>alert(4)</script>"
    film.save()
    text = client.get("/films/guide-2000/").text + client.get("/").text
    assert (
        "<script>alert" not in text
        and "onerror" not in text
        and "javascript:" not in text
    )


# --- HTTP validators -------------------------------------------------------------


def test_if_modified_since_alone_does_not_hide_a_change(client):
    film = build_guide(5)
    # Changed a while ago (Last-Modified is left out just after a change).
    Film.objects.filter(pk=film.pk).update(
        changed_at=timezone.now() - timedelta(hours=1)
    )
    first = client.get("/films/guide-2000/", {"seen": "all"})
    assert "The Director" in first.text
    person = film.credits.get(role="director").person
    person.name = "Renamed Director"
    person.save()  # a new version; film.updated_at unchanged
    again = client.get(
        "/films/guide-2000/",
        {"seen": "all"},
        HTTP_IF_MODIFIED_SINCE=first["Last-Modified"],
    )
    assert again.status_code == 200, (again.status_code, first["Last-Modified"])


# --- admin history paths -----------------------------------------------------------

from tests.admin_helpers import form_data  # noqa: E402
from tests.test_admin_history import build_guide as history_guide  # noqa: E402
from tests.test_admin_history import editor, editor_client, film_versions, save_change  # noqa: E402,F401


def test_a_revert_is_seen_on_the_public_page(editor_client):  # noqa: F811
    film = history_guide()
    save_change(editor_client, film, scenes__0__summary="GOOD-SUMMARY")
    good = film_versions(film).first()
    save_change(editor_client, film, scenes__0__summary="BAD-SUMMARY")
    visitor = Client()
    url = "/films/stalker-1979/timeline/?seen=all"
    assert "BAD-SUMMARY" in visitor.get(url).text
    history = f"/admin/films/film/{film.pk}/history/{good.pk}/"
    preview = editor_client.get(history)
    assert "BAD-SUMMARY" in visitor.get(url).text  # a preview changes nothing
    assert editor_client.post(history, form_data(preview)).status_code == 302
    assert "GOOD-SUMMARY" in visitor.get(url).text


def test_a_recovered_film_is_served_again(editor_client):  # noqa: F811
    film = history_guide()
    visitor = Client()
    assert visitor.get("/films/stalker-1979/").status_code == 200
    pk = film.pk
    editor_client.post(f"/admin/films/film/{pk}/delete/", {"post": "yes"})
    assert visitor.get("/films/stalker-1979/").status_code == 404
    from reversion.models import Version

    version = Version.objects.get_deleted(Film).get(object_id=str(pk))
    url = f"/admin/films/film/recover/{version.pk}/"
    assert editor_client.post(url, form_data(editor_client.get(url))).status_code == 302
    assert visitor.get("/films/stalker-1979/").status_code == 200


def test_a_page_built_from_an_older_guide_than_its_head_is_not_kept(
    client, shared_cache, django_capture_on_commit_callbacks, django_assert_num_queries
):
    # As when a read replica lags: the shared cache already has the writer's
    # newer version, the rows read are older. Never cache them under it.
    from django.core.cache import cache

    from films.pages import head_key

    with django_capture_on_commit_callbacks(execute=True):
        build_guide(5)
    client.get(TIMELINE, {"seen": "all"})
    head = cache.get(head_key("guide-2000"))
    cache.set(head_key("guide-2000"), {**head, "version": head["version"] + 1})
    first = client.get(TIMELINE, {"seen": "all"})
    assert first.status_code == 200 and "SCENE-5-SECRET" in first.text
    # Built again — nothing was kept: the rest of the film with its documents.
    with django_assert_num_queries(1):
        client.get(TIMELINE, {"seen": "all"})
