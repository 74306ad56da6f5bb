"""The editors' admin. Validation lives in the models' ``clean()``."""

from django import forms
from django.contrib import admin

from films.models import (
    Character,
    CharacterBeat,
    Country,
    Credit,
    Film,
    FilmTheme,
    Genre,
    Language,
    Person,
    PlotSection,
    Recommendation,
    Scene,
    Theme,
)


@admin.register(Country, Language)
class CodeAdmin(admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]


@admin.register(Genre)
class GenreAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["name", "original_name", "born"]
    search_fields = ["name", "original_name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Theme)
class ThemeAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "description"]
    prepopulated_fields = {"slug": ["name"]}


class CreditInline(admin.TabularInline):
    model = Credit
    extra = 0
    autocomplete_fields = ["person"]
    fields = ["position", "role", "person", "character", "note"]


class PlotSectionInline(admin.StackedInline):
    model = PlotSection
    extra = 0


class FilmThemeInline(admin.StackedInline):
    model = FilmTheme
    extra = 0
    autocomplete_fields = ["theme"]


class RecommendationInline(admin.StackedInline):
    model = Recommendation
    extra = 0


@admin.register(Film)
class FilmAdmin(admin.ModelAdmin):
    list_display = ["title", "year", "status", "featured", "updated_at"]
    list_filter = ["status", "featured", "languages"]
    search_fields = ["title", "original_title", "credits__person__name"]
    prepopulated_fields = {"slug": ["title", "year"]}
    autocomplete_fields = ["genres", "languages", "countries"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [CreditInline, PlotSectionInline, FilmThemeInline, RecommendationInline]


class CharacterBeatInline(admin.TabularInline):
    model = CharacterBeat
    extra = 0


@admin.register(Character)
class CharacterAdmin(admin.ModelAdmin):
    list_display = ["name", "film", "is_main", "reveals_at"]
    list_filter = ["is_main", "film"]
    list_select_related = ["film"]
    search_fields = ["name", "description", "film__title"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [CharacterBeatInline]


class SceneForm(forms.ModelForm):
    class Meta:
        model = Scene
        fields = [
            "film",
            "slug",
            "screen_position",
            "starts_at",
            "ends_at",
            "story_position",
            "story_label",
            "title",
            "summary",
            "location",
            "characters",
            "themes",
        ]

    def clean(self):
        cleaned = super().clean()
        if "characters" in cleaned and self.instance.film_id:
            self.instance.clean_characters(cleaned["characters"])
        return cleaned


@admin.register(Scene)
class SceneAdmin(admin.ModelAdmin):
    form = SceneForm
    list_display = [
        "title",
        "film",
        "screen_position",
        "starts_at",
        "ends_at",
        "story_position",
    ]
    list_filter = ["film"]
    list_select_related = ["film"]
    search_fields = ["title", "summary", "location"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["characters", "themes"]


@admin.register(Credit)
class CreditAdmin(admin.ModelAdmin):
    list_display = ["person", "role", "film", "character"]
    list_filter = ["role"]
    list_select_related = ["person", "film", "character"]
    search_fields = ["person__name", "film__title"]
    autocomplete_fields = ["person", "film"]


@admin.register(FilmTheme)
class FilmThemeAdmin(admin.ModelAdmin):
    list_display = ["theme", "film", "reveals_at"]
    list_select_related = ["theme", "film"]
    search_fields = ["theme__name", "film__title"]


@admin.register(PlotSection, Recommendation, CharacterBeat)
class PlainAdmin(admin.ModelAdmin):
    pass
