"""Driving the admin as a browser would: read a form, change it, post it back."""

import importlib
from types import SimpleNamespace

from django import forms
from django.apps import apps
from django.contrib.auth.models import Group
from django.db import connection

from films.models import Film, Scene

EDITOR_PASSWORD = "a-long-editor-password"


def make_editor(django_user_model, username="editor"):
    """A member of the Editors group (made by the migration): staff, not superuser."""
    user = django_user_model.objects.create_user(
        username=username, password=EDITOR_PASSWORD, is_staff=True
    )
    user.groups.add(editors_group())
    return user


def editors_group():
    """The Editors group, as its migration makes it.

    A transactional test empties every table when it ends (the group, the
    permissions, the content types), and the tests after it in the same
    worker may need the group: then it is made again, by the migration's
    own function, with the same permissions."""
    group = Group.objects.filter(name="Editors").first()
    if group is not None:
        return group
    migration = importlib.import_module("films.migrations.0002_editors_group")
    films = apps.get_app_config("films")
    models_module = films.models_module  # the function marks it; put it back
    try:
        migration.create_editors(apps, SimpleNamespace(connection=connection))
    finally:
        films.models_module = models_module
    return Group.objects.get(name="Editors")


def _field_data(bound_field):
    value = bound_field.value()
    name = bound_field.html_name
    multiple = (forms.ModelMultipleChoiceField, forms.MultipleChoiceField)
    if value is None and isinstance(bound_field.field, multiple):
        value = []
    if isinstance(value, bool):
        return {name: "on"} if value else {}
    if isinstance(value, (list, tuple)):
        return {name: [str(v) for v in value]}
    return {name: "" if value is None else str(value)}


def form_data(response):
    """What the admin change form in ``response`` would post, unchanged."""
    assert response.status_code == 200, response.status_code
    data = {}
    for bound_field in response.context["adminform"].form:
        data.update(_field_data(bound_field))
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for bound_field in formset.management_form:
            data.update(_field_data(bound_field))
        for form in formset.forms:
            for bound_field in form:
                data.update(_field_data(bound_field))
    return data


def add_row(data, prefix, **fields):
    """Append a new inline row to ``data``; returns its index."""
    index = int(data[f"{prefix}-TOTAL_FORMS"])
    for name, value in fields.items():
        data[f"{prefix}-{index}-{name}"] = value
    data[f"{prefix}-TOTAL_FORMS"] = str(index + 1)
    return index


def row_index(data, prefix, field, value):
    """The index of the inline row whose ``field`` is ``value``."""
    total = int(data[f"{prefix}-TOTAL_FORMS"])
    for index in range(total):
        if data.get(f"{prefix}-{index}-{field}") == str(value):
            return index
    raise LookupError(f"no {prefix} row with {field}={value!r}")


def inline_formset(response, prefix):
    for inline in response.context["inline_admin_formsets"]:
        if inline.formset.prefix == prefix:
            return inline.formset
    raise LookupError(prefix)


def row_errors(response, prefix, index):
    """Errors of one inline row, as ``{field: [messages]}``."""
    form = inline_formset(response, prefix).forms[index]
    return {field: list(messages) for field, messages in form.errors.items()}


def change_url(film):
    return f"/admin/films/film/{film.pk}/change/"


def guide_state(film):
    """Everything about a film's scenes, to check that nothing was saved."""
    film = Film.objects.get(pk=film.pk)
    return (
        film.runtime,
        film.updated_at,
        list(
            Scene.objects.filter(film=film)
            .order_by("pk")
            .values_list(
                "pk",
                "screen_position",
                "story_position",
                "starts_at",
                "ends_at",
                "title",
                "summary",
            )
        ),
        list(film.characters.order_by("pk").values_list("pk", "name", "reveals_at")),
        list(film.film_themes.order_by("pk").values_list("pk", "reveals_at")),
        list(film.plot_sections.order_by("pk").values_list("pk", "reveals_at")),
    )
