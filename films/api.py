"""The read API, ``/api/v1/``: the guides as JSON, under the same horizon.

Built with django-ninja. Every rule about what a client may see is the
pages' own: the horizon is read by ``films/spoilers.py`` and normalised to
the film's effective reveal point (``effective_horizon``), rows are chosen by
the QuerySets' ``up_to()`` and the placeholders' counts and times come from
the film's reveal index (``films/pages.py``). What lies beyond the horizon is
not in the JSON at all: only how much is hidden and when the next of it is
revealed.

An API client has no cookies, so ``?seen=`` is the only horizon: without it a
client has seen nothing (``none``). Every response has a strong ETag built
from what fixes its content (versions, the horizon, the parameters), checked
before any of the content is loaded, so a 304 costs a query or two.
"""

import dataclasses
import hashlib
from typing import Literal

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.cache import get_conditional_response, patch_cache_control
from ninja import NinjaAPI, Query, Schema
from ninja.errors import HttpError, ValidationError
from ninja.renderers import JSONRenderer

from films import search as site_search
from films.filters import FilmFilter
from films.markup import plain_text
from films.models import CharacterBeat, Credit, Film, Person
from films.pages import (
    ORDERS,
    FilmRequest,
    catalogue_version,
    film_for_page,
    film_points,
    pages_cache,
)
from films.spoilers import (
    ALL,
    Horizon,
    HorizonChoice,
    InvalidHorizon,
    effective_horizon,
    format_timecode,
)
from films.views import PAGE_SIZE, film_facets, timeline_rows


class Renderer(JSONRenderer):
    json_dumps_params = {"ensure_ascii": False}  # titles in Cyrillic stay readable


api = NinjaAPI(
    renderer=Renderer(),
    title="Stalker Guide API",
    version="1",
    description=(
        "Film guides you can read without being spoiled. Every film's guide is "
        "sent up to a horizon, `?seen=none|all|H:MM[:SS]` (default `none`): "
        "what lies beyond it is not sent at all, only how much is hidden and "
        "when it is revealed. Read-only; every response has a strong ETag."
    ),
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs/",
)

READ = ["GET", "HEAD"]
# HEAD is served by each GET view, but left out of the schema: OpenAPI would
# need a second operation id for the same thing.
WRITE = ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
TimeCode = str  # "1:12" or "1:12:30"
SEEN = Query(
    "none",
    description="How far into the film the client has watched: none (the "
    "default), all, or a time H:MM[:SS].",
)


def read(path, **kwargs):
    """A GET operation at ``path``, answering HEAD too."""

    def decorator(view):
        api.api_operation(["HEAD"], path, include_in_schema=False, **kwargs)(view)
        return api.get(path, **kwargs)(view)

    return decorator


# --- Errors: JSON, with a message a client can act on ------------------------------


class Message(Schema):
    detail: str


class BadParameters(Schema):
    detail: str
    errors: dict[str, list[str]] = {}


def bad_request(detail, errors=None):
    return JsonResponse(
        {"detail": detail, "errors": errors or {}},
        status=400,
        json_dumps_params={"ensure_ascii": False},
    )


@api.exception_handler(ValidationError)
def invalid_parameters(request, exc):
    errors = {}
    for error in exc.errors:
        name = str(error.get("loc", ["?"])[-1])
        errors.setdefault(name, []).append(error.get("msg", "is not valid"))
    return bad_request("Some parameters are not valid.", errors)


@api.exception_handler(HttpError)
def http_error(request, exc):
    return JsonResponse(
        {"detail": exc.message},
        status=exc.status_code,
        json_dumps_params={"ensure_ascii": False},
    )


def not_found(what):
    return HttpError(404, f"No {what} with this slug.")


def parse_horizon(raw):
    try:
        return Horizon.parse(raw)
    except InvalidHorizon as error:
        raise HttpError(400, str(error)) from None


def page_number(raw, last=None):
    try:
        number = int(raw)
    except ValueError:
        number = 0
    if number < 1:
        raise HttpError(400, f"“{raw[:20]}” is not a page number: use 1 or more.")
    if last is not None and number > last:
        raise HttpError(400, f"There is no page {number}; the last is {last}.")
    return number


# --- ETags and 304s -----------------------------------------------------------------


def etag_of(*parts):
    digest = hashlib.blake2b(
        "\n".join(["api", settings.CODE_VERSION, *map(str, parts)]).encode(),
        digest_size=12,
    )
    return f'"{digest.hexdigest()}"'


def not_modified(request, etag):
    """A 304 (or 412) if the client holds this variant already, else None."""
    response = get_conditional_response(request, etag=etag)
    if response is not None:
        headers(response, etag)
    return response


def headers(response, etag):
    response["ETag"] = etag
    # The URL alone fixes every response (no cookies are read): shared caches
    # may keep it, and revalidate by ETag.
    patch_cache_control(
        response,
        public=True,
        max_age=settings.PAGE_MAX_AGE,
        stale_while_revalidate=settings.PAGE_STALE_WHILE_REVALIDATE,
    )


# --- Kept responses -------------------------------------------------------------------
#
# A response's JSON is made once per variant and kept in the pages' cache
# (``pages.pages_cache``: this worker's memory in front of the shared cache),
# under a key that carries every version its content depends on (the code's,
# the catalogue's or the guide's, as its ETag does), so a kept response is
# never stale. PAGE_CACHE=off makes every response afresh.


def kept_json(request, response, key, schema, build, keep=lambda: True):
    """``response`` (ninja's, with its headers) carrying the JSON of a 200:
    kept under ``key``, or made by ``build()``, checked and shaped by
    ``schema`` as ninja does, rendered by the API's own renderer, and kept
    (unless ``keep()`` says otherwise once it is made). A response ``build``
    returns of its own (a 400) is returned as it is."""
    body = pages_cache.get(key) if settings.PAGE_CACHE else None
    if body is None:
        data = build()
        if isinstance(data, HttpResponseBase):
            return data
        data = schema.model_validate(data).model_dump()
        body = api.renderer.render(request, data, response_status=200).encode()
        if settings.PAGE_CACHE and keep():
            pages_cache.set_many({key: body})
    response.content = body
    return response


# --- Schemas ------------------------------------------------------------------------


class Named(Schema):
    slug: str
    name: str


class Coded(Schema):
    code: str
    name: str


class PersonRef(Schema):
    slug: str
    name: str
    url: str


class FilmSummary(Schema):
    """Spoiler-free fields only: safe at any horizon."""

    slug: str
    title: str
    original_title: str
    year: int
    runtime: int
    directors: list[PersonRef]
    languages: list[Coded]
    countries: list[Coded]
    genres: list[Named]
    premise_html: str
    premise: str
    url: str
    api_url: str


class FilmPage(Schema):
    count: int
    page: int
    pages: int
    next: str | None
    previous: str | None
    results: list[FilmSummary]


class Hidden(Schema):
    """What a horizon hides: how many, and when the next is revealed."""

    count: int
    next_reveal: TimeCode | Literal["end"]
    next_seen: str  # the ?seen= value that reveals it


class Applied(Schema):
    seen: str  # the horizon asked for (clamped to the film's end)
    effective: str  # the latest reveal point at or before it: what is shown
    order: Literal["screen", "story"]


class SceneOut(Schema):
    slug: str
    screen_position: int
    story_position: int
    story_label: str
    starts_at: TimeCode
    ends_at: TimeCode
    title: str
    location: str
    summary_html: str
    summary: str
    characters: list[Named]
    themes: list[Named]


class Beat(Schema):
    position: int
    reveals_at: TimeCode | None
    text_html: str
    text: str


class CharacterOut(Schema):
    slug: str
    name: str
    is_main: bool
    reveals_at: TimeCode | None
    description_html: str
    description: str
    played_by: list[PersonRef]
    beats: list[Beat]
    beats_hidden: Hidden | None


class ThemeOut(Schema):
    slug: str
    name: str
    description_html: str
    analysis_reveals_at: TimeCode | None
    analysis_html: str | None
    analysis: str | None
    analysis_hidden: Hidden | None


class PlotSectionOut(Schema):
    position: int
    heading: str
    reveals_at: TimeCode | None
    body_html: str
    body: str


class CreditOut(Schema):
    role: str
    person: PersonRef
    character: Named | None  # only a spoiler-free character is named
    note: str


class Ending(Schema):
    html: str
    text: str


class HiddenParts(Schema):
    scenes: Hidden | None
    characters: Hidden | None
    plot_sections: Hidden | None
    analyses: Hidden | None
    ending: Hidden | None


class Guide(Schema):
    film: FilmSummary
    based_on: str
    production_companies: str
    horizon: Applied
    scenes: list[SceneOut]
    characters: list[CharacterOut]
    themes: list[ThemeOut]
    plot_sections: list[PlotSectionOut]
    credits: list[CreditOut]
    ending: Ending | None
    hidden: HiddenParts


class Role(Schema):
    role: str
    note: str
    character: Named | None


class PersonFilm(Schema):
    slug: str
    title: str
    year: int
    url: str
    api_url: str
    roles: list[Role]


class PersonOut(Schema):
    slug: str
    name: str
    original_name: str
    born: int | None
    url: str
    films: list[PersonFilm]


class HitOut(Schema):
    title: str
    url: str
    context: str
    snippet_html: str


class GroupOut(Schema):
    kind: str
    label: str
    has_more: bool
    hits: list[HitOut]


class SearchOut(Schema):
    query: str
    seen: str
    kind: str | None
    page: int
    groups: list[GroupOut]


# --- Builders -----------------------------------------------------------------------


def timecode(at):
    return None if at is None else format_timecode(at)


def person_ref(person):
    return {
        "slug": person.slug,
        "name": person.name,
        "url": person.get_absolute_url(),
    }


def hidden(points, film):
    """The pages' placeholder as data: how many, and the next reveal point."""
    points = sorted(p for p in points if p is not None)
    if not points:
        return None
    at = points[0]
    end = at >= film.duration
    return {
        "count": len(points),
        "next_reveal": "end" if end else format_timecode(at),
        "next_seen": ALL if end else format_timecode(at),
    }


def film_summary(film, facets, directors, premise_html):
    return {
        "slug": film.slug,
        "title": film.title,
        "original_title": film.original_title,
        "year": film.year,
        "runtime": film.runtime,
        "directors": [person_ref(c.person) for c in directors],
        "languages": [{"code": k, "name": n} for k, n in facets["languages"]],
        "countries": [{"code": k, "name": n} for k, n in facets["countries"]],
        "genres": [{"slug": k, "name": n} for k, n in facets["genres"]],
        "premise_html": premise_html,
        "premise": plain_text(premise_html),
        "url": film.get_absolute_url(),
        "api_url": f"/api/v1/films/{film.slug}/",
    }


def clamp(horizon, film):
    if horizon.kind == "time" and horizon.at >= film.duration:
        return Horizon(ALL)
    return horizon


# --- Endpoints ----------------------------------------------------------------------


@read(
    "/films/",
    response={200: FilmPage, 400: BadParameters},
    summary="Published films, filtered like the catalogue",
)
def films(
    request: HttpRequest,
    response: HttpResponse,
    q: str | None = None,
    decade: str | None = None,
    year_min: str | None = None,
    year_max: str | None = None,
    director: str | None = None,
    language: str | None = None,
    country: str | None = None,
    genre: str | None = None,
    theme: str | None = None,
    runtime_min: str | None = None,
    runtime_max: str | None = None,
    sort: str | None = None,
    page: str = "1",
):
    """Spoiler-free fields only. The parameters are the catalogue's
    (``/films/``), checked by the same filters with the same messages."""
    etag = etag_of("films", catalogue_version(), request.GET.urlencode())
    if early := not_modified(request, etag):
        return early
    headers(response, etag)
    return kept_json(
        request, response, f"api:{etag}", FilmPage, lambda: film_list(request, page)
    )


def film_list(request, page):
    data = request.GET.copy()
    data.pop("page", None)
    queryset = Film.objects.published().for_list().order_by("title", "year")
    film_filter = FilmFilter(data or None, queryset=queryset)
    if film_filter.is_bound and not film_filter.is_valid():
        return bad_request(
            "Some filters are not valid.",
            {name: list(errors) for name, errors in film_filter.errors.items()},
        )
    paginator = Paginator(
        film_filter.qs.prefetch_related("languages", "countries", "genres"), PAGE_SIZE
    )
    number = page_number(page, paginator.num_pages)
    rows = list(paginator.page(number).object_list)
    premises = dict(
        Film.objects.filter(pk__in=[f.pk for f in rows]).values_list(
            "pk", "premise_html"
        )
    )
    results = []
    for film in rows:
        facets = {
            "languages": [(x.code, x.name) for x in film.languages.all()],
            "countries": [(x.code, x.name) for x in film.countries.all()],
            "genres": [(x.slug, x.name) for x in film.genres.all()],
        }
        results.append(
            film_summary(film, facets, film.directors, premises.get(film.pk, ""))
        )

    def link(n):
        if not 1 <= n <= paginator.num_pages:
            return None
        params = request.GET.copy()
        params["page"] = n
        return f"{request.path}?{params.urlencode()}"

    return {
        "count": paginator.count,
        "page": number,
        "pages": paginator.num_pages,
        "next": link(number + 1),
        "previous": link(number - 1),
        "results": results,
    }


@read(
    "/films/{slug}/",
    response={200: Guide, 400: Message, 404: Message},
    summary="One film's guide up to a horizon",
)
def film_guide(
    request: HttpRequest,
    response: HttpResponse,
    slug: str,
    seen: str = SEEN,
    order: str = Query("screen", description="screen (the default) or story."),
):
    """The guide as far as ``seen`` (``none``, ``all`` or ``H:MM[:SS]``;
    default ``none`` — no cookie is read): scenes in screen or story
    ``order``, characters with their beats, themes with their analyses,
    plot sections, credits, and the ending explained at ``all`` only.
    ``hidden`` says how much is beyond the horizon and when the next of it
    is revealed; ``horizon`` says which horizon was applied."""
    asked = parse_horizon(seen)
    if order not in ORDERS:
        raise HttpError(400, f"“{order[:20]}” is not an order: choose screen or story.")
    # The film's head (from the shared cache, when there is one) is all a
    # kept response needs; without the page cache, the film with the parts
    # of the guide's document guide() reads, in one query.
    parts = ("overview", "scenes", "themes")
    kept = settings.PAGE_CACHE
    film = film_for_page(slug, whole=not kept, parts=() if kept else parts)
    if film is None:
        raise not_found("published film")
    asked = clamp(asked, film)
    points = film_points(film)
    horizon = effective_horizon(asked, points.reveal_points)
    etag = etag_of("film", film.pk, film.version, asked, horizon, order)
    if early := not_modified(request, etag):
        return early
    # Every horizon with the same effective horizon shows the same guide: it
    # is made and kept once, as asked at the effective horizon itself, and
    # the horizon asked is written in when it is sent.
    shown = horizon if kept else asked
    page = FilmRequest(
        film=film,
        section="api",
        extra="",
        choice=HorizonChoice(shown, remember=str(shown)),
        horizon=horizon,
        points=points,
        order=order,
    )

    read = {"film": film}

    def build():
        if kept:
            read["film"] = film_for_page(slug, whole=True, parts=parts)
            if read["film"] is None:  # unpublished a moment ago
                raise not_found("published film")
        return guide(
            read["film"], horizon, dataclasses.replace(page, film=read["film"])
        )

    headers(response, etag)
    kept_response = kept_json(
        request,
        response,
        f"api:{page.key}",
        Guide,
        build,
        # Not if the guide changed since its head was read: what was made is
        # of a newer version than the key says.
        keep=lambda: read["film"].version == film.version,
    )
    if str(asked) != str(shown):
        # The one place the asked horizon shows (``horizon.seen``), written
        # by the renderer exactly so: a string of JSON cannot hold it, for
        # its quotes would be escaped.
        kept_response.content = kept_response.content.replace(
            f'"horizon": {{"seen": "{shown}"'.encode(),
            f'"horizon": {{"seen": "{asked}"'.encode(),
            1,
        )
    return kept_response


def guide(film, horizon, page):
    points = page.points
    facets = film_facets(film)
    credits = list(film.credits.select_related("person", "character"))
    rows = timeline_rows(page)
    scenes = [
        {
            "slug": s.slug,
            "screen_position": s.screen_position,
            "story_position": s.story_position,
            "story_label": s.story_label,
            "starts_at": format_timecode(s.starts_at),
            "ends_at": format_timecode(s.ends_at),
            "title": s.title,
            "location": s.location,
            "summary_html": s.summary_html,
            "summary": plain_text(s.summary_html),
            "characters": [{"slug": k, "name": n} for k, n in s.people],
            "themes": [{"slug": k, "name": n} for k, n, _ in s.theme_tags],
        }
        for s in rows["scenes"]
    ]
    characters = []
    for character in film.characters.up_to(horizon).prefetch_related(
        Prefetch("credits", queryset=Credit.objects.select_related("person")),
        Prefetch(
            "beats",
            queryset=CharacterBeat.objects.up_to(horizon).order_by("position"),
        ),
    ):
        characters.append(
            {
                "slug": character.slug,
                "name": character.name,
                "is_main": character.is_main,
                "reveals_at": timecode(character.reveals_at),
                "description_html": character.description_html,
                "description": plain_text(character.description_html),
                "played_by": [person_ref(c.person) for c in character.credits.all()],
                "beats": [
                    {
                        "position": beat.position,
                        "reveals_at": timecode(beat.reveals_at),
                        "text_html": beat.text_html,
                        "text": plain_text(beat.text_html),
                    }
                    for beat in character.beats.all()
                ],
                "beats_hidden": hidden(
                    [
                        at
                        for at in points.of(f"beats:{character.slug}")
                        if not horizon.reveals(at)
                    ],
                    film,
                ),
            }
        )
    themes = []
    analyses = film.film_themes.select_related("theme")
    for analysis in analyses.defer("analysis"):
        shown = horizon.reveals(analysis.reveals_at)
        themes.append(
            {
                "slug": analysis.theme.slug,
                "name": analysis.theme.name,
                "description_html": analysis.theme.description_html,
                "analysis_reveals_at": timecode(analysis.reveals_at),
                "analysis_html": analysis.analysis_html if shown else None,
                "analysis": plain_text(analysis.analysis_html) if shown else None,
                "analysis_hidden": None
                if shown
                else hidden([analysis.reveals_at], film),
            }
        )
    plot = [
        {
            "position": section.position,
            "heading": section.heading,
            "reveals_at": timecode(section.reveals_at),
            "body_html": section.body_html,
            "body": plain_text(section.body_html),
        }
        for section in film.plot_sections.up_to(horizon).order_by("position")
    ]
    ending_shown = horizon.reveals(film.ending_reveals_at)
    beyond = {
        "scenes": hidden(
            [at for at in (s[1] for s in points.scenes) if not horizon.reveals(at)],
            film,
        ),
        "characters": hidden(
            [at for at in points.of("character") if not horizon.reveals(at)], film
        ),
        "plot_sections": hidden(
            [at for at in points.of("plot") if not horizon.reveals(at)], film
        ),
        "analyses": hidden(
            [at for at in points.of("analysis") if not horizon.reveals(at)], film
        ),
        "ending": None
        if ending_shown or not film.ending_explained_html
        else hidden([film.ending_reveals_at], film),
    }
    directors = [c for c in credits if c.role == Credit.Role.DIRECTOR]
    return {
        "film": film_summary(film, facets, directors, film.premise_html),
        "based_on": film.based_on,
        "production_companies": film.production_companies,
        "horizon": {
            "seen": str(page.choice.horizon),
            "effective": str(horizon),
            "order": page.order,
        },
        "scenes": scenes,
        "characters": characters,
        "themes": themes,
        "plot_sections": plot,
        "credits": [
            {
                "role": c.role,
                "person": person_ref(c.person),
                "character": spoiler_free_character(c),
                "note": c.note,
            }
            for c in credits
        ],
        "ending": {
            "html": film.ending_explained_html,
            "text": plain_text(film.ending_explained_html),
        }
        if ending_shown and film.ending_explained_html
        else None,
        "hidden": beyond,
    }


def spoiler_free_character(credit):
    """The character a credit names, if knowing of them spoils nothing (as
    the pages show credits, at any horizon)."""
    character = credit.character
    if character is None or character.reveals_at is not None:
        return None
    return {"slug": character.slug, "name": character.name}


@read(
    "/people/{slug}/",
    response={200: PersonOut, 404: Message},
    summary="A person and their films and roles",
)
def person(request: HttpRequest, response: HttpResponse, slug: str):
    """Spoiler-free: a role names its character only if that character is."""
    etag = etag_of("person", catalogue_version(), slug)
    if early := not_modified(request, etag):
        return early
    headers(response, etag)
    return kept_json(
        request, response, f"api:{etag}", PersonOut, lambda: person_of(slug)
    )


def person_of(slug):
    found = Person.objects.filter(slug=slug).first()
    if found is None:
        raise not_found("person")
    credits = (
        found.credits.filter(film__in=Film.objects.published())
        .select_related("film", "character")
        .order_by("film__year", "film__title", "position")
    )
    films = {}
    for credit in credits:
        film = credit.film
        entry = films.setdefault(
            film.pk,
            {
                "slug": film.slug,
                "title": film.title,
                "year": film.year,
                "url": film.get_absolute_url(),
                "api_url": f"/api/v1/films/{film.slug}/",
                "roles": [],
            },
        )
        entry["roles"].append(
            {
                "role": credit.role,
                "note": credit.note,
                "character": spoiler_free_character(credit),
            }
        )
    return {
        "slug": found.slug,
        "name": found.name,
        "original_name": found.original_name,
        "born": found.born,
        "url": found.get_absolute_url(),
        "films": list(films.values()),
    }


@read(
    "/search/",
    response={200: SearchOut, 400: BadParameters},
    summary="Search films, scenes, characters, themes and people",
)
def search(
    request: HttpRequest,
    response: HttpResponse,
    q: str = "",
    seen: str = Query(
        "none", description="The horizon for every film: none, all or H:MM[:SS]."
    ),
    kind: str | None = Query(
        None, description="One kind of result, paged: " + ", ".join(site_search.KINDS)
    ),
    page: str = "1",
):
    """The search page's search, under one horizon for every film: ``seen``
    (default ``none``; a time past a film's end is the whole of that film).
    No cookie is read. ``kind`` narrows to one kind of result, paged."""
    horizon = parse_horizon(seen)
    query, message = site_search.clean_query(q)
    if message or not query:
        raise HttpError(400, message or "Give the words to search for: ?q=….")
    if kind is not None and kind not in site_search.KINDS:
        raise HttpError(
            400,
            f"“{kind[:20]}” is not a kind of result: choose "
            + ", ".join(site_search.KINDS)
            + ".",
        )
    number = page_number(page, last=1000)
    etag = etag_of("search", catalogue_version(), query, horizon, kind, number)
    if early := not_modified(request, etag):
        return early
    headers(response, etag)
    return kept_json(
        request,
        response,
        f"api:{etag}",
        SearchOut,
        lambda: search_results(query, horizon, kind, number),
    )


def search_results(query, horizon, kind, number):
    groups = site_search.search(
        query, horizons_for_all(horizon), kind=kind, page=number
    )
    return {
        "query": query,
        "seen": str(horizon),
        "kind": kind,
        "page": number,
        "groups": [
            {
                "kind": group.kind,
                "label": group.label,
                "has_more": group.has_more,
                "hits": [
                    {
                        "title": hit.title,
                        "url": hit.url,
                        "context": hit.context,
                        "snippet_html": str(hit.snippet),
                    }
                    for hit in group.hits
                ],
            }
            for group in groups
        ],
    }


def horizons_for_all(horizon):
    """``search()``'s horizons: this one for every published film."""
    if horizon.is_none:
        return {}
    films = Film.objects.published().values_list("pk", "runtime")
    return {pk: clamp(horizon, Film(runtime=runtime)) for pk, runtime in films}


def method_not_allowed(request: HttpRequest):
    response = JsonResponse(
        {"detail": f"{request.method} is not allowed: this API is read-only."},
        status=405,
    )
    response["Allow"] = ", ".join(READ)
    return response


def method_not_allowed_here(request: HttpRequest, slug: str):
    return method_not_allowed(request)


for path, refuse in (
    ("/films/", method_not_allowed),
    ("/films/{slug}/", method_not_allowed_here),
    ("/people/{slug}/", method_not_allowed_here),
    ("/search/", method_not_allowed),
):
    api.api_operation(WRITE, path, include_in_schema=False)(refuse)
