"""Characters and scenes edited on pages of their own: each save is recorded
in its film's history, and the page leads back to the film.
"""

import reversion
from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.text import capfirst

from films.admin.forms import (
    PositionedFormSet,
    RevealPointForm,
    RevealPositionedForm,
    RevealScenesMixin,
    SceneFormSet,
)
from films.admin.history import record_film
from films.admin.inlines import SCENE_FIELDS, GuideInline
from films.admin.widgets import TIMECODE_OVERRIDES, plain_select, short_text
from films.guide_checks import timeline_errors
from films.models import Character, CharacterBeat, Film, Scene
from films.spoilers import format_timecode


class FilmPartAdmin(admin.ModelAdmin):
    """A part of a guide edited on its own page (a character's arc, one scene).

    Its history is its film's: each save records the whole guide as a revision
    of the film, where editors compare, revert and recover.
    """

    formfield_overrides = {**TIMECODE_OVERRIDES, **short_text(4)}

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with reversion.create_revision():
            reversion.set_user(request.user)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        reversion.add_to_revision(form.instance.film)

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        self._comment(obj, entry.get_change_message() or "Added.")
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        self._comment(obj, entry.get_change_message() or "No fields changed.")
        return entry

    def _comment(self, obj, message):
        if reversion.is_active():
            name = capfirst(self.opts.verbose_name)
            reversion.set_comment(f"{name} “{obj}”: {message}")

    def delete_model(self, request, obj):
        film = obj.film
        super().delete_model(request, obj)
        record_film(request, film, f"Deleted {self.opts.verbose_name} “{obj}”.")

    def delete_queryset(self, request, queryset):
        parts = list(queryset.select_related("film"))
        super().delete_queryset(request, queryset)
        for film in {part.film for part in parts}:
            names = ", ".join(f"“{p}”" for p in parts if p.film == film)
            record_film(
                request, film, f"Deleted {self.opts.verbose_name_plural} {names}."
            )


class CharacterBeatInline(GuideInline, admin.TabularInline):
    model = CharacterBeat
    form = RevealPositionedForm
    formset = PositionedFormSet
    fields = ["position", "text", "reveals_at", "reveals_in_scene"]


class CharacterForm(RevealPointForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_reveal_scenes(self.instance.film if self.instance.film_id else None)


@admin.register(Character)
class CharacterAdmin(RevealScenesMixin, FilmPartAdmin):
    form = CharacterForm
    list_display = ["name", "film", "is_main", "revealed_at", "scene_count"]
    list_filter = ["is_main", "film"]
    list_select_related = ["film"]
    search_fields = ["name", "description", "film__title", "credits__person__name"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["film"]
    inlines = [CharacterBeatInline]
    ordering = ["film", "position", "name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(scene_count=Count("scenes"))

    @admin.display(description="revealed at", ordering="reveals_at")
    def revealed_at(self, character):
        return format_timecode(character.reveals_at) if character.reveals_at else "—"

    @admin.display(description="scenes", ordering="scene_count")
    def scene_count(self, character):
        return character.scene_count


class SceneAdminForm(forms.ModelForm):
    """One scene on its own page: its rules, its characters, and its timeline."""

    class Meta:
        model = Scene
        fields = ["film", *SCENE_FIELDS]

    def clean(self):
        cleaned = super().clean()
        film = cleaned.get("film")
        if film is None:
            return cleaned
        # The scene as it would be saved; self.instance is updated only later.
        scene = Scene(pk=self.instance.pk, film=film)
        for name in (*SceneFormSet.timeline_fields, "title"):
            setattr(scene, name, cleaned.get(name))
        try:
            scene.clean_characters(cleaned.get("characters", []))
        except ValidationError as error:
            self.add_error(None, error)
        if any(getattr(scene, f) is None for f in SceneFormSet.timeline_fields):
            return cleaned
        others = list(film.scenes.exclude(pk=scene.pk))
        before = {(o.pk, f, m) for o, f, m in timeline_errors(film, others)}
        for other, field, message in timeline_errors(film, [*others, scene]):
            if other is scene:
                if message not in self.errors.get(field, []):
                    self.add_error(field, message)
            elif (other.pk, field, message) not in before:
                self.add_error(None, f"Scene “{other.title}”: {message}")
        return cleaned


@admin.register(Scene)
class SceneAdmin(FilmPartAdmin):
    form = SceneAdminForm
    list_display = [
        "title",
        "film",
        "screen_position",
        "starts_at_display",
        "story_position",
        "location",
    ]
    list_select_related = ["film"]
    search_fields = ["title", "summary", "location", "film__title"]
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["film", "themes"]
    ordering = ["film", "screen_position"]

    @admin.display(description="starts at", ordering="starts_at")
    def starts_at_display(self, scene):
        return format_timecode(scene.starts_at)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        film_id = obj.film_id if obj is not None else request.GET.get("film", "")
        if str(film_id).isdigit():
            plain_select(
                form.base_fields["characters"],
                Character.objects.filter(film_id=film_id),
                True,
            )
        return form

    # "Save" goes back to the film's list of scenes, where the editor came from.

    def response_post_save_add(self, request, obj):
        return self._back_to_film(request, obj)

    def response_post_save_change(self, request, obj):
        return self._back_to_film(request, obj)

    def _back_to_film(self, request, obj):
        if not admin.site._registry[Film].has_view_or_change_permission(request):
            return super().response_post_save_change(request, obj)
        url = reverse("admin:films_film_change", args=[obj.film_id])
        return HttpResponseRedirect(f"{url}#scene-list")
