"""The catalogue's filters. Each field validates its input; a bad value is
reported beside its field and ignored, never a server error."""

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q

from films.models import (
    MAX_RUNTIME,
    MAX_YEAR,
    MIN_YEAR,
    CatalogueVersion,
    Credit,
    Film,
    Person,
)


def stored_choices():
    """The filters' choices as the catalogue's row keeps them (worked out
    afresh if it has none yet, as before its first change)."""
    from films.derived import CHOICES, filter_choices

    row = CatalogueVersion.objects.filter(pk=1).values_list("choices", flat=True)
    choices = next(iter(row), None)
    if not choices or set(choices) != set(CHOICES):
        choices = filter_choices()
    return choices


def _give_choices(form):
    if getattr(form, "has_stored_choices", False):
        return
    form.has_stored_choices = True
    for name, rows in stored_choices().items():
        form.fields[name].choices = [tuple(row) for row in rows]


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


# The filters that join through a many-to-many relation.
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
    language = django_filters.ChoiceFilter(
        choices=[],  # the catalogue's own, given to each form (stored_choices)
        field_name="languages__code",
        empty_label="Any language",
        label="Language",
    )
    country = django_filters.ChoiceFilter(
        choices=[],  # the catalogue's own, given to each form (stored_choices)
        field_name="countries__code",
        empty_label="Any country",
        label="Country",
    )
    genre = django_filters.ChoiceFilter(
        choices=[],  # the catalogue's own, given to each form (stored_choices)
        field_name="genres__slug",
        empty_label="Any genre",
        label="Genre",
    )
    theme = django_filters.ChoiceFilter(
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

    @property
    def qs(self):
        queryset = super().qs
        # Joins through many-to-many filters could repeat a film; without
        # them (the catalogue as most visitors see it) DISTINCT only costs.
        data = self.form.cleaned_data if self.is_bound else {}
        if any(data.get(name) for name in THROUGH_MANY):
            queryset = queryset.distinct()
        return queryset

    @property
    def form(self):
        """The form; given the catalogue's lists of languages, countries,
        genres and themes when a value is chosen from one (to check it)."""
        if not hasattr(self, "_form"):
            form = super().form
            if self.is_bound and any(self.data.get(name) for name in THROUGH_MANY):
                _give_choices(form)
        return self._form

    def give_choices(self):
        """Fill the form's lists from the catalogue's row (kept by
        ``films.derived`` with its version): no query for each list, nor for
        checking a value chosen from one. For a page that shows the form."""
        _give_choices(self.form)

    def get_form_class(self):
        # Built once: the fields are the same for every request (django-filter
        # would build the class, and every field, again for each).
        form_class = type(self).__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            for name in ("year_min", "year_max", "runtime_min", "runtime_max"):
                field = form_class.base_fields[name]
                field.widget = forms.NumberInput(attrs={"inputmode": "numeric"})
            type(self)._form_class = form_class
        return form_class
