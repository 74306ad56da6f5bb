"""The inlines on a film's page: credits, characters, scenes, plot sections,
themes and recommendations, each on its formset from ``films.admin.forms``.
"""

from django.contrib import admin
from django.core.validators import MinValueValidator

from films.admin.forms import (
    CreditFormSet,
    FilmThemeFormSet,
    GuideFormSet,
    PositionedFormSet,
    PositionsCheckedBySetForm,
    RevealPointForm,
    RevealPositionedForm,
    SceneFormSet,
)
from films.admin.widgets import (
    TIMECODE_OVERRIDES,
    KnownLabelsSelect,
    KnownLabelsSelectMultiple,
    plain_select,
    short_text,
)
from films.models import (
    Character,
    Credit,
    FilmTheme,
    PlotSection,
    Recommendation,
    Scene,
)


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
