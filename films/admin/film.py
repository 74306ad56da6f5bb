"""The film's admin: its list (filters, counts, publish and unpublish), its
page with every inline, history (revisions, compare, recover) and the guide
check.
"""

from datetime import timedelta

import reversion
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Prefetch, prefetch_related_objects
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import capfirst
from reversion.admin import VersionAdmin
from reversion.models import Version

from films.admin.forms import (
    POSITION_FIELDS,
    POSITION_OFFSET,
    RevealScenesMixin,
    film_scenes,
    move_positions_aside,
)
from films.admin.history import compare_guides, record_film
from films.admin.inlines import (
    SCENES_EDITED_ON_FILM_PAGE,
    CharacterInline,
    CreditInline,
    FilmThemeInline,
    PlotSectionInline,
    RecommendationInline,
    SceneInline,
)
from films.admin.widgets import short_text
from films.derived import bump_films
from films.guide_checks import guide_problems
from films.models import Character, CharacterBeat, Credit, Film, PlotSection, Scene
from films.spoilers import format_timecode


class FilmForm(forms.ModelForm):
    class Meta:
        model = Film
        fields = [
            "title",
            "year",
            "original_title",
            "other_titles",
            "slug",
            "status",
            "featured",
            "runtime",
            "timing_release",
            "timing_fps",
            "languages",
            "countries",
            "genres",
            "production_companies",
            "based_on",
            "premise",
            "ending_explained",
        ]

    # Set when the page lists the scenes rather than editing them (see
    # FilmAdmin.scenes_listed): then no scene formset checks them against a
    # new runtime, and this form does.
    check_stored_scenes = False

    def clean(self):
        cleaned = super().clean()
        runtime = cleaned.get("runtime")
        film = self.instance
        if film.pk and runtime and self.check_stored_scenes:
            late = [
                s
                for s in film_scenes(film)
                if s["ends_at"] > timedelta(minutes=runtime)
            ]
            if late:
                names = ", ".join(
                    f"{s['position']}. {s['title']} (ends {format_timecode(s['ends_at'])})"
                    for s in late
                )
                self.add_error(
                    "runtime",
                    f"These scenes would end after the film's end: {names}. Change "
                    "them first, on their own pages or with all scenes on this page.",
                )
        if film.pk and runtime:
            # Character beats are edited on the character's page; a shorter film
            # must not leave one revealing after its end.
            late = CharacterBeat.objects.filter(
                character__film=film, reveals_at__gt=timedelta(minutes=runtime)
            ).select_related("character")
            if late:
                names = ", ".join(
                    f"{beat.character.name} (beat {beat.position}, "
                    f"{format_timecode(beat.reveals_at)})"
                    for beat in late
                )
                self.add_error(
                    "runtime",
                    f"These character beats would reveal after the film's end: "
                    f"{names}. Change them on the character's page first.",
                )
        return cleaned


class DecadeFilter(admin.SimpleListFilter):
    title = "decade"
    parameter_name = "decade"

    def lookups(self, request, model_admin):
        years = Film.objects.order_by().values_list("year", flat=True).distinct()
        decades = sorted({year // 10 * 10 for year in years})
        return [(str(decade), f"{decade}s") for decade in decades]

    def queryset(self, request, queryset):
        if self.value() and self.value().isdigit():
            start = int(self.value())
            return queryset.filter(year__gte=start, year__lt=start + 10)
        return queryset


class FilmChangeList(ChangeList):
    """The list of films: one query for the page's directors, whatever its size."""

    def get_results(self, request):
        super().get_results(request)
        self.result_list = list(self.result_list)
        prefetch_related_objects(
            self.result_list,
            Prefetch(
                "credits",
                queryset=Credit.objects.filter(
                    role=Credit.Role.DIRECTOR
                ).select_related("person"),
                to_attr="director_credits",
            ),
        )


@admin.register(Film)
class FilmAdmin(RevealScenesMixin, VersionAdmin):
    form = FilmForm
    list_display = [
        "title",
        "year",
        "directors",
        "status",
        "scene_count",
        "updated_at",
    ]
    list_filter = ["status", DecadeFilter, "languages"]
    search_fields = [
        "title",
        "original_title",
        "credits__person__name",
        "credits__person__original_name",
    ]
    prepopulated_fields = {"slug": ["title", "year"]}
    autocomplete_fields = ["genres", "languages", "countries"]
    readonly_fields = ["created_at", "updated_at"]
    formfield_overrides = short_text(4)
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("title", "year"),
                    "original_title",
                    "other_titles",
                    "slug",
                    ("status", "featured"),
                    "runtime",
                    ("timing_release", "timing_fps"),
                ]
            },
        ),
        (
            "Facts",
            {
                "fields": [
                    "languages",
                    "countries",
                    "genres",
                    "production_companies",
                    "based_on",
                ]
            },
        ),
        ("Text", {"fields": ["premise", "ending_explained"]}),
        ("Record", {"fields": [("created_at", "updated_at")], "classes": ["collapse"]}),
    ]
    inlines = [
        CreditInline,
        CharacterInline,
        SceneInline,
        PlotSectionInline,
        FilmThemeInline,
        RecommendationInline,
    ]
    actions = ["publish", "unpublish", "check_guides"]
    # Explicit: the annotated list would otherwise lose the model's ordering.
    ordering = ["title", "year"]
    save_on_top = True
    history_latest_first = True
    object_history_template = "admin/films/film/object_history.html"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs.annotate(scene_count=Count("scenes", distinct=True))

    # A long timeline is listed, each scene edited on its own page, so the
    # film's page stays a size an editor can find their way around;
    # ?scenes=edit brings every scene onto it (to renumber several at once).

    def scenes_listed(self, request, obj):
        return (
            obj is not None
            and len(film_scenes(obj)) > SCENES_EDITED_ON_FILM_PAGE
            and request.GET.get("scenes") != "edit"
        )

    def get_inlines(self, request, obj):
        inlines = super().get_inlines(request, obj)
        if self.scenes_listed(request, obj):
            return [inline for inline in inlines if inline is not SceneInline]
        return inlines

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if self.scenes_listed(request, obj):
            form = type(form.__name__, (form,), {"check_stored_scenes": True})
        return form

    def render_change_form(self, request, context, add=False, change=False, **kwargs):
        obj = kwargs.get("obj")
        if obj is not None and obj.pk is not None:
            scenes = film_scenes(obj)
            context["scene_count"] = len(scenes)
            context["scene_list"] = scenes if self.scenes_listed(request, obj) else None
            context["scenes_edit_url"] = (
                "?scenes=edit" if len(scenes) > SCENES_EDITED_ON_FILM_PAGE else None
            )
        return super().render_change_form(request, context, add, change, **kwargs)

    def get_changelist(self, request, **kwargs):
        return FilmChangeList

    @admin.display(description="director")
    def directors(self, film):
        return ", ".join(credit.person.name for credit in film.director_credits)

    @admin.display(description="scenes", ordering="scene_count")
    def scene_count(self, film):
        return film.scene_count

    # Publishing. Each film gets its own revision, so reverting one film
    # never reverts another: VersionAdmin's single list-wide revision is skipped.

    def changelist_view(self, request, extra_context=None):
        context = {
            "has_change_permission": self.has_change_permission(request),
            **(extra_context or {}),
        }
        return admin.ModelAdmin.changelist_view(self, request, context)

    @admin.action(description="Publish the selected films", permissions=["change"])
    def publish(self, request, queryset):
        self._set_status(request, queryset, Film.Status.PUBLISHED, "Published.")

    @admin.action(
        description="Unpublish the selected films (back to draft)",
        permissions=["change"],
    )
    def unpublish(self, request, queryset):
        self._set_status(request, queryset, Film.Status.DRAFT, "Unpublished.")

    def _set_status(self, request, queryset, status, comment):
        films = [film for film in queryset if film.status != status]
        for film in films:
            with reversion.create_revision():
                reversion.set_user(request.user)
                film.status = status
                film.save(update_fields=["status", "updated_at"])
                self.log_change(request, film, comment)
        word = "published" if status == Film.Status.PUBLISHED else "back to draft"
        self.message_user(
            request,
            f"{len(films)} film{'s' if len(films) != 1 else ''} {word}.",
            messages.SUCCESS,
        )

    # Deleting. The last revision before a deletion is the whole guide as it
    # stood, whatever path its rows arrived by (the loader, a fixture), so
    # "Recover deleted films" brings back exactly what was deleted.

    def delete_model(self, request, obj):
        record_film(request, obj, "Deleted.")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for film in queryset:
            record_film(request, film, "Deleted.")
        super().delete_queryset(request, queryset)

    # Reverting. Rows are restored one by one; positions that the revision
    # swaps would collide, so the film's positioned rows are first moved out of
    # the way (inside the revert's transaction: a preview leaves no trace).

    def revision_view(self, request, object_id, version_id, extra_context=None):
        film = self.get_object(request, unquote(object_id))
        if film is None:
            return super().revision_view(request, object_id, version_id, extra_context)
        with transaction.atomic():
            move_positions_aside(film.scenes.all(), POSITION_FIELDS[Scene])
            move_positions_aside(film.plot_sections.all(), POSITION_FIELDS[PlotSection])
            move_positions_aside(
                CharacterBeat.objects.filter(character__film=film),
                POSITION_FIELDS[CharacterBeat],
            )
            response = super().revision_view(
                request, object_id, version_id, extra_context
            )
            # A revert that failed redirects too; then positions are still aside.
            still_aside = (
                film.scenes.filter(screen_position__gt=POSITION_OFFSET).exists()
                or film.plot_sections.filter(position__gt=POSITION_OFFSET).exists()
            )
            if request.method != "POST" or response.status_code != 302 or still_aside:
                transaction.set_rollback(True)
            else:
                # "Last updated" is now, not the time the revision was made.
                bump_films([film.pk], touch=True)
        return response

    def recover_view(self, request, version_id, extra_context=None):
        response = super().recover_view(request, version_id, extra_context)
        if request.method == "POST" and response.status_code == 302:
            version = Version.objects.filter(pk=version_id).first()
            if version is not None:
                bump_films([int(version.object_id)], touch=True)
        return response

    # Comparing two revisions of the whole guide.

    def get_urls(self):
        compare = path(
            "<path:object_id>/history/compare/",
            self.admin_site.admin_view(self.compare_view),
            name="films_film_compare",
        )
        check = path(
            "<path:object_id>/check/",
            self.admin_site.admin_view(self.check_view),
            name="films_film_check",
        )
        return [compare, check, *super().get_urls()]

    # Checking guides: the rules saving enforces, and what a complete guide
    # needs, over the guide as stored (films.guide_checks.guide_problems).

    @admin.action(description="Check the selected guides", permissions=["view"])
    def check_guides(self, request, queryset):
        return self._check_response(request, list(queryset.order_by("title", "year")))

    def check_view(self, request, object_id):
        film = self.get_object(request, unquote(object_id))
        if film is None:
            raise Http404("No such film.")
        if not self.has_view_or_change_permission(request, film):
            raise PermissionDenied
        return self._check_response(request, [film])

    def _check_response(self, request, films):
        reports = [
            {
                "film": film,
                "url": admin_url(film),
                "problems": [
                    {
                        "label": problem_label(problem.obj),
                        "url": admin_url(problem.obj),
                        "field": problem.field_label,
                        "message": problem.message,
                    }
                    for problem in guide_problems(film)
                ],
            }
            for film in films
        ]
        title = (
            f"Check of {films[0]}"
            if len(films) == 1
            else f"Check of {len(films)} guides"
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "reports": reports,
            "original": films[0] if len(films) == 1 else None,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/films/film/check.html", context)

    def compare_view(self, request, object_id):
        film = self.get_object(request, unquote(object_id))
        if film is None:
            raise Http404("No such film.")
        if not self.has_view_or_change_permission(request, film):
            raise PermissionDenied
        versions = Version.objects.get_for_object(film).select_related(
            "revision", "revision__user"
        )
        try:
            old = get_object_or_404(versions, revision_id=int(request.GET["old"]))
            new = get_object_or_404(versions, revision_id=int(request.GET["new"]))
        except (KeyError, ValueError):
            raise Http404("Choose two versions to compare.") from None
        if old.revision.date_created > new.revision.date_created:
            old, new = new, old
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": film,
            "title": f"Compare versions of {film}",
            "old": old,
            "new": new,
            "changes": compare_guides(old.revision, new.revision),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/films/film/compare.html", context)


def admin_url(obj):
    """Where an editor fixes ``obj``: its own page, or the page it is edited on."""
    if isinstance(obj, CharacterBeat):
        obj = obj.character
    if not isinstance(obj, (Film, Character, Scene)):
        obj = obj.film
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def problem_label(obj):
    return f"{capfirst(obj._meta.verbose_name)} “{obj}”"
