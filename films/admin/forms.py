"""Shared forms and formsets: the rules about a film's rows taken together.

``GuideFormSet`` and its kinds check a guide's rows as a whole on the film's
page — positions unique per film, the timeline (``films.guide_checks``),
reveal points inside the film — and save position swaps safely;
``RevealPointForm`` lets an editor pick "revealed in scene N" and stores that
scene's start.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import F

from films.admin.widgets import KnownLabelsMixin, inner_widget
from films.guide_checks import timeline_errors
from films.models import CharacterBeat, Film, PlotSection, Scene
from films.spoilers import format_timecode

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
