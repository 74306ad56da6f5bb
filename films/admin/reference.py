"""People, themes and the reference data (genres, countries, languages):
plain lists with search and counts, under history.
"""

from django.contrib import admin
from django.db.models import Count
from reversion.admin import VersionAdmin

from films.admin.widgets import short_text
from films.models import Country, Genre, Language, Person, Theme


@admin.register(Person)
class PersonAdmin(VersionAdmin):
    list_display = ["name", "original_name", "born", "film_count"]
    search_fields = ["name", "original_name", "slug"]
    ordering = ["name"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(film_count=Count("credits__film", distinct=True))
        )

    @admin.display(description="films", ordering="film_count")
    def film_count(self, person):
        return person.film_count


@admin.register(Theme)
class ThemeAdmin(VersionAdmin):
    list_display = ["name", "slug", "film_count", "scene_count"]
    search_fields = ["name", "description"]
    ordering = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    formfield_overrides = short_text(4)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                film_count=Count("film_themes", distinct=True),
                scene_count=Count("scenes", distinct=True),
            )
        )

    @admin.display(description="films", ordering="film_count")
    def film_count(self, theme):
        return theme.film_count

    @admin.display(description="scenes", ordering="scene_count")
    def scene_count(self, theme):
        return theme.scene_count


@admin.register(Genre)
class GenreAdmin(VersionAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Country, Language)
class CodeAdmin(VersionAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]
