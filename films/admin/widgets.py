"""Shared form fields and widgets: times typed as ``H:MM``, short text areas,
plain selects, and autocomplete widgets that label values they already know
without a query per row.
"""

import re
from datetime import timedelta

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models

from films.spoilers import format_timecode

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
