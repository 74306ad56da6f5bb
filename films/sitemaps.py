"""The sitemap: every published guide's pages, its spoiler-free characters,
the people and themes they link to — URLs with no ``?seen=``, so a crawler
reads what a new visitor does (nothing seen), and nothing in the sitemap
itself (URLs, dates) is tied to a point in a film."""

from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from films.models import Character, Film, Person, Theme

FILM_PAGES = ["detail", "timeline", "characters", "themes", "ending", "next"]


class FilmPagesSitemap(Sitemap):
    """Each published film's pages, last modified when its guide changed."""

    limit = 5000

    def items(self):
        films = Film.objects.published().order_by("slug")
        return [
            (page, film)
            for film in films.only("slug", "updated_at", "changed_at")
            for page in FILM_PAGES
        ]

    def location(self, item):
        page, film = item
        return reverse(f"films:{page}", args=[film.slug])

    def lastmod(self, item):
        _, film = item
        return film.changed_at or film.updated_at

    def priority(self, item):
        return 0.8 if item[0] == "detail" else 0.5


class CharacterSitemap(Sitemap):
    """Characters a new visitor may meet: a later one's name is a spoiler."""

    def items(self):
        return (
            Character.objects.spoiler_free()
            .filter(film__status=Film.Status.PUBLISHED)
            .select_related("film")
            .only("slug", "film__slug", "film__updated_at", "film__changed_at")
            .order_by("film__slug", "position", "slug")
        )

    def lastmod(self, character):
        return character.film.changed_at or character.film.updated_at


class PersonSitemap(Sitemap):
    def items(self):
        return (
            Person.objects.filter(credits__film__status=Film.Status.PUBLISHED)
            .distinct()
            .only("slug")
            .order_by("slug")
        )


class ThemeSitemap(Sitemap):
    def items(self):
        return (
            Theme.objects.filter(film_themes__film__status=Film.Status.PUBLISHED)
            .distinct()
            .only("slug")
            .order_by("slug")
        )


SITEMAPS = {
    "films": FilmPagesSitemap,
    "characters": CharacterSitemap,
    "people": PersonSitemap,
    "themes": ThemeSitemap,
}
