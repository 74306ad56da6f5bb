"""Filters that only format: Markdown to sanitised HTML, timecodes, runtimes."""

import markdown as markdown_lib
import nh3
from django import template
from django.utils.safestring import mark_safe

from films.spoilers import format_timecode

register = template.Library()

ALLOWED_TAGS = {"p", "em", "strong", "a", "ul", "ol", "li", "blockquote", "br", "code"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def render_markdown(text):
    """Editor Markdown → HTML that carries no raw HTML, script or style."""
    html = markdown_lib.markdown(text or "", output_format="html")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


@register.filter
def markdown(text):
    return mark_safe(render_markdown(text))  # noqa: S308 — sanitised by nh3 above


@register.filter
def timecode(value):
    """``timedelta`` → ``1:05`` (``1:05:30`` when seconds are set)."""
    if value is None:
        return ""
    return format_timecode(value)


@register.filter
def runtime(minutes):
    """162 → ``162 min (2 h 42 min)``."""
    if not minutes:
        return ""
    hours, mins = divmod(int(minutes), 60)
    return f"{minutes} min ({hours} h {mins:02d} min)" if hours else f"{minutes} min"


@register.filter
def ordinal(number):
    """3 → ``3rd``."""
    number = int(number)
    if 10 <= number % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"
