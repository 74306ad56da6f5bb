"""Visitor pages. Each view loads, validates its query parameters, renders.

Every film page is built for one horizon (``films/spoilers.py``): rows beyond
it are never loaded with their text — only their reveal points, for the
placeholders that let the visitor move the horizon.
"""

import json
from datetime import timedelta
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.html import strip_tags
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import requires_csrf_token

from films import search
from films.filters import FilmFilter
from films.models import Character, Credit, Film, FilmTheme, Person, Scene, Theme
from films.spoilers import (
    ALL,
    NONE,
    format_timecode,
    horizon_for,
    remember_horizon,
    remembered_horizon,
)
from films.templatetags.guide import render_markdown

PAGE_SIZE = 20
THEME_COLOURS = 8
ORDERS = {"screen": "Screen order", "story": "Story order"}

SECTIONS = [
    ("detail", "Overview"),
    ("timeline", "Timeline"),
    ("characters", "Characters"),
    ("themes", "Themes"),
    ("ending", "Ending explained"),
    ("next", "What to watch next"),
]


# --- Helpers shared by the film pages -------------------------------------------


def plain_text(markdown_text):
    return " ".join(strip_tags(render_markdown(markdown_text)).split())


def seen_url(url, at):
    """``url`` with the horizon moved to ``at`` (a timedelta, ``all`` or ``none``)."""
    value = at if isinstance(at, str) else format_timecode(at)
    return f"{url}?{urlencode({'seen': value})}"


def placeholder(url, at, film, what):
    """A hidden item: what it is, when it is revealed, a link moving the horizon."""
    if at is None or at >= film.duration:
        return {"what": what, "label": "the end", "url": seen_url(url, ALL)}
    return {"what": what, "label": format_timecode(at), "url": seen_url(url, at)}


def unless_revealed(horizon, reveals_at, url, film, what):
    """None if the horizon reveals ``reveals_at``; its placeholder otherwise."""
    if horizon.reveals(reveals_at):
        return None
    return placeholder(url, reveals_at, film, what)


def hidden_summary(url, reveal_points, film, one, many):
    """One placeholder for several hidden items, pointing at the next one."""
    points = sorted(p for p in reveal_points if p is not None)
    if not points:
        return None
    what = one if len(points) == 1 else f"{len(points)} {many}"
    return placeholder(url, points[0], film, what)


def horizon_options(film, starts, horizon):
    """The picker's choices: nothing, each scene's start, everything — and the
    visitor's own time, where it falls between two of them.

    Scenes are named by number and time only — their titles may be spoilers.
    Films without scenes get a choice every quarter of an hour.
    """
    if starts:
        points = [
            (at, f"Scene {position}, from {format_timecode(at)}")
            for position, at in starts
        ]
    else:
        points = [
            (timedelta(minutes=m), format_timecode(timedelta(minutes=m)))
            for m in range(15, film.runtime, 15)
        ]
    if horizon.kind == "time" and horizon.at not in {at for at, _ in points}:
        points.append((horizon.at, f"{format_timecode(horizon.at)} (your choice)"))
        points.sort(key=lambda point: point[0])
    return [
        (NONE, "Nothing yet — no spoilers"),
        *((format_timecode(at), label) for at, label in points),
        (ALL, "The whole film — show everything"),
    ]


def load_film(request, slug, queryset=None):
    queryset = Film.objects.all() if queryset is None else queryset
    return get_object_or_404(queryset.visible_to(request.user), slug=slug)


def render_film_page(request, film, choice, template, context, *, section):
    """Render one of a film's pages with the horizon control and navigation."""
    horizon = choice.horizon
    starts = context.pop("scene_starts", None)
    if starts is None:
        starts = list(
            film.scenes.in_screen_order().values_list("screen_position", "starts_at")
        )
    carry = {} if horizon.is_none else {"seen": str(horizon)}
    query = f"?{urlencode(carry)}" if carry else ""
    page_url = (
        request.path
        if section == "character"
        else reverse(f"films:{section}", args=[film.slug])
    )
    context = {
        "film": film,
        "horizon": horizon,
        "horizon_label": horizon_label(horizon),
        "horizon_options": horizon_options(film, starts, horizon),
        "horizon_value": str(horizon),
        "horizon_message": choice.message,
        "page_url": page_url,
        "section": section,
        "sections": [
            (name, label, reverse(f"films:{name}", args=[film.slug]) + query)
            for name, label in SECTIONS
        ],
        "query": query,
        "canonical": request.build_absolute_uri(page_url),
        "meta_description": plain_text(film.premise),
        **context,
    }
    response = render(request, template, context)
    remember_horizon(response, film, choice)
    patch_vary_headers(response, ["Cookie"])
    patch_cache_control(response, private=True)
    return response


def horizon_label(horizon):
    if horizon.is_none:
        return "nothing yet — no spoilers"
    if horizon.is_all:
        return "the whole film — everything is shown"
    return f"up to {format_timecode(horizon.at)}"


def page_number(request, messages, last=None):
    """``?page=`` as a number from 1 (to ``last``); 1, with a message, if bad."""
    raw = request.GET.get("page", "1")
    try:
        number = int(raw)
    except ValueError:
        number = 0
    if number < 1 or (last is not None and number > last):
        messages.append(f"“{raw[:20]}” is not a page number; showing page 1.")
        return 1
    return number


# --- Site pages ---------------------------------------------------------------


def home(request):
    published = Film.objects.published()
    featured = list(published.filter(featured=True).order_by("title")[:6])
    recent = list(published.order_by("-updated_at")[:8])
    return render(request, "films/home.html", {"featured": featured, "recent": recent})


def catalogue(request):
    """The catalogue: django-filter over published films, sorted and paged."""
    queryset = Film.objects.published().for_list().order_by("title", "year")
    film_filter = FilmFilter(request.GET or None, queryset=queryset)
    paginator = Paginator(film_filter.qs, PAGE_SIZE)
    messages = []
    number = page_number(request, messages)
    if number > paginator.num_pages:
        messages.append(
            f"There is no page {number}; showing the last page, {paginator.num_pages}."
        )
        number = paginator.num_pages
    page = paginator.page(number)
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "films/catalogue.html",
        {
            "filter": film_filter,
            "page": page,
            "messages_for_page": messages,
            "page_query": params.urlencode(),
        },
    )


# --- A film's pages -----------------------------------------------------------


def film_detail(request, slug):
    """Overview: facts, credits, premise, the plot summary up to the horizon."""
    film = load_film(request, slug, Film.objects.for_overview())
    choice = horizon_for(request, film)
    horizon = choice.horizon
    url = reverse("films:detail", args=[film.slug])
    sections = list(film.plot_sections.up_to(horizon).order_by("position"))
    hidden = film.plot_sections.beyond(horizon).values_list("reveals_at", flat=True)
    credits = list(film.credits.all())
    crew = [
        (role.label, [c for c in credits if c.role == role])
        for role in Credit.Role
        if role != Credit.Role.CAST
    ]
    cast = [c for c in credits if c.role == Credit.Role.CAST]
    return render_film_page(
        request,
        film,
        choice,
        "films/detail.html",
        {
            "plot_sections": sections,
            "plot_hidden": hidden_summary(
                url, hidden, film, "The rest of the plot", "more parts of the plot"
            ),
            "crew": [(label, people) for label, people in crew if people],
            "cast": cast,
            "json_ld": json_ld(request, film, credits),
        },
        section="detail",
    )


def json_ld(request, film, credits):
    """schema.org ``Movie`` from spoiler-free fields only."""

    def person(credit):
        return {
            "@type": "Person",
            "name": credit.person.name,
            "url": request.build_absolute_uri(credit.person.get_absolute_url()),
        }

    hours, minutes = divmod(film.runtime, 60)
    data = {
        "@context": "https://schema.org",
        "@type": "Movie",
        "name": film.title,
        "url": request.build_absolute_uri(film.get_absolute_url()),
        "alternateName": film.original_title or None,
        "director": [person(c) for c in credits if c.role == Credit.Role.DIRECTOR],
        "actor": [person(c) for c in credits if c.role == Credit.Role.CAST],
        "duration": f"PT{hours}H{minutes}M" if hours else f"PT{minutes}M",
        "dateCreated": str(film.year),
        "inLanguage": [language.code for language in film.languages.all()],
        "countryOfOrigin": [
            {"@type": "Country", "name": country.name}
            for country in film.countries.all()
        ],
        "genre": [genre.name for genre in film.genres.all()],
        "isBasedOn": film.based_on or None,
        "dateModified": film.updated_at.isoformat(),
        "description": plain_text(film.premise),
    }
    data = {key: value for key, value in data.items() if value not in (None, [])}
    text = json.dumps(data, ensure_ascii=False, indent=2)
    # Inside <script>, "<", ">" and "&" must not be able to close the element.
    escaped = (
        text.replace("<", "\\u003C").replace(">", "\\u003E").replace("&", "\\u0026")
    )
    return mark_safe(escaped)  # noqa: S308 — JSON with markup characters escaped


def timeline(request, slug):
    """Scene by scene in screen or story order, up to the horizon."""
    film = load_film(request, slug)
    choice = horizon_for(request, film)
    horizon = choice.horizon
    order = request.GET.get("order", "screen")
    messages = []
    if order not in ORDERS:
        messages.append(
            f"“{order[:20]}” is not an order: showing screen order "
            "(choose screen or story)."
        )
        order = "screen"
    all_scenes = list(
        film.scenes.in_screen_order().values_list(
            "screen_position", "starts_at", "story_position"
        )
    )
    orders_differ = any(screen != story for screen, _, story in all_scenes)
    film_themes = list(film.film_themes.select_related("theme"))
    colours = {
        ft.theme_id: index % THEME_COLOURS for index, ft in enumerate(film_themes)
    }
    scenes = list(
        film.scenes.up_to(horizon)
        .prefetch_related(
            Prefetch("characters", queryset=Character.objects.up_to(horizon)),
            "themes",
        )
        .order_by("story_position" if order == "story" else "screen_position")
    )
    for scene in scenes:
        scene.theme_tags = [
            (theme, colours.get(theme.id, THEME_COLOURS))
            for theme in scene.themes.all()
        ]
    shown_themes = {theme.id for scene in scenes for theme, _ in scene.theme_tags}
    url = reverse("films:timeline", args=[film.slug])
    order_query = "" if order == "screen" else "&" + urlencode({"order": order})
    hidden = [
        placeholder(url, at, film, f"Scene {position}")
        for position, at, _ in all_scenes
        if not horizon.reveals(at)
    ]
    for item in hidden:
        item["url"] += order_query
    summary = hidden_summary(
        url,
        [at for _, at, _ in all_scenes if not horizon.reveals(at)],
        film,
        "One more scene",
        "more scenes",
    )
    if summary:
        summary["url"] += order_query
    return render_film_page(
        request,
        film,
        choice,
        "films/timeline.html",
        {
            "scenes": scenes,
            "hidden_scenes": hidden if order == "screen" else [],
            "hidden_summary": summary if order == "story" else None,
            "order": order,
            "orders": ORDERS,
            "orders_differ": orders_differ,
            "page_messages": messages,
            "scene_count": len(all_scenes),
            "scene_starts": [(p, at) for p, at, _ in all_scenes],
            "legend": [
                (ft.theme, colours[ft.theme_id])
                for ft in film_themes
                if ft.theme_id in shown_themes
            ],
        },
        section="timeline",
    )


def characters(request, slug):
    film = load_film(request, slug)
    choice = horizon_for(request, film)
    horizon = choice.horizon
    people = list(
        film.characters.up_to(horizon).prefetch_related(
            Prefetch("credits", queryset=Credit.objects.select_related("person"))
        )
    )
    hidden = film.characters.beyond(horizon).values_list("reveals_at", flat=True)
    url = reverse("films:characters", args=[film.slug])
    return render_film_page(
        request,
        film,
        choice,
        "films/characters.html",
        {
            "characters": people,
            "characters_hidden": hidden_summary(
                url, hidden, film, "One more character", "more characters"
            ),
        },
        section="characters",
    )


def character_detail(request, slug, character_slug):
    film = load_film(request, slug)
    character = get_object_or_404(
        film.characters.prefetch_related(
            Prefetch("credits", queryset=Credit.objects.select_related("person"))
        ),
        slug=character_slug,
    )
    choice = horizon_for(request, film)
    horizon = choice.horizon
    url = request.path
    context = {"character_hidden": None}
    if not horizon.reveals(character.reveals_at):
        # Not even the name: the visitor has not met this character yet.
        context["character_hidden"] = placeholder(
            url, character.reveals_at, film, "This character"
        )
        character = None
    else:
        beats = list(character.beats.up_to(horizon))
        hidden = character.beats.beyond(horizon).values_list("reveals_at", flat=True)
        context.update(
            beats=beats,
            beats_hidden=hidden_summary(
                url, hidden, film, "The next step of their story", "more steps"
            ),
            scenes=list(character.scenes.up_to(horizon).in_screen_order()),
        )
    return render_film_page(
        request,
        film,
        choice,
        "films/character_detail.html",
        {"character": character, **context},
        section="character",
    )


def film_themes(request, slug):
    film = load_film(request, slug)
    choice = horizon_for(request, film)
    horizon = choice.horizon
    url = reverse("films:themes", args=[film.slug])
    analyses = list(film.film_themes.select_related("theme"))
    scenes = list(
        film.scenes.up_to(horizon)
        .filter(themes__in=[ft.theme_id for ft in analyses])
        .prefetch_related("themes")
        .in_screen_order()
        .distinct()
    )
    for index, analysis in enumerate(analyses):
        analysis.colour = index % THEME_COLOURS
        analysis.hidden = unless_revealed(
            horizon, analysis.reveals_at, url, film, "The analysis"
        )
        analysis.visible = analysis.hidden is None
        analysis.carried_by = [
            s for s in scenes if analysis.theme_id in {t.id for t in s.themes.all()}
        ]
    return render_film_page(
        request,
        film,
        choice,
        "films/themes.html",
        {"analyses": analyses},
        section="themes",
    )


def ending(request, slug):
    film = load_film(request, slug)
    choice = horizon_for(request, film)
    url = reverse("films:ending", args=[film.slug])
    hidden = unless_revealed(
        choice.horizon, film.ending_reveals_at, url, film, "The ending explained"
    )
    return render_film_page(
        request,
        film,
        choice,
        "films/ending.html",
        {"ending_shown": hidden is None, "ending_hidden": hidden},
        section="ending",
    )


def watch_next(request, slug):
    film = load_film(request, slug)
    choice = horizon_for(request, film)
    recommendations = list(film.recommendations.all())
    guided = {
        f.slug: f
        for f in Film.objects.published().filter(
            slug__in=[r.target_slug for r in recommendations]
        )
    }
    for rec in recommendations:
        rec.target = guided.get(rec.target_slug)
    return render_film_page(
        request,
        film,
        choice,
        "films/next.html",
        {"recommendations": recommendations},
        section="next",
    )


# --- Across films ---------------------------------------------------------------


def theme_detail(request, slug):
    """One theme across films; each film's analysis within its own horizon."""
    theme = get_object_or_404(Theme, slug=slug)
    analyses = list(
        FilmTheme.objects.filter(theme=theme, film__in=Film.objects.published())
        .select_related("film")
        .order_by("film__year", "film__title")
    )
    horizons = {}
    for analysis in analyses:
        film = analysis.film
        horizons[film.id] = remembered_horizon(request, film)
    visible = Q(pk__in=[])
    for film_id, horizon in horizons.items():
        visible |= Q(film_id=film_id) & horizon.q("starts_at", nullable=False)
    scenes = list(
        Scene.objects.filter(themes=theme)
        .filter(visible)
        .order_by("film", "screen_position")
    )
    for analysis in analyses:
        film = analysis.film
        horizon = horizons[film.id]
        url = reverse("films:themes", args=[film.slug])
        analysis.hidden = unless_revealed(
            horizon, analysis.reveals_at, url, film, f"Its analysis in {film}"
        )
        analysis.visible = analysis.hidden is None
        analysis.carried_by = [s for s in scenes if s.film_id == film.id]
    return render(
        request,
        "films/theme_detail.html",
        {"theme": theme, "analyses": analyses},
    )


def person_detail(request, slug):
    person = get_object_or_404(Person, slug=slug)
    credits = list(
        person.credits.filter(film__in=Film.objects.published())
        .select_related("film", "character")
        .order_by("film__year", "film__title", "position")
    )
    films = {}
    for credit in credits:
        films.setdefault(credit.film, []).append(credit)
    return render(
        request,
        "films/person_detail.html",
        {"person": person, "films": list(films.items())},
    )


# --- Search ---------------------------------------------------------------------


def search_page(request):
    """Search across the catalogue, within the visitor's horizon for each film."""
    raw = request.GET.get("q", "")
    query, message = search.clean_query(raw)
    kind = request.GET.get("kind") or None
    messages = [message] if message else []
    if kind is not None and kind not in search.KINDS:
        messages.append(f"“{kind[:20]}” is not a kind of result; showing all kinds.")
        kind = None
    page = page_number(request, messages, last=1000)
    groups = (
        search.search(
            query, search.horizons_from_cookies(request), kind=kind, page=page
        )
        if query
        else []
    )
    params = {"q": query}
    return render(
        request,
        "films/search.html",
        {
            "query": query,
            "kind": kind,
            "kind_label": search.KINDS.get(kind),
            "first_number": (page - 1) * search.PAGE_SIZE + 1 if kind else None,
            "page": page,
            "groups": groups,
            "found": any(group.hits for group in groups),
            "search_messages": messages,
            "query_string": urlencode(params),
            "full_text": connection.vendor == "postgresql",
        },
    )


# --- Errors ---------------------------------------------------------------------


def page_not_found(request, exception):
    return render(request, "404.html", status=404)


@requires_csrf_token
def server_error(request):
    return render(request, "500.html", status=500)
