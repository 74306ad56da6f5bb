"""Visitor pages. Each view loads, validates its query parameters, renders.

Every film page is built for one horizon (``films/spoilers.py``): rows beyond
it are never loaded with their text — only their reveal points, for the
placeholders that let the visitor move the horizon. Film pages and pages
across films are served through the page cache (``films/pages.py``).
"""

import functools
import json
import sys
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import requires_csrf_token
from django.views.decorators.http import require_safe

from films import documents, search, story_map
from films.filters import FilmFilter, kept_version, stored_choices
from films.models import (
    Credit,
    Film,
    FilmTheme,
    Person,
    Scene,
    Theme,
)
from films.pages import (
    AMP_MARK,
    ORDERS,
    catalogue_version,
    film_description,
    film_page,
    film_urls,
    site_page,
)
from films.spoilers import (
    placeholder,
    remembered_horizon,
)

PAGE_SIZE = 20
MAX_PAGE = 1_000_000  # of the catalogue: twenty million films
THEME_COLOURS = documents.THEME_COLOURS


# --- Helpers shared by the film pages -------------------------------------------


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


PEOPLE_URL = "/people/"  # checked against the URLconf by tests/test_pages.py


@site_page()
def home(request):
    published = Film.objects.published()
    featured = list(published.filter(featured=True).order_by("title")[:6])
    recent = list(published.order_by("-updated_at")[:8])
    return render(request, "films/home.html", {"featured": featured, "recent": recent})


class CataloguePage:
    """One page of the catalogue: its filter set, cards, number, the films in
    all, its messages, and the catalogue's version its films were read at
    (None if no film on the page carried it); ``version``, the one it shows,
    is set by ``read_catalogue``."""

    def __init__(self, film_filter, cards, number, count, messages, read_at):
        self.filter = film_filter
        self.cards = cards
        self.number = number
        self.count = count
        self.num_pages = max(1, -(-count // PAGE_SIZE))
        self.messages = messages
        self.read_at = read_at
        self.version = None

    def has_previous(self):
        return self.number > 1

    def has_next(self):
        return self.number < self.num_pages


def read_catalogue(request):
    """The catalogue page the request asks for, read once for the request,
    with the catalogue's version it shows.

    With the page cache on, that version is known first (``site_page``). With
    it off, the version comes with the page's films, in their one query: the
    page is read for the version whose filter choices this process keeps,
    and read again, with the newer version's choices, if its films were of
    another. The form's lists, the films and the ETag are of one version.
    """
    page = getattr(request, "_catalogue_page", None)
    if page is not None:
        return page
    version = getattr(request, "catalogue_version", None)
    if version is None:
        for _attempt in range(3):
            assumed = kept_version()
            if assumed is None:
                break
            page = _catalogue_page(request, assumed)
            read_at = page.read_at
            if read_at is None:
                # No film to carry it: read after the page, and versions only
                # grow, so the assumed one again means the page was of it.
                read_at = catalogue_version()
            if read_at == assumed:
                version = assumed
                break
            page = None
            stored_choices()  # the newer version's choices, kept with it
        if page is None:
            version = catalogue_version()
    if page is None:
        page = _catalogue_page(request, version)
    page.version = version
    request._catalogue_page = page
    return page


@functools.cache
def catalogue_films():
    """The catalogue's films, in its order: one query set for the process,
    never evaluated itself (django-filter's ``qs`` and ``cards()`` make
    theirs from it), as making it costs more than a page's filtering."""
    return Film.objects.published().order_by("title", "year")


def _catalogue_page(request, version):
    """The page asked for, with the filter form's lists of ``version``."""
    film_filter = FilmFilter(
        request.GET or None,
        queryset=catalogue_films(),
        key="catalogue",
        catalogue_version=version,
    )
    messages = []
    number = page_number(request, messages)
    cards, count, read_at = [], None, None
    if number <= MAX_PAGE:  # beyond it, an offset the database would refuse
        cards, count, read_at = film_filter.cards((number - 1) * PAGE_SIZE, PAGE_SIZE)
    if count is None:  # past the last page
        last = max(1, -(-film_filter.qs.count() // PAGE_SIZE))
        messages.append(f"There is no page {number}; showing the last page, {last}.")
        number = last
        cards, count, read_at = film_filter.cards((number - 1) * PAGE_SIZE, PAGE_SIZE)
    # (count None only if the films went between the count and the page)
    return CataloguePage(film_filter, cards, number, count or 0, messages, read_at)


@site_page(reads=lambda request: read_catalogue(request).version)
def catalogue(request):
    """The catalogue: django-filter over published films, sorted and paged."""
    page = read_catalogue(request)
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "films/catalogue.html",
        {
            "filter": page.filter,
            "page": page,
            "messages_for_page": page.messages,
            "page_query": params.urlencode(),
            "urls": {"people": PEOPLE_URL, "films": reverse("films:catalogue")},
        },
    )


# --- A film's pages -----------------------------------------------------------
# Each takes the request and its FilmRequest (films/pages.py: the film, the
# visitor's horizon and the effective one, the order) and returns the template
# and its context; the page cache calls it only for a variant not yet built.


@film_page("detail", parts=("overview",))
def film_detail(request, page):
    """Overview: facts, credits, premise, the plot summary up to the horizon."""
    film, horizon = page.film, page.horizon
    url = page.page_url
    part = documents.load(film, ["overview"])["overview"]
    hidden = [at for at in page.points.of("plot") if not horizon.reveals(at)]
    return "films/detail.html", {
        "story_map": story_map.compact(
            film=film, starts=page.points.scenes, horizon=horizon
        )
        if page.points.scenes
        else None,
        "plot_sections": documents.revealed(part["plot"], horizon),
        "plot_hidden": hidden_summary(
            url, hidden, film, "The rest of the plot", "more parts of the plot"
        ),
        # The same at every horizon: written with the guide.
        "facts_html": SafeString(part["facts_html"]),
        "json_ld": json_ld(page, part),
    }


FACETS = ("languages", "countries", "genres")


def film_facets(film):
    """The film's languages, countries and genres: ``{kind: [(key, name)]}``."""
    part = documents.load(film, ["overview"])["overview"]
    return {kind: [tuple(item) for item in part[kind]] for kind in FACETS}


def json_ld(page, part):
    """schema.org ``Movie`` from spoiler-free fields only (the overview part's
    credits and facets), made once per version of the guide and site."""
    film = page.film
    key = (film.pk, film.version, page.site)
    text = _json_ld.get(key)
    if text is None:
        text = _movie(page, part)
        if len(_json_ld) >= 10_000:
            _json_ld.clear()
        _json_ld[key] = text  # versions never repeat: always right
    return text


_json_ld = {}


def _movie(page, part):
    film = page.film
    credits = part["credits"]

    def people(role):
        return [
            {
                "@type": "Person",
                "name": credit["person"]["name"],
                "url": f"{page.site}{PEOPLE_URL}{credit['person']['slug']}/",
            }
            for credit in credits
            if credit["role"] == role
        ]

    hours, minutes = divmod(film.runtime, 60)
    data = {
        "@context": "https://schema.org",
        "@type": "Movie",
        "name": film.title,
        "url": page.site + page.page_url,
        "alternateName": film.original_title or None,
        "director": people(Credit.Role.DIRECTOR),
        "actor": people(Credit.Role.CAST),
        "duration": f"PT{hours}H{minutes}M" if hours else f"PT{minutes}M",
        "dateCreated": str(film.year),
        "inLanguage": [code for code, _ in part["languages"]],
        "countryOfOrigin": [
            {"@type": "Country", "name": name} for _, name in part["countries"]
        ],
        "genre": [name for _, name in part["genres"]],
        "isBasedOn": film.based_on or None,
        "dateModified": film.updated_at.isoformat(),
        "description": film_description(film).text,
    }
    data = {key: value for key, value in data.items() if value not in (None, [])}
    text = json.dumps(data, ensure_ascii=False, indent=2)
    # Inside <script>, "<", ">" and "&" must not be able to close the element.
    escaped = (
        text.replace("<", "\\u003C").replace(">", "\\u003E").replace("&", "\\u0026")
    )
    return mark_safe(escaped)  # noqa: S308 — JSON with markup characters escaped


def revealed_scenes(page, part):
    """The scenes the horizon reveals, in screen order, each with those of
    its characters the horizon reveals (``cast``: slug, name, is main,
    position; ``people``: slug and name) and its themes (``themes``: theme
    id, slug, name)."""
    horizon = page.horizon
    scenes = []
    for data in part["scenes"]:
        if not horizon.reveals(documents.seconds_to_time(data["starts_at"])):
            continue
        scene = documents.row(data, without=("characters",))
        scene.pk = scene.id
        scene.cast = [
            (slug, name, is_main, position)
            for slug, name, is_main, position, at in data["characters"]
            if horizon.reveals(documents.seconds_to_time(at))
        ]
        scene.people = [(slug, name) for slug, name, *_ in scene.cast]
        scenes.append(scene)
    return scenes


def timeline_rows(page, parts=None):
    """The revealed scenes in the page's order, each with its characters
    (``people``) and themes (``theme_tags``); the main characters on screen
    so far (the map's lanes) and the themes shown (the legend). ``parts``:
    the film's scenes and themes parts, if they are read already."""
    if parts is None:
        parts = documents.load(page.film, ["scenes", "themes"])
    film_themes = [
        (item["theme_id"], item["theme"]["slug"], item["theme"]["name"])
        for item in parts["themes"]
    ]
    colours = documents.theme_colours(parts["themes"])
    scenes = revealed_scenes(page, parts["scenes"])
    if page.order == "story":
        scenes.sort(key=lambda s: s.story_position)
    main = {}
    for scene in scenes:
        for slug, name, is_main, position in scene.cast:
            if is_main:
                main[slug] = (position, name)
        scene.theme_tags = documents.theme_tags(scene.themes, colours)
    # A scene's place in the story among the scenes revealed: its place among
    # all of them would tell how many unreached scenes come before it.
    by_story = sorted(scenes, key=lambda s: s.story_position)
    for rank, scene in enumerate(by_story, start=1):
        scene.story_rank = rank
    shown_themes = {slug for scene in scenes for slug, _, _ in scene.theme_tags}
    return {
        "scenes": scenes,
        "lanes": [
            (slug, name) for slug, (_, name) in sorted(main.items(), key=lambda m: m[1])
        ],
        "legend": [
            (slug, name, colours[theme_id])
            for theme_id, slug, name in film_themes
            if slug in shown_themes
        ],
        # Among the revealed scenes only: that a later scene is told out of
        # order is itself something the visitor has not reached.
        "orders_differ": story_map.nonlinearity(scenes)[0] > 0,
    }


def _map(page, rows, **link):
    return story_map.build(
        film=page.film,
        scenes=rows["scenes"],
        horizon=page.horizon,
        order=page.order,
        orders_differ=rows["orders_differ"],
        lanes=rows["lanes"],
        themes=rows["legend"],
        **link,
    )


@film_page("timeline", with_order=True, parts=("scenes", "themes", "timeline"))
def timeline(request, page):
    """Scene by scene in screen or story order, up to the horizon."""
    film, horizon, order = page.film, page.horizon, page.order
    all_scenes = page.points.scenes
    parts = documents.load(film, ["scenes", "themes", "timeline"])
    rows = timeline_rows(page, parts)
    # What every visitor sees the same of each scene was written with the
    # guide (films/_fragments.html); only the characters the horizon reveals
    # and the scene's place among those seen are put together here.
    written = parts["timeline"]
    pieces, links = written["scenes"], written["people"]
    for scene in rows["scenes"]:
        html = pieces[str(scene.id)]
        scene.head_html = SafeString(html["head_html"])
        scene.tail_html = SafeString(html["tail_html"])
        scene.themes_html = SafeString(html["themes_html"])
        scene.people_html = SafeString(
            ", ".join(links[slug] for slug, _ in scene.people)
        )
    url = page.page_url
    order_query = "" if order == "screen" else "&" + urlencode({"order": order})
    # Listed in screen order only (in story order, one summary instead).
    # Which scenes there are comes with the film's head; a head newer than
    # the parts (a replica behind the cache) may list one they lack.
    hidden = (
        [
            SafeString(
                written["hidden"].get(str(position))
                or documents.hidden_scene(url, at, film, position)
            )
            for position, at, _ in all_scenes
            if not horizon.reveals(at)
        ]
        if order == "screen"
        else []
    )
    summary = hidden_summary(
        url,
        [at for _, at, _ in all_scenes if not horizon.reveals(at)],
        film,
        "One more scene",
        "more scenes",
    )
    if summary:
        summary["url"] += order_query
    return "films/timeline.html", {
        "story_map": _map(page, rows),
        "scenes": rows["scenes"],
        "hidden_scenes": hidden,
        "hidden_summary": summary if order == "story" else None,
        "orders": ORDERS,
        "orders_differ": rows["orders_differ"],
        "scene_count": len(all_scenes),
        "legend": rows["legend"],
    }


@film_page(
    "map",
    with_order=True,
    content_type="image/svg+xml; charset=utf-8",
    remembers=False,
    parts=("scenes", "themes"),
)
def timeline_map(request, page):
    """The story map alone, as an image to share or embed: the same horizon
    rules as the timeline; its scenes link to their places on the timeline."""
    timeline_url = page.site + film_urls(page.film)["timeline"]
    order = page.order

    def link(scene):
        # The visitor's own ?seen= goes in per request (films/pages.py).
        return f"{timeline_url}?order={order}{AMP_MARK}#{scene.slug}"

    rows = timeline_rows(page)
    return "films/timeline_map.svg", {"story_map": _map(page, rows, link=link)}


def revealed_characters(page):
    """The characters the horizon reveals, with their credits (their beats
    left out: a page shows only those the horizon reveals)."""
    part = documents.load(page.film, ["characters"])["characters"]
    return documents.revealed(part, page.horizon, without=("beats",))


@film_page("characters", parts=("characters",))
def characters(request, page):
    film, horizon = page.film, page.horizon
    hidden = [at for at in page.points.of("character") if not horizon.reveals(at)]
    return "films/characters.html", {
        "characters": revealed_characters(page),
        "characters_hidden": hidden_summary(
            page.page_url, hidden, film, "One more character", "more characters"
        ),
    }


@film_page("character", parts=("characters", "scenes"))
def character_detail(request, page, character_slug):
    film, horizon = page.film, page.horizon
    parts = documents.load(film, ["characters", "scenes"])
    found = [c for c in parts["characters"] if c["slug"] == character_slug]
    if not found:
        raise Http404("No such character.")
    character = documents.row(found[0], without=("beats",))
    url = page.page_url
    context = {"character_hidden": None}
    if not horizon.reveals(character.reveals_at):
        # Not even the name: the visitor has not met this character yet.
        context["character_hidden"] = placeholder(
            url, character.reveals_at, film, "This character"
        )
        character = None
    else:
        beats = documents.revealed(found[0]["beats"], horizon)
        hidden = [
            at
            for at in page.points.of(f"beats:{character.slug}")
            if not horizon.reveals(at)
        ]
        context.update(
            beats=beats,
            beats_hidden=hidden_summary(
                url, hidden, film, "The next step of their story", "more steps"
            ),
            scenes=[
                scene
                for scene in revealed_scenes(page, parts["scenes"])
                if any(slug == character_slug for slug, _ in scene.people)
            ],
        )
    return "films/character_detail.html", {"character": character, **context}


@film_page("themes", parts=("themes", "scenes"))
def film_themes(request, page):
    film, horizon = page.film, page.horizon
    url = page.page_url
    parts = documents.load(film, ["themes", "scenes"])
    analyses = [documents.row(item) for item in parts["themes"]]
    scenes = revealed_scenes(page, parts["scenes"])
    for index, analysis in enumerate(analyses):
        analysis.colour = index % THEME_COLOURS
        analysis.hidden = unless_revealed(
            horizon, analysis.reveals_at, url, film, "The analysis"
        )
        analysis.visible = analysis.hidden is None
        if not analysis.visible:
            analysis.analysis_html = ""  # never sent, not even to the template
        analysis.carried_by = [
            s
            for s in scenes
            if any(theme_id == analysis.theme_id for theme_id, *_ in s.themes)
        ]
    return "films/themes.html", {"analyses": analyses}


@film_page("ending")
def ending(request, page):
    film = page.film
    hidden = unless_revealed(
        page.horizon,
        film.ending_reveals_at,
        page.page_url,
        film,
        "The ending explained",
    )
    return "films/ending.html", {
        "ending_shown": hidden is None,
        "ending_hidden": hidden,
    }


@film_page("next", parts=("next",))
def watch_next(request, page):
    film = page.film
    recommendations = [
        documents.row(item) for item in documents.load(film, ["next"])["next"]
    ]
    guided = set(
        Film.objects.published()
        .filter(slug__in=[r.target_slug for r in recommendations])
        .values_list("slug", flat=True)
    )
    catalogue_url = reverse("films:catalogue")
    for rec in recommendations:
        rec.target_url = (
            f"{catalogue_url}{rec.target_slug}/" if rec.target_slug in guided else None
        )
    return "films/next.html", {"recommendations": recommendations}


# --- Across films ---------------------------------------------------------------


@site_page(horizons=True)
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


@site_page()
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


@dataclass
class SearchPage:
    """What the search page shows, as :func:`read_search` reads it."""

    query: str
    kind: str | None
    page: int
    messages: list
    groups: list
    version: int


def read_search(request):
    """The search the request asks for, run once for the request, with the
    catalogue's version its results are of.

    With the page cache on, that version is known first (``site_page``), and
    a page found in the cache is never searched. With it off, the version
    comes with the results: on PostgreSQL, from the search's own statement.
    Unless the visitor has horizon cookies: which films those name is read
    before the search, and the version with it (a film published in between
    then shows under an older version, never the reverse).
    """
    memo = getattr(request, "_search_page", None)
    if memo is not None:
        return memo
    query, message = search.clean_query(request.GET.get("q", ""))
    kind = request.GET.get("kind") or None
    messages = [message] if message else []
    if kind is not None and kind not in search.KINDS:
        messages.append(f"“{kind[:20]}” is not a kind of result; showing all kinds.")
        kind = None
    page = page_number(request, messages, last=1000)
    version = getattr(request, "catalogue_version", None)
    horizons = {}
    if query and version is None:
        horizons, version = search.horizons_from_cookies(
            request, version=catalogue_version
        )
    elif query:
        horizons = search.horizons_from_cookies(request)
    groups = []
    if query or version is None:
        found = search.search(
            query,
            horizons,
            kind=kind,
            page=page,
            version=catalogue_version if version is None else None,
        )
        groups, version = found if version is None else (found, version)
    memo = request._search_page = SearchPage(
        query, kind, page, messages, groups, version
    )
    return memo


@site_page(horizons=True, reads=lambda request: read_search(request).version)
def search_page(request):
    """Search across the catalogue, within the visitor's horizon for each film."""
    found = read_search(request)
    query, kind, page = found.query, found.kind, found.page
    return render(
        request,
        "films/search.html",
        {
            "query": query,
            "kind": kind,
            "kind_label": search.KINDS.get(kind),
            "first_number": (page - 1) * search.PAGE_SIZE + 1 if kind else None,
            "page": page,
            "groups": found.groups,
            "found": any(group.hits for group in found.groups),
            "search_messages": found.messages,
            "query_string": urlencode({"q": query}),
        },
    )


# --- Errors ---------------------------------------------------------------------


def page_not_found(request, exception):
    return render(request, "404.html", status=404)


# How long a visitor (or a client) is asked to wait before trying again.
RETRY_AFTER_SECONDS = 30


@requires_csrf_token
def server_error(request):
    """The 500 page — or, when the error is the database not answering (it is
    down, restarting, or out of connections), a 503 that says it will pass.

    Django calls this for an exception raised anywhere, in a view or in a
    middleware, while it is being handled; nothing here touches the database.
    """
    if isinstance(sys.exception(), (OperationalError, InterfaceError)):
        return service_unavailable(request)
    return render(request, "500.html", status=500)


def service_unavailable(request):
    """A 503 in the site's look (the admin's for editors), with Retry-After."""
    if request.path.startswith(reverse("admin:index")):
        template = "admin/503.html"
    else:
        template = "503.html"
    response = render(request, template, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    add_never_cache_headers(response)
    return response


# --- Discovery ---------------------------------------------------------------------


@require_safe
@cache_control(public=True, max_age=24 * 3600)
def robots_txt(request):
    """Crawl the guides (as a new visitor sees them), not search or the admin."""
    lines = [
        "User-agent: *",
        "Disallow: /admin/",
        "Disallow: /search/",
        "Disallow: /api/",
        f"Sitemap: {request.build_absolute_uri(reverse('films:sitemap'))}",
    ]
    return HttpResponse(
        "\n".join(lines) + "\n", content_type="text/plain; charset=utf-8"
    )


FAVICON = settings.BASE_DIR / "static" / "icons" / "favicon.ico"


@require_safe
@cache_control(public=True, max_age=7 * 24 * 3600)
def favicon(request):
    """The site's icon where browsers look for it first (the page heads also
    name an SVG icon)."""
    return HttpResponse(FAVICON.read_bytes(), content_type="image/x-icon")
