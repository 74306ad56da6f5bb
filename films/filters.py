"""The catalogue's filters. Each field validates its input; a bad value is
reported beside its field and ignored, never a server error."""

import copy
import functools
from typing import NamedTuple

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from django.template import loader
from django_filters.constants import EMPTY_VALUES
from markupsafe import Markup

from films.models import (
    MAX_RUNTIME,
    MAX_YEAR,
    MIN_YEAR,
    CatalogueVersion,
    Credit,
    Film,
    Person,
)


def stored_choices(version=None):
    """The filters' choices as the catalogue's row keeps them (worked out
    afresh if it has none yet, as before its first change).

    Kept in this process with the version they belong to: given the
    catalogue's ``version`` (which the page has read already), the same
    version's choices cost no query. Versions never repeat.
    """
    from films.derived import CHOICES, filter_choices

    memo = _choices_memo.get("catalogue")
    if version is not None and memo is not None and memo[0] == version:
        return memo[1]
    rows = CatalogueVersion.objects.filter(pk=1).values_list("version", "choices")
    row_version, choices = next(iter(rows), (None, None))
    if not choices or set(choices) != set(CHOICES):
        return filter_choices()
    _choices_memo["catalogue"] = (row_version, choices)
    return choices


_choices_memo = {}
# Fields written with no value and no error, with the lists they were written
# with (FilmFilter.fields_html); ALL_BLANK: the whole form so.
_blank_fields = {}
ALL_BLANK = None


def kept_version():
    """The catalogue's version whose choices this process keeps (None if
    none yet): a page may assume it, and check it with what it reads."""
    memo = _choices_memo.get("catalogue")
    return None if memo is None else memo[0]


def _give_choices(form, version=None):
    if getattr(form, "has_stored_choices", False):
        return
    form.has_stored_choices = True
    for name, rows in stored_choices(version).items():
        # The form's own copy: its fields are shared (SharedFields).
        field = form.fields[name] = _light_copy(form.fields[name])
        field.choices = [tuple(row) for row in rows]


class ShownField(NamedTuple):
    name: str
    id: str
    label: str
    kind: str
    attrs: dict
    choices: list | None
    current: str
    errors: list | None


@functools.cache
def _fixed_choices(form_class):
    """The choices of a form class's selects that are not the catalogue's
    own lists (decades, sorting), as tuples, worked out once."""
    return {
        name: tuple(field.choices)
        for name, field in form_class.base_fields.items()
        if field.widget.input_type == "select"
    }


class LightCopies(dict):
    """A filter set's ``base_filters`` whose deep copy (one for each filter
    set made) copies each filter, but shares what no request changes:
    choices, labels, field classes. Django's deep copy of every choice list
    costs more than the rest of the catalogue page together."""

    def __deepcopy__(self, memo):
        return {name: _light_copy(item) for name, item in self.items()}


class SharedFields(dict):
    """A form's ``base_fields`` that each form shares rather than copies:
    validating a form changes none of them, and ``_give_choices``, the one
    thing here that does, gives its form copies of the fields it changes."""

    def __deepcopy__(self, memo):
        return dict(self)


def _light_copy(item):
    new = copy.copy(item)
    if isinstance(item, forms.Field):
        new.widget = copy.copy(item.widget)
        new.widget.attrs = dict(item.widget.attrs)
    elif item.method is not None:
        new.method = item.method  # its FilterMethod bound to the copy
    return new


def decade_choices():
    return [(decade, f"{decade}s") for decade in range(1890, 2030, 10)]


def directors(request):
    return Person.objects.filter(
        Exists(Credit.objects.filter(person=OuterRef("pk"), role=Credit.Role.DIRECTOR))
    )


def director_named(value, prefix="person__"):
    """A director given by slug (``andrei-tarkovsky``, as links give it) or by
    a part of their name, in any case (``tarkovsky``)."""
    return Q(**{f"{prefix}slug": value}) | Q(**{f"{prefix}name__icontains": value})


class CatalogueForm(forms.Form):
    def clean_director(self):
        value = " ".join((self.cleaned_data.get("director") or "").split())
        if value and not directors(None).filter(director_named(value, "")).exists():
            raise forms.ValidationError(
                f"No director in the catalogue is called “{value[:60]}”."
            )
        return value


class ThroughChoiceFilter(django_filters.ChoiceFilter):
    """A choice among rows joined through a many-to-many relation, tested
    with EXISTS: a film is never repeated, so the list needs no DISTINCT
    (which over the films' columns costs more than the rest of the query)
    and its count is the number of films."""

    def filter(self, qs, value):
        if value in EMPTY_VALUES or value == self.null_value:
            return super().filter(qs, value)
        lookup = f"{self.field_name}__{self.lookup_expr}"
        related = Film.objects.filter(pk=OuterRef("pk"), **{lookup: value})
        return qs.filter(Exists(related))


# The filters that choose among the catalogue's stored lists.
THROUGH_MANY = ("language", "country", "genre", "theme")


class FilmFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        field_name="title", lookup_expr="icontains", label="Title contains"
    )
    decade = django_filters.ChoiceFilter(
        choices=decade_choices,
        method="filter_decade",
        empty_label="Any decade",
        label="Decade",
    )
    year_min = django_filters.NumberFilter(
        field_name="year",
        lookup_expr="gte",
        label="From year",
        min_value=MIN_YEAR,
        max_value=MAX_YEAR,
    )
    year_max = django_filters.NumberFilter(
        field_name="year",
        lookup_expr="lte",
        label="To year",
        min_value=MIN_YEAR,
        max_value=MAX_YEAR,
    )
    # A name typed, not a list: the list of directors grows with the
    # catalogue, and the page and its form must not.
    director = django_filters.CharFilter(
        method="filter_director",
        label="Director",
        max_length=200,
    )
    language = ThroughChoiceFilter(
        choices=[],  # the catalogue's own, given to each form (stored_choices)
        field_name="languages__code",
        empty_label="Any language",
        label="Language",
    )
    country = ThroughChoiceFilter(
        choices=[],  # the catalogue's own, given to each form (stored_choices)
        field_name="countries__code",
        empty_label="Any country",
        label="Country",
    )
    genre = ThroughChoiceFilter(
        choices=[],  # the catalogue's own, given to each form (stored_choices)
        field_name="genres__slug",
        empty_label="Any genre",
        label="Genre",
    )
    theme = ThroughChoiceFilter(
        choices=[],  # the catalogue's own, given to each form (stored_choices)
        field_name="film_themes__theme__slug",
        empty_label="Any theme",
        label="Theme",
    )
    runtime_min = django_filters.NumberFilter(
        field_name="runtime",
        lookup_expr="gte",
        label="At least (min)",
        min_value=1,
        max_value=MAX_RUNTIME,
    )
    runtime_max = django_filters.NumberFilter(
        field_name="runtime",
        lookup_expr="lte",
        label="At most (min)",
        min_value=1,
        max_value=MAX_RUNTIME,
    )
    sort = django_filters.OrderingFilter(
        fields=(
            ("title", "title"),
            ("year", "year"),
            ("runtime", "runtime"),
            ("updated_at", "updated"),
        ),
        field_labels={
            "title": "Title",
            "year": "Year",
            "runtime": "Runtime",
            "updated_at": "Last updated",
        },
        empty_label="Title",
        label="Sort by",
    )

    class Meta:
        model = Film
        fields = []
        form = CatalogueForm

    def filter_decade(self, queryset, name, value):
        start = int(value)  # a valid choice, so a decade such as 1970
        return queryset.filter(year__gte=start, year__lte=start + 9)

    def filter_director(self, queryset, name, value):
        return queryset.filter(
            Exists(
                Credit.objects.filter(
                    director_named(value),
                    film=OuterRef("pk"),
                    role=Credit.Role.DIRECTOR,
                )
            )
        )

    def __init__(self, *args, key=None, catalogue_version=None, **kwargs):
        # ``key`` names the query set given (the same key, the same query
        # set: see cards()); the catalogue's version, when the caller has
        # read it: the form's lists are then those kept with it
        # (stored_choices).
        self.key = key
        self.catalogue_version = catalogue_version
        super().__init__(*args, **kwargs)

    @property
    def form(self):
        """The form; given the catalogue's lists of languages, countries,
        genres and themes when a value is chosen from one (to check it)."""
        if not hasattr(self, "_form"):
            form = super().form
            if self.is_bound and any(self.data.get(name) for name in THROUGH_MANY):
                _give_choices(form, self.catalogue_version)
        return self._form

    def cards(self, offset, limit):
        """A page of the films the filters choose, as catalogue cards, their
        number and the catalogue's version read with them
        (``FilmQuerySet.cards``). Filter sets given the same
        query set and the same valid input build the same query: it is
        compiled once."""
        data = {}
        if self.is_bound and self.form.errors is not None:  # validated
            data = self.form.cleaned_data  # what filter_queryset() uses
        chosen = repr(sorted(data.items()))
        same_as = None if self.key is None else (self.key, chosen)
        return self.queryset.cards(
            offset, limit, same_as=same_as, narrowed=lambda: self.qs
        )

    def fields_shown(self, lists=None, names=None):
        """The form's fields as the catalogue page writes them: each one's
        name, label, kind of input (``select`` or an input type), its other
        attributes, choices (selects only, as a tuple of pairs), current
        value and errors.

        Plain values rather than Django's bound fields and widget templates,
        which cost more than the rest of the page together. The catalogue's
        own lists come from its row (``stored_choices``: no query when the
        version given was read already); the others never change. An
        unbound filter set makes no form: its fields are the class's.
        ``names``, if given, are the only fields shown.
        """
        if lists is None:
            lists = stored_choices(self.catalogue_version)
        form_class = self.get_form_class()
        fixed = _fixed_choices(form_class)
        data, errors = self._data_and_errors()
        shown = []
        for name, field in form_class.base_fields.items():
            if names is not None and name not in names:
                continue
            kind = field.widget.input_type
            choices = None
            if name in lists:
                choices = (("", field.empty_label), *map(tuple, lists[name]))
            elif kind == "select":
                choices = fixed[name]
            shown.append(
                ShownField(
                    name=name,
                    id=f"id_{name}",
                    label=field.label,
                    kind=kind,
                    attrs=field.widget.attrs,
                    choices=choices,
                    current=data.get(name) or "",
                    errors=errors.get(name),
                )
            )
        return shown

    def fields_html(self):
        """The form's fields (``fields_shown``), each written by
        ``films/catalogue_field.html``.

        A field with no value and no error is written alike on every page
        with the same catalogue lists (one version's): it is written once for
        them, and so is the whole form when every field is so.
        """
        lists = stored_choices(self.catalogue_version)
        kept = _blank_fields.get("catalogue")
        if kept is None or kept[0] is not lists:
            kept = _blank_fields["catalogue"] = (lists, {})
        blank = kept[1]
        if not self.is_bound and ALL_BLANK in blank:
            return blank[ALL_BLANK]
        data, errors = self._data_and_errors()
        names = self.get_form_class().base_fields
        chosen = {name for name in names if data.get(name) or name in errors}
        to_write = chosen | (names.keys() - blank.keys())
        written = {}
        if to_write:
            template = loader.get_template("films/catalogue_field.html", using="jinja2")
            for field in self.fields_shown(lists, to_write):
                written[field.name] = template.render({"field": field})
                if field.name not in chosen:
                    blank[field.name] = written[field.name]
        parts = [f"\n    {written.get(name) or blank[name]}\n  " for name in names]
        html = Markup("".join(parts))  # noqa: S704 — written by an autoescaping template
        if not self.is_bound:
            blank[ALL_BLANK] = html
        return html

    def _data_and_errors(self):
        if not self.is_bound:
            return {}, {}
        return self.form.data, self.form.errors

    def get_form_class(self):
        # Built once: the fields are the same for every request (django-filter
        # would build the class, and every field, again for each).
        form_class = type(self).__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            for name in ("year_min", "year_max", "runtime_min", "runtime_max"):
                field = form_class.base_fields[name]
                field.widget = forms.NumberInput(attrs={"inputmode": "numeric"})
            form_class.base_fields = SharedFields(form_class.base_fields)
            type(self)._form_class = form_class
        return form_class


FilmFilter.base_filters = LightCopies(FilmFilter.base_filters)
