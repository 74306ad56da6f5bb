"""The editors' admin: a whole guide on one screen, validated, with history.

A film's page holds its credits, characters, scenes, plot, themes and
recommendations. One row's rules live in the models' ``clean()``; the rules
about the rows taken together (the timeline, reveal points inside the film)
are checked here by the inline formsets, through ``films.guide_checks``, so a
wrong guide is shown with its message on the row and field at fault and
nothing is saved.

History is django-reversion: every save on the film page records the whole
guide (the film and every row that hangs off it) as one revision, with who
and when, so a revision can be compared with another, reverted to, or used to
recover a deleted film with all its rows.
"""

import difflib
import re
from datetime import timedelta

import reversion
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import MinValueValidator
from django.db import models, transaction
from django.db.models import Count, F, Prefetch, prefetch_related_objects
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import capfirst
from reversion.admin import VersionAdmin
from reversion.models import Version

from films.derived import bump_films
from films.guide_checks import guide_problems, timeline_errors
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
from films.spoilers import format_timecode

# --- History -----------------------------------------------------------------

# A film's revision holds every row of its guide, so reverting or recovering
# it brings them all back together.
GUIDE_PARTS = [
    "credits",
    "characters",
    "scenes",
    "plot_sections",
    "film_themes",
    "recommendations",
]

for _model in (
    Country,
    Language,
    Genre,
    Person,
    Theme,
    Credit,
    Scene,
    PlotSection,
    FilmTheme,
    Recommendation,
    CharacterBeat,
):
    reversion.register(_model)
reversion.register(Character, follow=["beats"])
reversion.register(Film, follow=GUIDE_PARTS)


def record_film(request, film, comment):
    """Save the whole guide of ``film`` as a revision of its own."""
    with reversion.create_revision():
        reversion.set_user(request.user)
        reversion.set_comment(comment)
        reversion.add_to_revision(film)


# Rows whose positions are unique per film in the database. Saving rows one by
# one, a swap (3 ↔ 4) would collide with itself halfway; these rows are first
# moved out of the way, above every position in use.
POSITION_FIELDS = {
    Scene: ("screen_position", "story_position"),
    PlotSection: ("position",),
    CharacterBeat: ("position",),
}
POSITION_OFFSET = 10_000  # well above any real position, within a smallint


def move_positions_aside(queryset, fields, offset=POSITION_OFFSET):
    """Shift ``fields`` of the rows in ``queryset`` up by ``offset``."""
    queryset.update(**{field: F(field) + offset for field in fields})


# --- Form fields -------------------------------------------------------------

_TIMECODE_RE = re.compile(r"^(?P<h>\d{1,2}):(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d))?$")


class TimecodeField(forms.DurationField):
    """A time into the film, written as the site writes it: ``1:12`` or ``1:12:30``.

    Django's own duration field reads ``1:12`` as one minute and twelve seconds;
    an editor means an hour and twelve minutes, as in a visitor's ``?seen=1:12``.
    """

    widget = forms.TextInput(attrs={"size": 8, "placeholder": "H:MM:SS"})
    default_error_messages = {
        "invalid": "Write a time into the film as H:MM or H:MM:SS, e.g. 1:12 or "
        "1:12:30.",
    }

    def prepare_value(self, value):
        if isinstance(value, timedelta):
            return format_timecode(value)
        return value

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, timedelta):
            return value
        match = _TIMECODE_RE.match(str(value).strip())
        if not match:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return timedelta(
            hours=int(match["h"]), minutes=int(match["m"]), seconds=int(match["s"] or 0)
        )


TIMECODE_OVERRIDES = {models.DurationField: {"form_class": TimecodeField}}


def short_text(rows=3):
    widget = admin.widgets.AdminTextareaWidget(attrs={"rows": rows})
    return {models.TextField: {"widget": widget}}


def plain_select(field, queryset, multiple=False):
    """Offer only ``queryset`` in ``field``, without the admin's "add" links.

    A character offered in a scene or a credit is one of this film's; adding
    one from a pop-up would not know which film it belongs to.
    """
    field.widget = forms.CheckboxSelectMultiple() if multiple else forms.Select()
    field.queryset = queryset


class KnownLabelsMixin:
    """An autocomplete widget that labels its selected values without a query.

    The admin's autocomplete looks up the selected object of every row: one
    query a row. The formset hands it the labels it already has (see
    ``GuideFormSet.known_labels``); for a value it does not know it falls back
    to the lookup.
    """

    known_labels = None

    def optgroups(self, name, value, attr=None):
        selected = [str(v) for v in value if str(v) not in ("", "None")]
        if self.known_labels is None or not all(
            v in self.known_labels for v in selected
        ):
            return super().optgroups(name, value, attr)
        default = (None, [], 0)
        if not self.is_required and not self.allow_multiple_selected:
            default[1].append(self.create_option(name, "", "", False, 0))
        for pk in selected:
            default[1].append(
                self.create_option(
                    name, pk, self.known_labels[pk], set(selected), len(default[1])
                )
            )
        return [default]


class KnownLabelsSelect(KnownLabelsMixin, admin.widgets.AutocompleteSelect):
    pass


class KnownLabelsSelectMultiple(
    KnownLabelsMixin, admin.widgets.AutocompleteSelectMultiple
):
    pass


def inner_widget(field):
    widget = field.widget
    return getattr(widget, "widget", widget)


# --- Inline formsets ---------------------------------------------------------


class GuideFormSet(forms.BaseInlineFormSet):
    """The rows of one part of a guide, checked and saved together.

    * ``position_fields`` are unique per parent in the database. They are left
      out of each row's own database check (which would see a swap as a clash
      with the row's old neighbour) and checked across the rows here, then
      saved without colliding (``move_positions_aside``).
    * Rows with a ``reveals_at`` must reveal inside the film: the models check
      this only once the film is saved, so a new film is checked here.
    * Choices and autocomplete labels are fetched once for the formset, not
      once a row (``shared_choice_fields``, ``known_labels``).
    """

    position_fields = ()
    check_position_duplicates = True
    shared_choice_fields = ()

    @property
    def film(self):
        parent = self.instance
        return parent if isinstance(parent, Film) else getattr(parent, "film", None)

    def kept_forms(self):
        """Forms for rows that will exist after saving."""
        return [
            form
            for form in self.forms
            if not self._should_delete_form(form)
            and (form.instance.pk is not None or form.has_changed())
        ]

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if isinstance(form, RevealPointForm):
            form.set_reveal_scenes(self.film)
        for name in self.shared_choice_fields:
            form.fields[name].choices = self._shared_choices(name, form.fields[name])
        labels = self.known_labels()
        for name, field in form.fields.items():
            widget = inner_widget(field)
            if isinstance(widget, KnownLabelsMixin):
                widget.known_labels = labels.get(name, {})

    def _shared_choices(self, name, field):
        cache = self.__dict__.setdefault("_choices_cache", {})
        if name not in cache:
            # iter(): a list() would first ask the choices for their length,
            # which is a COUNT query of its own.
            cache[name] = list(iter(field.choices))
        return cache[name]

    def known_labels(self):
        """``{field: {pk: label}}`` for the autocomplete fields of existing rows."""
        return {}

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        # Rows show and check themselves against their film: give them the
        # one in hand rather than a query each.
        setattr(form.instance, self.fk.name, self.instance)
        return form

    def clean(self):
        # Every check runs, so that an editor sees every problem at once.
        errors = []
        try:
            super().clean()  # unique slugs and the like, across the rows
        except ValidationError as error:
            errors.append(error)
        if self.check_position_duplicates:
            self._check_position_duplicates()
        self._check_reveal_points()
        try:
            self.check_guide()
        except ValidationError as error:
            errors.append(error)
        if errors:
            raise ValidationError(errors)

    def check_guide(self):
        """Rules about the rows taken together; raise for the formset's top."""

    def _check_position_duplicates(self):
        for field in self.position_fields:
            seen = {}
            for form in self.kept_forms():
                value = form.cleaned_data.get(field)
                if value is None:
                    continue
                if value in seen:
                    form.add_error(
                        field,
                        f"Position {value} is also used by “{seen[value]}”.",
                    )
                else:
                    seen[value] = row_label(form)

    def _check_reveal_points(self):
        film = self.film
        if film is None or film.runtime is None:
            return
        if "reveals_at" not in self.form.base_fields:
            return
        for form in self.kept_forms():
            value = form.cleaned_data.get("reveals_at")
            try:
                film.clean_reveal_point(value)
            except ValidationError as error:
                for message in error.message_dict["reveals_at"]:
                    if message not in form.errors.get("reveals_at", []):
                        form.add_error("reveals_at", message)

    def save_existing_objects(self, commit=True):
        if commit and self.position_fields:
            moving = [
                form.instance.pk
                for form in self.initial_forms
                if form.instance.pk is not None
                and (
                    self._should_delete_form(form)
                    or set(self.position_fields) & set(form.changed_data)
                )
            ]
            if moving:
                move_positions_aside(
                    self.model._default_manager.filter(pk__in=moving),
                    self.position_fields,
                )
        return super().save_existing_objects(commit)


def row_label(form):
    for name in ("title", "heading", "name"):
        if form.cleaned_data.get(name):
            return form.cleaned_data[name]
    return str(form.instance)


class PositionsCheckedBySetForm(forms.ModelForm):
    """A row whose unique positions its formset checks (see ``GuideFormSet``)."""

    def _get_validation_exclusions(self):
        exclude = super()._get_validation_exclusions()
        return exclude | set(POSITION_FIELDS.get(self._meta.model, ()))


# --- "Revealed in scene N" ----------------------------------------------------------


def film_scenes(film):
    """The film's scenes in screen order, as ``{"position", "starts_at",
    "ends_at", "story_position", "story_label", "title", "pk"}`` rows.

    Read once per film object: the film's page shares it between its
    "revealed in scene" fields, the list of scenes and the choice of whether
    scenes are edited on it.
    """
    if film is None or film.pk is None:
        return []
    scenes = film.__dict__.get("_scene_rows")
    if scenes is None:
        scenes = list(
            film.scenes.order_by("screen_position").values(
                "pk",
                "title",
                "starts_at",
                "ends_at",
                "story_position",
                "story_label",
                position=F("screen_position"),
            )
        )
        film.__dict__["_scene_rows"] = scenes
    return scenes


def reveal_scenes(film):
    """``(screen position, start, title)`` of the film's scenes, screen order."""
    return [(s["position"], s["starts_at"], s["title"]) for s in film_scenes(film)]


REVEAL_SCENES_LIST = "reveal-scenes"  # the id of the page's <datalist> of scenes


def reveal_scene_options(film):
    """``(number, label)`` for the page's list of scenes to reveal in."""
    return [
        (position, f"{format_timecode(start)} · {title}")
        for position, start, title in reveal_scenes(film)
    ]


class RevealPointForm(forms.ModelForm):
    """A row with a reveal point, which an editor may set by naming a scene.

    ``reveals_in_scene`` takes a scene's number beside the ``reveals_at``
    time (the page lists the film's scenes for it, as a ``<datalist>``: one
    list for the page rather than a select a row); naming one stores that
    scene's start, since a scene reveals at its own start. It shows the scene
    that starts at the row's reveal point, if any. A changed scene wins over
    an unchanged time and a changed time over an unchanged scene; a scene and
    a time that disagree are refused, naming both. No JavaScript needed.
    """

    reveals_in_scene = forms.IntegerField(
        label="or revealed in scene",
        required=False,
        min_value=1,
        widget=forms.NumberInput(
            attrs={"list": REVEAL_SCENES_LIST, "min": 1, "class": "vSceneNumber"}
        ),
        help_text="A scene's number: this is then revealed at the scene's start "
        "(as saved), and the time is set for you. Clear the time to make it "
        "spoiler-free.",
        error_messages={"invalid": "Write a scene's number, e.g. 12."},
    )

    def set_reveal_scenes(self, film):
        if "reveals_in_scene" not in self.fields:
            return
        self._reveal_film = film
        self._scene_starts = {
            position: start for position, start, _ in reveal_scenes(film)
        }
        at = self.instance.reveals_at
        self.fields["reveals_in_scene"].initial = next(
            (n for n, start in self._scene_starts.items() if start == at), None
        )

    def clean(self):
        cleaned = super().clean()
        number = cleaned.get("reveals_in_scene")
        if number is None or "reveals_in_scene" not in self.changed_data:
            return cleaned
        starts = getattr(self, "_scene_starts", {})
        if number not in starts:
            self.add_error(
                "reveals_in_scene",
                f"There is no scene {number}: the film's scenes are numbered 1 to "
                f"{max(starts)}."
                if starts
                else "The film has no scenes yet: write a time instead.",
            )
            return cleaned
        start = starts[number]
        written = cleaned.get("reveals_at")
        if "reveals_at" in self.changed_data and written not in (None, start):
            self.add_error(
                "reveals_in_scene",
                f"Scene {number} starts at {format_timecode(start)}, but the time "
                f"says {format_timecode(written)}: keep one of them.",
            )
        elif "reveals_at" not in self.errors:
            cleaned["reveals_at"] = start
        return cleaned


class RevealPositionedForm(RevealPointForm, PositionsCheckedBySetForm):
    pass


class RevealScenesMixin:
    """Gives the page the list of scenes its "revealed in scene" fields offer."""

    def render_change_form(self, request, context, add=False, change=False, **kwargs):
        obj = kwargs.get("obj")
        film = obj if isinstance(obj, Film) else getattr(obj, "film", None)
        if film is not None and film.pk is not None:
            context["reveal_scenes"] = reveal_scene_options(film)
        return super().render_change_form(request, context, add, change, **kwargs)


class SceneFormSet(GuideFormSet):
    """A film's scenes: each row's rules, then the timeline as a whole."""

    position_fields = POSITION_FIELDS[Scene]
    # timeline_errors reports duplicate positions, naming the other scene.
    check_position_duplicates = False
    shared_choice_fields = ("characters",)
    timeline_fields = ("screen_position", "story_position", "starts_at", "ends_at")

    def known_labels(self):
        if "_labels" not in self.__dict__:
            themes = {}
            for scene in self.get_queryset():
                themes.update({str(t.pk): str(t) for t in scene.themes.all()})
            self._labels = {"themes": themes}
        return self._labels

    def check_guide(self):
        film = self.instance
        if film.runtime is None:  # the film's own form says why
            return
        forms_by_scene = {}
        for form in self.kept_forms():
            if all(form.cleaned_data.get(f) is not None for f in self.timeline_fields):
                forms_by_scene[id(form.instance)] = form
        problems = timeline_errors(film, [f.instance for f in forms_by_scene.values()])
        for scene, field, message in problems:
            form = forms_by_scene[id(scene)]
            if message not in form.errors.get(field, []):
                form.add_error(field, message)
        if problems:
            raise ValidationError(
                "The timeline does not hold together; nothing was saved. "
                "See the scenes marked below.",
                code="timeline",
            )


class CreditFormSet(GuideFormSet):
    shared_choice_fields = ("character",)

    def known_labels(self):
        if "_labels" not in self.__dict__:
            self._labels = {
                "person": {str(c.person_id): str(c.person) for c in self.get_queryset()}
            }
        return self._labels


class FilmThemeFormSet(GuideFormSet):
    def known_labels(self):
        if "_labels" not in self.__dict__:
            self._labels = {
                "theme": {str(t.theme_id): str(t.theme) for t in self.get_queryset()}
            }
        return self._labels


class PositionedFormSet(GuideFormSet):
    @property
    def position_fields(self):
        return POSITION_FIELDS[self.model]


# --- Inlines on the film's page ------------------------------------------------


class GuideInline:
    """Shared by the inlines: timecodes, compact text, no surprise queries."""

    formfield_overrides = {**TIMECODE_OVERRIDES, **short_text(3)}
    extra = 0
    formset = GuideFormSet

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.autocomplete_fields:
            kwargs["widget"] = KnownLabelsSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name in self.autocomplete_fields:
            kwargs["widget"] = KnownLabelsSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class CreditInline(GuideInline, admin.TabularInline):
    model = Credit
    classes = ["collapse"]  # folded (a <details>) unless it has errors
    formset = CreditFormSet
    autocomplete_fields = ["person"]
    fields = ["position", "role", "person", "character", "note"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("person")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        plain_select(
            formset.form.base_fields["character"],
            obj.characters.all() if obj else Character.objects.none(),
        )
        return formset


class CharacterInline(GuideInline, admin.TabularInline):
    model = Character
    form = RevealPointForm
    fields = [
        "position",
        "name",
        "slug",
        "is_main",
        "description",
        "reveals_at",
        "reveals_in_scene",
    ]
    prepopulated_fields = {"slug": ["name"]}
    show_change_link = True  # the character's page holds their arc (beats)


# A scene's fields as editors see them, in the film's inline and on its own page.
SCENE_FIELDS = [
    "screen_position",
    "starts_at",
    "ends_at",
    "story_position",
    "story_label",
    "title",
    "slug",
    "summary",
    "location",
    "characters",
    "themes",
]


class SceneInline(GuideInline, admin.TabularInline):
    """Scenes in screen order; renumber freely, swaps included, in one save."""

    model = Scene
    form = PositionsCheckedBySetForm
    formset = SceneFormSet
    fields = SCENE_FIELDS
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["themes"]
    ordering = ["screen_position"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("characters", "themes")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        fields = formset.form.base_fields
        # Checked here, as the formset leaves positions out of each row's
        # database check (which holds "positions are counted from 1").
        for name in ("screen_position", "story_position"):
            fields[name].validators.append(MinValueValidator(1))
            fields[name].widget.attrs["min"] = 1
        plain_select(
            fields["characters"],
            obj.characters.all() if obj else Character.objects.none(),
            multiple=True,
        )
        if obj is None:
            fields[
                "characters"
            ].help_text = "Save the film once with its characters, then tick them here."
        return formset


# Films with more scenes than this list them on their page and edit each on
# its own (``?scenes=edit`` puts them all on the film's page).
SCENES_EDITED_ON_FILM_PAGE = 12


class PlotSectionInline(GuideInline, admin.StackedInline):
    model = PlotSection
    form = RevealPositionedForm
    formset = PositionedFormSet
    fields = ["position", "heading", "body", ("reveals_at", "reveals_in_scene")]
    formfield_overrides = {**TIMECODE_OVERRIDES, **short_text(5)}


class FilmThemeInline(GuideInline, admin.StackedInline):
    model = FilmTheme
    form = RevealPointForm
    formset = FilmThemeFormSet
    autocomplete_fields = ["theme"]
    fields = ["theme", "position", "analysis", ("reveals_at", "reveals_in_scene")]
    formfield_overrides = {**TIMECODE_OVERRIDES, **short_text(5)}

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("theme")


class RecommendationInline(GuideInline, admin.TabularInline):
    model = Recommendation
    classes = ["collapse"]
    fields = ["position", "target_slug", "target_title", "target_year", "reason"]


# --- The film ----------------------------------------------------------------------


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


# --- Comparing revisions -------------------------------------------------------

# Bookkeeping fields, and the film link that every row of a guide has.
NOT_COMPARED = {"id", "film", "created_at", "updated_at"}


def compare_guides(old_revision, new_revision):
    """What changed between two revisions of a guide, row by row.

    Returns a list of ``{"label", "state", "fields"}`` where ``state`` is
    added, removed or changed and ``fields`` a list of
    ``{"name", "old", "new", "diff"}`` (``diff`` is a list of
    ``(kind, text)`` word runs for text fields, for the template to mark up).
    """
    old_rows = _rows(old_revision)
    new_rows = _rows(new_revision)
    changes = []
    for key in sorted(old_rows.keys() | new_rows.keys(), key=_row_order):
        old, new = old_rows.get(key), new_rows.get(key)
        model = (old or new)._model
        label = f"{capfirst(model._meta.verbose_name)}: {(new or old).object_repr}"
        if old is None or new is None:
            version = old or new
            fields = [
                _field_change(model, name, None, value)
                for name, value in version.field_dict.items()
                if _compared(model, name) and value not in (None, "", [])
            ]
            state = "added" if old is None else "removed"
            if state == "removed":
                fields = [
                    {**f, "old": f["new"], "new": "", "diff": None} for f in fields
                ]
            changes.append({"label": label, "state": state, "fields": fields})
            continue
        fields = [
            _field_change(model, name, old.field_dict.get(name), value)
            for name, value in new.field_dict.items()
            if _compared(model, name) and old.field_dict.get(name) != value
        ]
        if fields:
            changes.append({"label": label, "state": "changed", "fields": fields})
    return changes


_MODEL_ORDER = [
    Film,
    Credit,
    Character,
    CharacterBeat,
    Scene,
    PlotSection,
    FilmTheme,
    Recommendation,
]


def _compared(model, attname):
    return model._meta.get_field(attname).name not in NOT_COMPARED


def _rows(revision):
    return {
        (version.content_type_id, version.object_id): version
        for version in revision.version_set.select_related("content_type")
    }


def _row_order(key):
    content_type_id, object_id = key
    model = ContentType.objects.get_for_id(content_type_id).model_class()
    rank = _MODEL_ORDER.index(model) if model in _MODEL_ORDER else len(_MODEL_ORDER)
    return (rank, int(object_id) if object_id.isdigit() else 0)


def _field_change(model, name, old, new):
    field = model._meta.get_field(name)
    old_text, new_text = _display(field, old), _display(field, new)
    diff = None
    if isinstance(field, models.TextField) and old_text and new_text:
        diff = _word_diff(old_text, new_text)
    return {
        "name": capfirst(field.verbose_name),
        "old": old_text,
        "new": new_text,
        "diff": diff,
    }


def _display(field, value):
    if value is None or value == "":
        return ""
    if isinstance(value, timedelta):
        return format_timecode(value)
    if field.is_relation:
        pks = value if isinstance(value, list) else [value]
        related = field.related_model._default_manager.in_bulk(pks)
        return ", ".join(
            str(related[pk]) if pk in related else f"(deleted #{pk})" for pk in pks
        )
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    return str(value)


def _word_diff(old, new):
    """Word runs of ``new`` against ``old``: ``[("equal"|"delete"|"insert", text)]``."""
    a, b = re.split(r"(\s+)", old), re.split(r"(\s+)", new)
    runs = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("delete", "replace"):
            runs.append(("delete", "".join(a[i1:i2])))
        if tag in ("insert", "replace"):
            runs.append(("insert", "".join(b[j1:j2])))
        if tag == "equal":
            runs.append(("equal", "".join(a[i1:i2])))
    return runs


# --- Characters, scenes and reference data ---------------------------------------


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


# --- Sign-in throttling ------------------------------------------------------------


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out sign-in gets (django-axes' AXES_LOCKOUT_CALLABLE)."""
    from django.conf import settings

    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {
        **admin.site.each_context(request),
        "title": "Too many failed sign-ins",
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": minutes,
        "username": (credentials or {}).get("username")
        or request.POST.get("username", ""),
    }
    return TemplateResponse(request, "admin/lockout.html", context, status=429).render()
