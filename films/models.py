"""The guide's data.

Every piece of spoiler-bearing text is tied to the point of the film where it
stops being a spoiler: ``reveals_at``, a time into the film (null means
spoiler-free). A scene reveals at its own start (``starts_at``). The ending
explained reveals at the end of the film. See ``films/spoilers.py`` for the
horizon that these points are compared with.
"""

import json
from datetime import timedelta
from types import SimpleNamespace

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.safestring import mark_safe

from films.db import prepared_cursor
from films.markup import html_field_name, render_markdown
from films.spoilers import FILM_FPS, FRAME_RATES, format_timecode

MIN_YEAR = 1888  # the oldest surviving film
MAX_YEAR = 2100
MAX_RUNTIME = 1440  # minutes; a day is plenty
ZERO = timedelta(0)


class RenderedHTMLField(models.TextField):
    """HTML rendered from a Markdown field (``films.markup``), stored beside it.

    Only the renderer writes it: it is not editable, not serialised (fixtures,
    exports and history hold the Markdown only) and is rendered again on every
    save, so a value read back is safe to show as it is.
    """

    def __init__(self, *args, **kwargs):
        kwargs.update(blank=True, default="", editable=False, serialize=False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        for forced in ("blank", "default", "editable", "serialize"):
            kwargs.pop(forced, None)
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        return value if value is None else mark_safe(value)  # noqa: S308 — sanitised on write


class GuideModel(models.Model):
    """Puts each failed database constraint's message on the field at fault,
    and renders the model's Markdown fields into their stored HTML.

    Django files a failed multi-field unique or check constraint under the
    form's non-field errors; editors and the loader need to know which field
    to fix, so each model names it in ``constraint_error_fields``.

    ``markdown_fields`` names the fields editors write in Markdown; each has a
    :class:`RenderedHTMLField` named ``<field>_html``. ``render_text()`` fills
    them; ``films.derived`` calls it before every save, whatever saves.
    """

    constraint_error_fields = {}
    markdown_fields = ()

    class Meta:
        abstract = True

    def render_text(self):
        """Render every Markdown field into its stored HTML; True if any changed."""
        changed = False
        for name in self.markdown_fields:
            target = html_field_name(name)
            html = render_markdown(getattr(self, name))
            if getattr(self, target) != html:
                changed = True
            setattr(self, target, mark_safe(html))  # noqa: S308 — sanitised by nh3
        return changed

    def validate_constraints(self, exclude=None):
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as error:
            if not hasattr(error, "error_dict"):
                raise
            failed = {}
            for field, messages in error.error_dict.items():
                for message in messages:
                    target = field
                    if field == NON_FIELD_ERRORS:
                        target = self._field_for_constraint_error(message)
                    failed.setdefault(target, []).append(message)
            raise ValidationError(failed) from None

    def _field_for_constraint_error(self, message):
        for constraint in self._meta.constraints:
            expected = constraint.get_violation_error_message()
            if constraint.name in self.constraint_error_fields and (
                message.message == expected or message.code == constraint.name
            ):
                return self.constraint_error_fields[constraint.name]
        return NON_FIELD_ERRORS


def reveal_point_field(help_text=""):
    return models.DurationField(
        null=True,
        blank=True,
        help_text=help_text
        or "Time into the film (H:MM:SS) from which this text is not a spoiler. "
        "Empty means spoiler-free.",
    )


# --- QuerySets -------------------------------------------------------------


class SlugQuerySet(models.QuerySet):
    def get_by_natural_key(self, slug):
        return self.get(slug=slug)


class RevealQuerySet(models.QuerySet):
    """Rows with a reveal point; the one filter every page uses."""

    reveal_field = "reveals_at"
    reveal_nullable = True

    def up_to(self, horizon):
        """Rows a visitor at ``horizon`` may see (spoiler-free ones included)."""
        return self.filter(horizon.q(self.reveal_field, nullable=self.reveal_nullable))

    def beyond(self, horizon):
        """Rows hidden from a visitor at ``horizon`` (for placeholders)."""
        if horizon.is_all:
            return self.none()
        return self.exclude(horizon.q(self.reveal_field, nullable=self.reveal_nullable))

    def spoiler_free(self):
        return self.filter(**{f"{self.reveal_field}__isnull": True})


# What a catalogue card shows of its film (FilmQuerySet.cards).
CARD_FIELDS = ("id", "title", "original_title", "slug", "year", "runtime")
_card_statements = {}


class DirectorsOf(models.Func):
    """A film's directors as a JSON list of ``[name, slug]`` pairs, in billing
    order, read beside the film's row (a correlated subquery) so that a list
    of films costs one query."""

    output_field = models.JSONField()

    def __init__(self):
        super().__init__(output_field=models.JSONField())

    def _inner(self, compiler, connection):
        quote = connection.ops.quote_name
        credit, person = Credit._meta.db_table, Person._meta.db_table
        film = compiler.query.get_initial_alias()
        return (
            f"SELECT p.{quote('name')} AS name, p.{quote('slug')} AS slug, "  # noqa: S608 — our own names
            f"c.{quote('position')} AS position, c.{quote('id')} AS id "
            f"FROM {quote(credit)} c JOIN {quote(person)} p "
            f"ON p.{quote('id')} = c.{quote('person_id')} "
            f"WHERE c.{quote('film_id')} = {quote(film)}.{quote('id')} "
            f"AND c.{quote('role')} = %s"
        ), [Credit.Role.DIRECTOR.value]

    def as_sql(self, compiler, connection, **extra):
        inner, params = self._inner(compiler, connection)
        sql = f"(SELECT json_group_array(json_array(name, slug)) FROM ({inner} ORDER BY position, id))"  # noqa: S608 — our own names
        return sql, params

    def as_postgresql(self, compiler, connection, **extra):
        inner, params = self._inner(compiler, connection)
        sql = f"(SELECT COALESCE(json_agg(json_build_array(name, slug) ORDER BY position, id), '[]') FROM ({inner}) d)"  # noqa: S608 — our own names
        return sql, params


class FilmQuerySet(SlugQuerySet):
    def published(self):
        return self.filter(status=Film.Status.PUBLISHED)

    def visible_to(self, user):
        """Published films, and drafts too for staff (who preview them)."""
        if user.is_active and user.is_staff:
            return self.all()
        return self.published()

    def for_list(self):
        """Catalogue rows: the columns a list shows, each film with its directors.

        Only those columns: filters through many-to-many rows need DISTINCT,
        which over the long text and JSON columns cost more than the rest of
        the page.
        """
        return self.only(
            "id", "title", "original_title", "slug", "year", "runtime", "updated_at"
        ).prefetch_related(
            models.Prefetch(
                "credits",
                queryset=Credit.objects.filter(
                    role=Credit.Role.DIRECTOR
                ).select_related("person"),
                to_attr="directors",
            )
        )

    def cards(self, offset, limit, *, same_as=None, narrowed=None):
        """A page of catalogue cards, the number of films in all, and the
        catalogue's version the page was read at (``CatalogueVersion``).

        The cards are objects with the columns a card shows, each with its
        ``directors`` (``(name, slug)`` pairs, in billing order). The count
        comes with the page's rows (``COUNT(*) OVER ()``), and so do the
        directors (``DirectorsOf``) and the version (one statement sees one
        state of the database, so the version is that of the page's rows):
        a page costs one query. Past the last page the count is None, and
        on a page with no film the version is None (there is no row to
        carry them).

        ``narrowed()``, if given, returns the query set to read, made from
        this one (a filter set's). ``same_as`` is a key the caller gives to
        every query set made the same way from the same values: the SQL of
        the first is kept for the others, and they are not made again, as
        making and compiling them cost more than running them.
        """
        key = (self.db, same_as, offset, limit)
        statement = _card_statements.get(key) if same_as is not None else None
        if statement is None:
            films = self if narrowed is None else narrowed()
            version = CatalogueVersion.objects.filter(pk=1).values("version")
            query = films.annotate(
                total=models.Window(models.Count("*")),
                directors=DirectorsOf(),
                # 0 before the row's first write, as pages.catalogue_version()
                catalogue_version=Coalesce(
                    models.Subquery(version), 0, output_field=models.BigIntegerField()
                ),
            )
            query = query.values_list(
                *CARD_FIELDS, "total", "directors", "catalogue_version"
            )
            query = query[offset : offset + limit]
            statement = query.query.sql_with_params()
            if same_as is not None:
                if len(_card_statements) >= 512:
                    _card_statements.clear()
                _card_statements[key] = statement
        with prepared_cursor(self.db) as cursor:
            cursor.execute(*statement)
            rows = cursor.fetchall()
        if not rows:
            return [], (0 if offset == 0 else None), None
        cards = []
        for *values, _total, directors, _version in rows:
            card = SimpleNamespace(**dict(zip(CARD_FIELDS, values, strict=True)))
            if isinstance(directors, str):  # SQLite gives the JSON's text
                directors = json.loads(directors)
            card.directors = [tuple(pair) for pair in directors]
            cards.append(card)
        return cards, rows[0][-3], rows[0][-1]

    def for_overview(self):
        """The overview page: facts, credits, genres, places and languages."""
        return self.prefetch_related(
            "genres",
            "languages",
            "countries",
            models.Prefetch(
                "credits",
                queryset=Credit.objects.select_related("person", "character"),
            ),
        )


class CountryQuerySet(models.QuerySet):
    def get_by_natural_key(self, code):
        return self.get(code=code)


class SceneQuerySet(RevealQuerySet):
    reveal_field = "starts_at"
    reveal_nullable = False

    def get_by_natural_key(self, film_slug, slug):
        return self.get(film__slug=film_slug, slug=slug)

    def in_screen_order(self):
        return self.order_by("screen_position")

    def in_story_order(self):
        return self.order_by("story_position")


class CharacterQuerySet(RevealQuerySet):
    def get_by_natural_key(self, film_slug, slug):
        return self.get(film__slug=film_slug, slug=slug)


class CharacterBeatQuerySet(RevealQuerySet):
    def get_by_natural_key(self, film_slug, character_slug, position):
        return self.get(
            character__film__slug=film_slug,
            character__slug=character_slug,
            position=position,
        )


class PlotSectionQuerySet(RevealQuerySet):
    def get_by_natural_key(self, film_slug, position):
        return self.get(film__slug=film_slug, position=position)


class FilmThemeQuerySet(RevealQuerySet):
    def get_by_natural_key(self, film_slug, theme_slug):
        return self.get(film__slug=film_slug, theme__slug=theme_slug)


class CreditQuerySet(models.QuerySet):
    def get_by_natural_key(self, film_slug, person_slug, role):
        return self.get(film__slug=film_slug, person__slug=person_slug, role=role)


class RecommendationQuerySet(models.QuerySet):
    def get_by_natural_key(self, film_slug, target_slug):
        return self.get(film__slug=film_slug, target_slug=target_slug)


# --- Reference data ----------------------------------------------------------


class Country(GuideModel):
    code = models.CharField(
        max_length=2, unique=True, help_text="ISO 3166 code, e.g. SU, IT."
    )
    name = models.CharField(max_length=100)

    objects = CountryQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "countries"

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.code,)


class Language(GuideModel):
    code = models.CharField(
        max_length=3, unique=True, help_text="ISO 639 code, e.g. ru, it."
    )
    name = models.CharField(max_length=100)

    objects = CountryQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.code,)


class Genre(GuideModel):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)

    objects = SlugQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.slug,)


class Person(GuideModel):
    name = models.CharField(max_length=200)
    original_name = models.CharField(
        max_length=200,
        blank=True,
        help_text="In the original script, e.g. Андрей Тарковский.",
    )
    slug = models.SlugField(max_length=200, unique=True)
    born = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1800), MaxValueValidator(MAX_YEAR)],
        help_text="Year of birth.",
    )

    objects = SlugQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "people"

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("films:person", args=[self.slug])

    def natural_key(self):
        return (self.slug,)


class Theme(GuideModel):
    """An idea that runs through films (faith, memory, home…)."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    description = models.TextField(
        help_text="What the theme is, spoiler-free, for any film (Markdown)."
    )
    description_html = RenderedHTMLField()

    objects = SlugQuerySet.as_manager()

    markdown_fields = ("description",)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("films:theme", args=[self.slug])

    def natural_key(self):
        return (self.slug,)


# --- The film and its guide -----------------------------------------------------


# A film's statuses, named once: its choices, its indexes and constraint, the
# ORM's ``published()`` and search's SQL (films/search.py) all read these.
DRAFT = "draft"
PUBLISHED = "published"


class Film(GuideModel):
    class Status(models.TextChoices):
        DRAFT = DRAFT, "Draft"
        PUBLISHED = PUBLISHED, "Published"

    title = models.CharField(max_length=200)
    original_title = models.CharField(max_length=200, blank=True)
    other_titles = models.TextField(
        blank=True,
        default="",
        help_text="Other titles the film is known by, one a line: release titles "
        "in other countries, transliterations of the original title. Searched, "
        "never shown as the title.",
    )
    slug = models.SlugField(
        max_length=220, unique=True, help_text="Title and year: stalker-1979."
    )
    year = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(MIN_YEAR), MaxValueValidator(MAX_YEAR)]
    )
    runtime = models.PositiveSmallIntegerField(
        help_text="Minutes.",
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RUNTIME)],
    )
    # The guide's times are taken from one release; a visitor's copy at another
    # speed (PAL video runs at 25 fps, ~4% fast) shows every moment earlier.
    timing_release = models.CharField(
        "times follow",
        max_length=200,
        blank=True,
        help_text="The release the guide's times are taken from, shown beside the "
        "time picker, e.g. “the 24 fps restoration, 163 min”.",
    )
    timing_fps = models.PositiveSmallIntegerField(
        "frame rate of that release",
        choices=FRAME_RATES,
        default=FILM_FPS,
        help_text="Frames a second the release runs at: 24 for film speed (cinema, "
        "Blu-ray), 25 for PAL video.",
    )
    languages = models.ManyToManyField(Language, blank=True, related_name="films")
    countries = models.ManyToManyField(Country, blank=True, related_name="films")
    genres = models.ManyToManyField(Genre, blank=True, related_name="films")
    production_companies = models.CharField(max_length=300, blank=True)
    based_on = models.CharField(
        max_length=300,
        blank=True,
        help_text="The work it adapts, e.g. “Roadside Picnic, a novel by Arkady "
        "and Boris Strugatsky”.",
    )
    premise = models.TextField(
        help_text="Spoiler-free: what a visitor may read before watching (Markdown)."
    )
    premise_html = RenderedHTMLField()
    ending_explained = models.TextField(
        blank=True, help_text="Revealed only at the end of the film (Markdown)."
    )
    ending_explained_html = RenderedHTMLField()
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    featured = models.BooleanField(default=False, help_text="Shown on the home page.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped by any change to anything in the guide (films.derived); page
    # caches carry it in their keys, so an edit is seen on the next request.
    version = models.PositiveBigIntegerField(default=0, editable=False, serialize=False)
    # Every reveal point of the guide and its scenes' places, in seconds, kept
    # with the version (films.derived): film pages read their horizon's
    # variant and the picker from it, without a query of their own.
    # When anything in the guide last changed (any bump): Last-Modified.
    changed_at = models.DateTimeField(
        null=True, blank=True, editable=False, serialize=False
    )
    reveal_index = models.JSONField(
        default=dict, blank=True, editable=False, serialize=False
    )
    # The names the guide shows before any spoiler — its people and its
    # spoiler-free characters — kept with the version (films.search_index),
    # so that search finds the film by them.
    search_names = models.TextField(
        default="", blank=True, editable=False, serialize=False
    )

    objects = FilmQuerySet.as_manager()

    markdown_fields = ("premise", "ending_explained")

    constraint_error_fields = {
        "film_year_in_range": "year",
        "film_runtime_in_range": "runtime",
        "film_status_valid": "status",
    }

    class Meta:
        ordering = ["title", "year"]
        indexes = [
            # Pages and search check "is this film published?" for many rows
            # at once; this small index answers it without reading the films.
            models.Index(
                fields=["id"],
                condition=Q(status=PUBLISHED),
                name="film_published_idx",
            ),
            # Search asks the opposite for thousands of matches at once ("is
            # this row's film unpublished?"); drafts are few, so this index is
            # tiny and the check costs almost nothing.
            models.Index(
                fields=["id"],
                condition=~Q(status=PUBLISHED),
                name="film_unpublished_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(year__gte=MIN_YEAR) & Q(year__lte=MAX_YEAR),
                name="film_year_in_range",
                violation_error_message=(
                    f"The year must be between {MIN_YEAR} and {MAX_YEAR}."
                ),
            ),
            models.CheckConstraint(
                condition=Q(runtime__gte=1) & Q(runtime__lte=MAX_RUNTIME),
                name="film_runtime_in_range",
                violation_error_message=(
                    f"The runtime must be between 1 and {MAX_RUNTIME} minutes."
                ),
            ),
            models.CheckConstraint(
                condition=Q(status__in=[DRAFT, PUBLISHED]),
                name="film_status_valid",
                violation_error_message="The status must be draft or published.",
            ),
        ]

    def __str__(self):
        return f"{self.title} ({self.year})"

    def get_absolute_url(self):
        return reverse("films:detail", args=[self.slug])

    def natural_key(self):
        return (self.slug,)

    @property
    def duration(self):
        """The runtime as a time into the film: the end of the film."""
        return timedelta(minutes=self.runtime)

    @property
    def ending_reveals_at(self):
        """The ending explained is tied to the end of the film."""
        return self.duration

    @property
    def is_published(self):
        return self.status == self.Status.PUBLISHED

    def clean_reveal_point(self, value, field="reveals_at"):
        """Raise if ``value`` is not a point inside this film."""
        if value is None or self.runtime is None:
            return
        if value < ZERO or value > self.duration:
            raise ValidationError(
                {
                    field: f"{format_timecode(value)} is outside the film, which "
                    f"runs 0:00 to {format_timecode(self.duration)}."
                }
            )


class Character(GuideModel):
    film = models.ForeignKey(Film, on_delete=models.CASCADE, related_name="characters")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200)
    description = models.TextField(
        help_text="Who they are, spoiler-free as of their first appearance (Markdown)."
    )
    description_html = RenderedHTMLField()
    is_main = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Order in lists of characters."
    )
    reveals_at = reveal_point_field(
        "When the character is introduced, if knowing of them is itself a spoiler. "
        "Empty for characters a visitor may know of before watching."
    )

    objects = CharacterQuerySet.as_manager()

    markdown_fields = ("description",)

    constraint_error_fields = {
        "character_slug_unique_per_film": "slug",
        "character_reveals_at_not_negative": "reveals_at",
    }

    class Meta:
        ordering = ["film", "position", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["film", "slug"],
                name="character_slug_unique_per_film",
                violation_error_message="Another character of this film has this slug.",
            ),
            models.CheckConstraint(
                condition=Q(reveals_at__isnull=True) | Q(reveals_at__gte=ZERO),
                name="character_reveals_at_not_negative",
                violation_error_message="A reveal point cannot be before 0:00.",
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("films:character", args=[self.film.slug, self.slug])

    def natural_key(self):
        return (*self.film.natural_key(), self.slug)

    natural_key.dependencies = ["films.film"]

    def clean(self):
        if self.film_id:
            self.film.clean_reveal_point(self.reveals_at)


class CharacterBeat(GuideModel):
    """One step of a character's arc, revealed at a point of the film."""

    character = models.ForeignKey(
        Character, on_delete=models.CASCADE, related_name="beats"
    )
    position = models.PositiveSmallIntegerField()
    text = models.TextField(help_text="Markdown.")
    text_html = RenderedHTMLField()
    reveals_at = reveal_point_field()

    objects = CharacterBeatQuerySet.as_manager()

    markdown_fields = ("text",)

    constraint_error_fields = {
        "beat_position_unique": "position",
        "beat_reveals_at_not_negative": "reveals_at",
    }

    class Meta:
        ordering = ["character", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["character", "position"],
                name="beat_position_unique",
                violation_error_message="Another beat of this character has this position.",
            ),
            models.CheckConstraint(
                condition=Q(reveals_at__isnull=True) | Q(reveals_at__gte=ZERO),
                name="beat_reveals_at_not_negative",
                violation_error_message="A reveal point cannot be before 0:00.",
            ),
        ]

    def __str__(self):
        return f"{self.character} — beat {self.position}"

    def natural_key(self):
        return (*self.character.natural_key(), self.position)

    natural_key.dependencies = ["films.character"]

    def clean(self):
        if self.character_id:
            self.character.film.clean_reveal_point(self.reveals_at)


class Scene(GuideModel):
    """A scene, placed both on screen and in the story's own chronology."""

    film = models.ForeignKey(Film, on_delete=models.CASCADE, related_name="scenes")
    slug = models.SlugField(
        max_length=200, help_text="Stable anchor for links: #the-meat-grinder."
    )
    screen_position = models.PositiveSmallIntegerField(
        help_text="Order on screen, from 1."
    )
    starts_at = models.DurationField(help_text="H:MM:SS into the film.")
    ends_at = models.DurationField(help_text="H:MM:SS into the film.")
    story_position = models.PositiveSmallIntegerField(
        help_text="Order in the story's own chronology, from 1."
    )
    story_label = models.CharField(
        max_length=100, blank=True, help_text="When in the story, e.g. “1935”."
    )
    title = models.CharField(max_length=200)
    summary = models.TextField(help_text="Markdown.")
    summary_html = RenderedHTMLField()
    location = models.CharField(max_length=200, blank=True)
    characters = models.ManyToManyField(Character, blank=True, related_name="scenes")
    themes = models.ManyToManyField(Theme, blank=True, related_name="scenes")

    objects = SceneQuerySet.as_manager()

    markdown_fields = ("summary",)

    constraint_error_fields = {
        "scene_slug_unique_per_film": "slug",
        "scene_screen_position_unique_per_film": "screen_position",
        "scene_story_position_unique_per_film": "story_position",
        "scene_ends_after_it_starts": "ends_at",
        "scene_starts_not_negative": "starts_at",
        "scene_positions_from_one": "screen_position",
    }

    class Meta:
        ordering = ["film", "screen_position"]
        constraints = [
            models.UniqueConstraint(
                fields=["film", "slug"],
                name="scene_slug_unique_per_film",
                violation_error_message="Another scene of this film has this slug.",
            ),
            models.UniqueConstraint(
                fields=["film", "screen_position"],
                name="scene_screen_position_unique_per_film",
                violation_error_message="Another scene of this film has this screen position.",
            ),
            models.UniqueConstraint(
                fields=["film", "story_position"],
                name="scene_story_position_unique_per_film",
                violation_error_message="Another scene of this film has this story position.",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="scene_ends_after_it_starts",
                violation_error_message="A scene must end after it starts.",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__gte=ZERO),
                name="scene_starts_not_negative",
                violation_error_message="A scene cannot start before 0:00.",
            ),
            models.CheckConstraint(
                condition=Q(screen_position__gte=1) & Q(story_position__gte=1),
                name="scene_positions_from_one",
                violation_error_message="Positions are counted from 1.",
            ),
        ]

    def __str__(self):
        return f"{self.screen_position}. {self.title}"

    def get_absolute_url(self):
        return reverse("films:timeline", args=[self.film.slug]) + f"#{self.slug}"

    def natural_key(self):
        return (*self.film.natural_key(), self.slug)

    natural_key.dependencies = ["films.film", "films.character", "films.theme"]

    @property
    def reveals_at(self):
        """A scene is revealed at its own start."""
        return self.starts_at

    def clean(self):
        errors = {}
        if (
            self.starts_at is not None
            and self.ends_at is not None
            and self.ends_at <= self.starts_at
        ):
            errors["ends_at"] = "A scene must end after it starts."
        if (
            self.film_id
            and self.ends_at is not None
            and self.film.runtime
            and self.ends_at > self.film.duration
        ):
            errors["ends_at"] = (
                f"Ends at {format_timecode(self.ends_at)}, after the film's end "
                f"({format_timecode(self.film.duration)})."
            )
        if errors:
            raise ValidationError(errors)

    def clean_characters(self, characters):
        """Raise unless every character belongs to this scene's film.

        Many-to-many values are not set when ``clean()`` runs, so the admin form
        and the loader call this with the characters they are about to set.
        """
        strangers = [c for c in characters if c.film_id != self.film_id]
        if strangers:
            names = ", ".join(f"{c.name} ({c.film})" for c in strangers)
            raise ValidationError(
                {"characters": f"Not characters of {self.film}: {names}."}
            )


class PlotSection(GuideModel):
    """One ordered section of a film's plot summary."""

    film = models.ForeignKey(
        Film, on_delete=models.CASCADE, related_name="plot_sections"
    )
    position = models.PositiveSmallIntegerField()
    heading = models.CharField(max_length=200)
    body = models.TextField(help_text="Markdown.")
    body_html = RenderedHTMLField()
    reveals_at = reveal_point_field()

    objects = PlotSectionQuerySet.as_manager()

    markdown_fields = ("body",)

    constraint_error_fields = {
        "plot_section_position_unique": "position",
        "plot_section_reveals_at_not_negative": "reveals_at",
    }

    class Meta:
        ordering = ["film", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["film", "position"],
                name="plot_section_position_unique",
                violation_error_message="Another plot section of this film has this position.",
            ),
            models.CheckConstraint(
                condition=Q(reveals_at__isnull=True) | Q(reveals_at__gte=ZERO),
                name="plot_section_reveals_at_not_negative",
                violation_error_message="A reveal point cannot be before 0:00.",
            ),
        ]

    def __str__(self):
        return f"{self.film}: {self.heading}"

    def natural_key(self):
        return (*self.film.natural_key(), self.position)

    natural_key.dependencies = ["films.film"]

    def clean(self):
        if self.film_id:
            self.film.clean_reveal_point(self.reveals_at)


class FilmTheme(GuideModel):
    """A theme's analysis for one film."""

    film = models.ForeignKey(Film, on_delete=models.CASCADE, related_name="film_themes")
    theme = models.ForeignKey(
        Theme, on_delete=models.PROTECT, related_name="film_themes"
    )
    position = models.PositiveSmallIntegerField(default=0)
    analysis = models.TextField(help_text="Markdown.")
    analysis_html = RenderedHTMLField()
    reveals_at = reveal_point_field(
        "When the analysis stops being a spoiler (usually the last scene it draws on)."
    )

    objects = FilmThemeQuerySet.as_manager()

    markdown_fields = ("analysis",)

    constraint_error_fields = {
        "film_theme_unique": "theme",
        "film_theme_reveals_at_not_negative": "reveals_at",
    }

    class Meta:
        ordering = ["film", "position", "theme__name"]
        verbose_name = "film theme"
        constraints = [
            models.UniqueConstraint(
                fields=["film", "theme"],
                name="film_theme_unique",
                violation_error_message="This theme already has an analysis for this film.",
            ),
            models.CheckConstraint(
                condition=Q(reveals_at__isnull=True) | Q(reveals_at__gte=ZERO),
                name="film_theme_reveals_at_not_negative",
                violation_error_message="A reveal point cannot be before 0:00.",
            ),
        ]

    def __str__(self):
        return f"{self.theme} in {self.film}"

    def natural_key(self):
        return (*self.film.natural_key(), *self.theme.natural_key())

    natural_key.dependencies = ["films.film", "films.theme"]

    def clean(self):
        if self.film_id:
            self.film.clean_reveal_point(self.reveals_at)


class Credit(GuideModel):
    class Role(models.TextChoices):
        DIRECTOR = "director", "Director"
        WRITER = "writer", "Writer"
        CINEMATOGRAPHER = "cinematographer", "Cinematographer"
        COMPOSER = "composer", "Composer"
        EDITOR = "editor", "Editor"
        PRODUCTION_DESIGNER = "production-designer", "Production designer"
        CAST = "cast", "Cast"

    film = models.ForeignKey(Film, on_delete=models.CASCADE, related_name="credits")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="credits")
    role = models.CharField(max_length=20, choices=Role.choices)
    character = models.ForeignKey(
        Character,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="credits",
        help_text="For cast: the character played.",
    )
    note = models.CharField(
        max_length=200, blank=True, help_text="E.g. “novel”, “uncredited”, “voice”."
    )
    position = models.PositiveSmallIntegerField(default=0)

    objects = CreditQuerySet.as_manager()

    constraint_error_fields = {
        "credit_unique": "role",
        "credit_character_only_for_cast": "character",
    }

    class Meta:
        ordering = ["film", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["film", "person", "role"],
                name="credit_unique",
                violation_error_message="This person already has this role in this film.",
            ),
            models.CheckConstraint(
                condition=Q(character__isnull=True) | Q(role="cast"),
                name="credit_character_only_for_cast",
                violation_error_message="Only a cast credit names a character.",
            ),
        ]

    def __str__(self):
        return f"{self.person} — {self.get_role_display()} — {self.film}"

    def natural_key(self):
        return (*self.film.natural_key(), *self.person.natural_key(), self.role)

    natural_key.dependencies = ["films.film", "films.person", "films.character"]

    def clean(self):
        if self.character_id and self.role != self.Role.CAST:
            raise ValidationError(
                {"character": "Only a cast credit names a character."}
            )
        if (
            self.character_id
            and self.film_id
            and self.character.film_id != self.film_id
        ):
            raise ValidationError(
                {
                    "character": f"{self.character.name} is not a character of {self.film}."
                }
            )


class Recommendation(GuideModel):
    """What to watch next after a film, and why (spoiler-free).

    The film recommended is named by its slug, title and year rather than by a
    foreign key: a guide can recommend a film the catalogue does not (yet)
    hold, and each film's fixture loads on its own. Pages link the
    recommendation when a published film with that slug exists.
    """

    film = models.ForeignKey(
        Film, on_delete=models.CASCADE, related_name="recommendations"
    )
    target_slug = models.SlugField(
        max_length=220, help_text="The recommended film's slug: solaris-1972."
    )
    target_title = models.CharField(max_length=200)
    target_year = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(MIN_YEAR), MaxValueValidator(MAX_YEAR)]
    )
    reason = models.TextField(help_text="Spoiler-free, for either film (Markdown).")
    reason_html = RenderedHTMLField()
    position = models.PositiveSmallIntegerField(default=0)

    objects = RecommendationQuerySet.as_manager()

    markdown_fields = ("reason",)

    constraint_error_fields = {
        "recommendation_unique": "target_slug",
    }

    class Meta:
        ordering = ["film", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["film", "target_slug"],
                name="recommendation_unique",
                violation_error_message="This film is already recommended here.",
            ),
        ]

    def __str__(self):
        return f"{self.film} → {self.target_title} ({self.target_year})"

    def natural_key(self):
        return (*self.film.natural_key(), self.target_slug)

    natural_key.dependencies = ["films.film"]

    def clean(self):
        if self.film_id and self.target_slug == self.film.slug:
            raise ValidationError({"target_slug": "A film cannot recommend itself."})


class CatalogueVersion(models.Model):
    """The catalogue's version: one row, bumped with every guide's version.

    Pages that show many films (home, catalogue, people, themes across films)
    carry it in their cache keys, so any change to a film they show is seen
    on the next request. ``films.derived`` keeps it.
    """

    version = models.PositiveBigIntegerField(default=1)
    # The catalogue's filter choices — ``{"language": [[code, name]], …}`` —
    # kept with every bump, so its page reads them with the version's row.
    choices = models.JSONField(default=dict, blank=True)

    class Meta:
        default_permissions = ()  # bookkeeping: nobody edits it

    def __str__(self):
        return f"catalogue version {self.version}"


class FilmDocument(models.Model):
    """One part of a film's guide as its pages read it (``films/documents.py``):
    JSON built on every write to the guide, at the guide's ``version``.

    Derived data: a part of another version or format is never shown (the page
    builds it afresh), and ``manage.py render_text`` rebuilds them all.
    """

    film = models.ForeignKey(Film, on_delete=models.DB_CASCADE, related_name="+")
    name = models.CharField(max_length=20)
    version = models.PositiveBigIntegerField()
    # documents.current_format(): a digest of the parts' shape and of the
    # templates and code their HTML was written with (48 bits).
    format = models.PositiveBigIntegerField()
    data = models.TextField()

    class Meta:
        default_permissions = ()  # derived: nobody edits it
        constraints = [
            models.UniqueConstraint(
                fields=["film", "name"], name="filmdocument_film_name"
            )
        ]

    def __str__(self):
        return f"{self.name} of film {self.film_id} at version {self.version}"
