"""Filters that only format: timecodes, runtimes, ordinals.

Editor text is not rendered here: pages show the HTML stored when it was
written (``films/markup.py``).
"""

from django import template

from films.spoilers import format_timecode

register = template.Library()


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
