"""Serving pages cheaply without ever serving one visitor's horizon to another.

A guide is read thousands of times for each edit, and each of a film's pages
has few variants: one per *effective* horizon (``spoilers.effective_horizon``)
and order. So a film page is built once per variant and kept in Django's cache
under :func:`films.spoilers.variant_key` — which carries the guide's version,
bumped by any change to it (``films/derived.py``), so an edit is seen on the
very next request, by every worker, without scanning or deleting keys.

What differs between two visitors of one variant is cut out of the cached
page and added per request: the horizon control (it names the visitor's own
choice, which may fall between two reveal points) and the cookie that
remembers it. Pages cached here use no CSP nonce and no CSRF token; a render
that used either is never stored.

HTTP caching follows the same rule. Every variant has a strong ETag (and
``Last-Modified``), so a browser revalidates with a 304. A page whose URL
alone fixes its content — an explicit, valid ``?seen=`` — may be kept by
shared caches (``public``); any other depends on the visitor's cookie and is
``private`` with ``Vary: Cookie``. Staff, who see drafts, are never cached.

``PAGE_CACHE=off`` turns the stored pages off (headers stay as they are).
"""

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import IntegerField, Value
from django.http import Http404, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.safestring import mark_safe
from django.views.decorators.http import condition

from films.markup import plain_text
from films.models import (
    CatalogueVersion,
    Character,
    CharacterBeat,
    Film,
    FilmTheme,
    PlotSection,
    Scene,
)
from films.spoilers import (
    ALL,
    COOKIE_PREFIX,
    NONE,
    Horizon,
    effective_horizon,
    format_timecode,
    horizon_for,
    remember_horizon,
    variant_key,
)

# Where the per-request horizon control goes in a cached film page.
CONTROL_MARK = "<!--horizon-control-->"
ORDERS = {"screen": "Screen order", "story": "Story order"}
SECTIONS = [
    ("detail", "Overview"),
    ("timeline", "Timeline"),
    ("characters", "Characters"),
    ("themes", "Themes"),
    ("ending", "Ending explained"),
    ("next", "What to watch next"),
]


# --- A film's reveal points -----------------------------------------------------


@dataclass(frozen=True)
class FilmPoints:
    """A film's reveal points (sorted) and its scenes' starts, for the picker."""

    reveal_points: tuple
    scenes: tuple  # (screen position, starts_at, story position), screen order

    @property
    def starts(self):
        return [(position, at) for position, at, _ in self.scenes]


def film_points(film):
    """The film's reveal points: cached per guide version, one query to build."""
    if not settings.PAGE_CACHE:
        return _load_points(film)
    key = f"points:{settings.CODE_VERSION}:{film.pk}:{film.version}"
    points = cache.get(key)
    if points is None:
        points = _load_points(film)
        cache.set(key, points)
    return points


def _load_points(film):
    """Every reveal point of the film in one query (scenes with positions)."""
    no_position = Value(0, output_field=IntegerField())
    others = [
        model.objects.filter(**{lookup: film, "reveals_at__isnull": False})
        .order_by()
        .values_list(no_position, "reveals_at", no_position)
        for model, lookup in (
            (Character, "film"),
            (CharacterBeat, "character__film"),
            (PlotSection, "film"),
            (FilmTheme, "film"),
        )
    ]
    scenes = (
        Scene.objects.filter(film=film)
        .order_by()
        .values_list("screen_position", "starts_at", "story_position")
    )
    rows = list(scenes.union(*others, all=True).order_by())
    scene_rows = sorted(row for row in rows if row[0])
    points = {at for _, at, _ in rows} | {film.ending_reveals_at}
    return FilmPoints(tuple(sorted(points)), tuple(scene_rows))


# --- One request for one of a film's pages ----------------------------------------


@dataclass
class FilmRequest:
    """What a request for a film page asks for, read and checked once."""

    film: Film
    section: str
    extra: str  # which character, on a character's page
    choice: object  # spoilers.HorizonChoice: the visitor's own horizon
    horizon: Horizon  # the effective horizon: what the page shows
    points: FilmPoints
    order: str = "screen"
    messages: list = field(default_factory=list)
    staff: bool = False
    site: str = ""  # scheme and host, for absolute links
    page_url: str = ""

    @property
    def explicit(self):
        """The URL alone fixes the content (a valid ``?seen=``)."""
        return self.choice.remember is not None

    @property
    def cacheable(self):
        return not (self.staff or self.messages or self.choice.message)

    @property
    def key(self):
        return variant_key(
            page=self.section,
            film_id=self.film.pk,
            version=self.film.version,
            horizon=self.horizon,
            order=self.order,
            code=settings.CODE_VERSION,
            site=self.site,
            extra=self.extra,
        )

    @property
    def control_key(self):
        return f"control:{self.key}:{self.choice.horizon}"

    @property
    def etag(self):
        if not self.cacheable:
            return None
        digest = hashlib.blake2b(self.control_key.encode(), digest_size=12)
        return f'"{digest.hexdigest()}"'

    @property
    def last_modified(self):
        return self.film.updated_at if self.cacheable else None


def film_page(section, *, with_order=False):
    """Serve a view of one of a film's pages through the page cache.

    The view takes ``(request, page)`` (a :class:`FilmRequest`, plus the URL's
    other arguments) and returns ``(template, context)``; it is called only
    when the variant is not cached.
    """

    def decorator(view):
        def etag(request, *args, **kwargs):
            return request.film_page.etag

        def last_modified(request, *args, **kwargs):
            return request.film_page.last_modified

        @condition(etag_func=etag, last_modified_func=last_modified)
        def conditional(request, **kwargs):
            page = request.film_page
            response = None
            if page.cacheable and settings.PAGE_CACHE:
                response = _from_cache(page)
            if response is None:
                response = _build(view, request, page, kwargs)
            return response

        @wraps(view)
        def wrapper(request, slug, **kwargs):
            request.film_page = _read_request(
                request, slug, section, with_order, kwargs
            )
            response = conditional(request, **kwargs)
            _finish(request, request.film_page, response)
            return response

        return wrapper

    return decorator


def _read_request(request, slug, section, with_order, kwargs):
    staff = is_staff(request)
    films = Film.objects.all() if staff else Film.objects.published()
    found = list(films.filter(slug=slug)[:1])
    if not found:
        raise Http404("No such film.")
    film = found[0]
    choice = horizon_for(request, film)
    points = film_points(film)
    page = FilmRequest(
        film=film,
        section=section,
        extra=kwargs.get("character_slug", ""),
        choice=choice,
        horizon=effective_horizon(choice.horizon, points.reveal_points),
        points=points,
        staff=staff,
    )
    if with_order:
        order = request.GET.get("order", "screen")
        if order not in ORDERS:
            page.messages.append(
                f"“{order[:20]}” is not an order: showing screen order "
                "(choose screen or story)."
            )
            order = "screen"
        page.order = order
    page.site = f"{request.scheme}://{request.get_host()}"
    page.page_url = request.path
    return page


def is_staff(request):
    """Staff preview drafts; only a visitor with a session can be staff, so
    visitors without one cost no query for the question."""
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return False
    user = request.user
    return user.is_active and user.is_staff


def _from_cache(page):
    found = cache.get_many([page.key, page.control_key])
    body, control = found.get(page.key), found.get(page.control_key)
    if body is None:
        return None
    if control is None:
        control = _control(page)
        cache.set(page.control_key, control)
    return HttpResponse(body.replace(CONTROL_MARK, control, 1))


def _build(view, request, page, kwargs):
    template, context = view(request, page, **kwargs)
    body = render_to_string(template, film_context(request, page, context), request)
    control = _control(page)
    if page.cacheable and settings.PAGE_CACHE and not _used_per_request_parts(request):
        cache.set_many({page.key: body, page.control_key: control})
    return HttpResponse(body.replace(CONTROL_MARK, control, 1))


def _used_per_request_parts(request):
    nonce = getattr(request, "_csp_nonce", None)
    return bool(nonce) or bool(request.META.get("CSRF_COOKIE_NEEDS_UPDATE"))


def _finish(request, page, response):
    if response.status_code not in (200, 304):
        return
    current = request.COOKIES.get(COOKIE_PREFIX + page.film.slug)
    if page.choice.remember is not None and page.choice.remember != current:
        remember_horizon(response, page.film, page.choice)
    if page.cacheable and page.explicit and page.film.is_published:
        patch_cache_control(
            response,
            public=True,
            max_age=settings.PAGE_MAX_AGE,
            stale_while_revalidate=settings.PAGE_STALE_WHILE_REVALIDATE,
        )
    else:
        patch_cache_control(response, private=True, no_cache=True)
        patch_vary_headers(response, ["Cookie"])


# --- What every film page shows ---------------------------------------------------


def film_urls(film):
    """The film's pages' URLs, reversed once per page rather than per link."""
    urls = {name: reverse(f"films:{name}", args=[film.slug]) for name, _ in SECTIONS}
    urls["people"] = reverse("films:person", args=["x"])[:-2]
    return urls


def film_context(request, page, context):
    """The context every film page shares: navigation, metadata, the film."""
    film, horizon = page.film, page.horizon
    urls = film_urls(film)
    query = "" if horizon.is_none else "?" + urlencode({"seen": str(horizon)})
    page_url = page.page_url
    return {
        "film": film,
        "horizon": horizon,
        "seen_value": str(horizon),
        "urls": urls,
        "query": query,
        "page_url": page_url,
        "section": page.section,
        "sections": [(name, label, urls[name] + query) for name, label in SECTIONS],
        "canonical": page.site + page_url,
        "meta_description": plain_text(film.premise_html),
        "horizon_control": mark_safe(CONTROL_MARK),  # noqa: S308 — our constant
        "page_messages": page.messages,
        "order": page.order,
        **context,
    }


def _control(page):
    """The horizon control for the visitor's own horizon (not the effective one)."""
    horizon = page.choice.horizon
    film = page.film
    page_url = page.page_url
    return render_to_string(
        "films/_horizon.html",
        {
            "horizon": horizon,
            "horizon_label": horizon_label(horizon),
            "horizon_options": horizon_options(film, page.points.starts, horizon),
            "horizon_value": str(horizon),
            "horizon_message": page.choice.message,
            "page_url": page_url,
            "order": page.order,
        },
    )


def horizon_label(horizon):
    if horizon.is_none:
        return "nothing yet — no spoilers"
    if horizon.is_all:
        return "the whole film — everything is shown"
    return f"up to {format_timecode(horizon.at)}"


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


# --- Pages across films -----------------------------------------------------------


def catalogue_version():
    """The catalogue's version: one query, bumped by any change to any guide."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT version FROM {CatalogueVersion._meta.db_table} WHERE id = 1"  # noqa: S608 — our table name
        )
        row = cursor.fetchone()
    return row[0] if row else 0


def site_page(*, horizons=False):
    """Cache a page that shows many films (home, catalogue, people, themes).

    Its key carries the catalogue's version, so a change to any film it shows
    is seen on the next request; with ``horizons`` the page also depends on
    the visitor's per-film horizon cookies, which the key then carries, and
    the response is private to that visitor.
    """

    def decorator(view):
        def key(request):
            memo = getattr(request, "_site_page_key", None)
            if memo is None:
                parts = [
                    "site",
                    settings.CODE_VERSION,
                    f"{request.scheme}://{request.get_host()}",
                    str(catalogue_version()),
                    request.path,
                    request.META.get("QUERY_STRING", ""),
                ]
                if horizons:
                    parts.extend(
                        f"{name}={value}"
                        for name, value in sorted(request.COOKIES.items())
                        if name.startswith(COOKIE_PREFIX)
                    )
                memo = request._site_page_key = "\n".join(parts)
            return memo

        def etag(request, *args, **kwargs):
            if is_staff(request):
                return None
            return (
                '"'
                + hashlib.blake2b(key(request).encode(), digest_size=12).hexdigest()
                + '"'
            )

        @condition(etag_func=etag)
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            staff = is_staff(request)
            use_cache = settings.PAGE_CACHE and not staff
            digest = hashlib.blake2b(key(request).encode(), digest_size=20).hexdigest()
            cache_key = f"site:{digest}"
            body = cache.get(cache_key) if use_cache else None
            if body is not None:
                response = HttpResponse(body)
            else:
                response = view(request, *args, **kwargs)
                if (
                    use_cache
                    and response.status_code == 200
                    and not _used_per_request_parts(request)
                ):
                    cache.set(cache_key, response.content.decode())
            if horizons or staff:
                patch_cache_control(response, private=True, no_cache=True)
                patch_vary_headers(response, ["Cookie"])
            else:
                patch_cache_control(
                    response,
                    public=True,
                    max_age=settings.PAGE_MAX_AGE,
                    stale_while_revalidate=settings.PAGE_STALE_WHILE_REVALIDATE,
                )
            return response

        return wrapper

    return decorator
