"""The public pages' Jinja2 environment: what autoescaping writes."""

import pytest
from django.template import engines
from django.utils.safestring import mark_safe
from markupsafe import Markup

from films.templating import escape_output


class Html:
    def __html__(self):
        return "<b>own</b>"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("<script>&\"'", "&lt;script&gt;&amp;&#34;&#39;"),
        (Markup("<em>safe</em>"), "<em>safe</em>"),
        (mark_safe("<em>django</em>"), "<em>django</em>"),
        (12, "12"),
        (1.5, "1.5"),
        (True, "True"),
        (None, "None"),
        (Html(), "<b>own</b>"),
    ],
)
def test_output_is_escaped_unless_it_is_safe_already(value, written):
    assert str(escape_output(value)) == written
    # And a template writes the same.
    template = engines["jinja2"].from_string("[{{ value }}]")
    assert template.render({"value": value}) == f"[{written}]"


def test_a_subclass_of_str_is_escaped_like_text():
    class Name(str):
        pass

    template = engines["jinja2"].from_string("{{ value }}")
    assert template.render({"value": Name("<i>")}) == "&lt;i&gt;"
