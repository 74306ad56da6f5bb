"""Watch along, and "what did I miss?" — the guide beside the film as it plays.

``/films/<slug>/watch/?seen=1:12`` is the guide at one moment: the scene
playing then, what has just become known (character beats, theme notes,
plot sections revealed since that scene began) and when the next scene
starts — its time only, never its content. The position is the visitor's
horizon like ``seen`` anywhere on the site, and is remembered the same way,
so the other pages follow.

``?from=0:52&to=0:58`` recaps a stretch the visitor missed: the scenes that
began in it (and the one they left in the middle of), and everything
revealed in it. The horizon is ``to``; ``from`` only narrows what is shown,
so a recap never shows more than the guide does at ``to``.

Both are served through the page cache (films/pages.py): the page depends
only on the effective horizon and, for a recap, the effective ``from``. A
small script of our own (static/js/watch.js) runs a clock and asks for this
page again at each scene's start — never for a moment ahead of the clock.
"""

from datetime import timedelta

from films import documents
from films.pages import film_page
from films.spoilers import (
    Horizon,
    InvalidHorizon,
    effective_horizon,
    format_timecode,
)
from films.views import revealed_scenes


def recap_start(request, page):
    """The effective ``from`` of a recap ("" for none), or a message."""
    raw = request.GET.get("from")
    if raw is None or raw == "":
        return ""
    try:
        start = Horizon.parse(raw)
    except InvalidHorizon as error:
        page.messages.append(f"{error} Showing no recap.")
        return ""
    if start.is_all:
        page.messages.append("“from” is where you stepped out: use a time, e.g. 0:52.")
        return ""
    horizon = page.choice.horizon
    at = start.at if start.at is not None else timedelta(0)
    if horizon.is_none or (not horizon.is_all and at >= horizon.at):
        page.messages.append(
            f"You stepped out at {format_timecode(at)}: “to” must be later than that."
        )
        return ""
    # Moved back to the last reveal point or scene end before it: the recap
    # is the same for every time up to the next, and starts with the scene
    # the visitor left during (if any), not one that had ended already.
    return str(effective_horizon(Horizon.at_time(at), page.points.marks))


@film_page(
    "watch",
    horizon_params=("to", "seen"),
    extra=recap_start,
    parts=("scenes", "characters", "themes", "overview"),
)
def watch(request, page):
    """The guide at the visitor's point in the film, and an optional recap."""
    film, horizon = page.film, page.horizon
    starts = sorted(at for _, at, _ in page.points.scenes)
    shown = [at for at in starts if horizon.reveals(at)]
    upcoming = [at for at in starts if not horizon.reveals(at)]
    parts = documents.load(film, ["scenes", "characters", "themes", "overview"])
    scenes = revealed_scenes(page, parts["scenes"])
    now = max(scenes, key=lambda s: s.starts_at) if scenes else None
    since = None if page.extra == "" else Horizon.parse(page.extra)
    context = {
        "now": now,
        "next_start": upcoming[0] if upcoming else None,
        "next_position": len(shown) + 1,
        "scene_count": len(starts),
        "recap": None,
    }
    if now is not None:
        context["news"] = revealed_between(
            parts, horizon, now.starts_at, inclusive=True
        )
    if since is not None:
        after = since.at  # None: from the very start
        context["recap"] = {
            "from": since,
            "scenes": [s for s in scenes if after is None or s.ends_at > after],
            "news": revealed_between(parts, horizon, after, inclusive=False),
        }
    return "films/watch.html", context


def revealed_between(parts, horizon, start, *, inclusive):
    """What the horizon reveals from ``start`` on (after it, unless
    ``inclusive``): character beats, theme notes and plot sections, each
    kind in the order the film reveals them. ``start`` None means from the
    beginning; spoiler-free rows are never "news". ``parts`` are the film's
    "characters", "themes" and "overview" (``films/documents.py``)."""

    def news(item):
        at = item.reveals_at
        return (
            at is not None
            and horizon.reveals(at)
            and (start is None or at > start or (inclusive and at == start))
        )

    beats = []
    for character in documents.revealed(parts["characters"], horizon):
        its_beats = character.beats
        del character.beats  # the news shows its beats the horizon reveals only
        for beat in its_beats:
            if news(beat):
                beat.character = character
                beats.append(beat)
    beats.sort(key=lambda b: (b.reveals_at, b.character.position, b.position))
    # Sorted stably: analyses revealed together keep the guide's order.
    themes = sorted(
        filter(news, map(documents.row, parts["themes"])), key=lambda t: t.reveals_at
    )
    plot = sorted(
        filter(news, map(documents.row, parts["overview"]["plot"])),
        key=lambda p: (p.reveals_at, p.position),
    )
    return {"beats": beats, "themes": themes, "plot": plot}
