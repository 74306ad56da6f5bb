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

import functools
import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIRequest
from django.db import InterfaceError, OperationalError, connection, connections, router
from django.db.models.base import ModelState
from django.http import Http404, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import (
    get_conditional_response,
    patch_cache_control,
    patch_vary_headers,
)
from django.utils.http import http_date
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.views.decorators.http import condition

from films.db import prepared_cursor
from films.derived import reveal_index
from films.head_mirror import MISSING, head_mirror
from films.markup import plain_text
from films.models import (
    CatalogueVersion,
    Film,
    FilmDocument,
)
from films.spoilers import (
    ALL,
    COOKIE_PREFIX,
    FRAME_RATES,
    NONE,
    Horizon,
    effective_horizon,
    format_timecode,
    horizon_for,
    remember_horizon,
    variant_key,
)
from films.templating import AMP_MARK, CONTROL_MARK, QUERY_MARK

logger = logging.getLogger(__name__)

ORDERS = {"screen": "Screen order", "story": "Story order"}
SECTIONS = [
    ("detail", "Overview"),
    ("timeline", "Timeline"),
    ("characters", "Characters"),
    ("themes", "Themes"),
    ("ending", "Ending explained"),
    ("next", "What to watch next"),
    ("watch", "Watch along"),
]


# --- A film's reveal points -----------------------------------------------------


@dataclass(frozen=True)
class FilmPoints:
    """A film's reveal points (sorted) and its scenes' starts, for the picker."""

    reveal_points: tuple
    scenes: tuple  # (screen position, starts_at, story position), screen order
    kinds: dict  # kind of row → its reveal points (see derived.reveal_index)
    ends: tuple = ()  # where scenes end, sorted (not reveal points)

    def of(self, kind):
        """The reveal points of one kind of row: "plot", "beats:<slug>"…"""
        return self.kinds.get(kind, ())

    @property
    def starts(self):
        return [(position, at) for position, at, _ in self.scenes]

    @functools.cached_property
    def marks(self):
        """Reveal points and scene ends together, sorted (the recap's starts)."""
        return tuple(sorted({*self.reveal_points, *self.ends}))


class VersionedCache:
    """Django's cache, with a small in-process copy of what it last served.

    Every key this module makes carries a version that never repeats (a
    guide's, the catalogue's, the code's), so a value once stored under a key
    is never wrong for it: each worker may keep the hottest ones in memory
    and skip the round trip to a shared cache such as Redis. Only entries are
    bounded here, never their freshness.
    """

    def __init__(self, size):
        self.size = size
        self.local = OrderedDict()
        self.finished = OrderedDict()
        self.lock = threading.Lock()

    def get_many(self, keys):
        found, missing = {}, []
        with self.lock:
            for key in keys:
                if key in self.local:
                    self.local.move_to_end(key)
                    found[key] = self.local[key]
                else:
                    missing.append(key)
        if missing:
            try:
                shared = cache.get_many(missing)
            except Exception:  # a cache outage only makes the site slower
                logger.exception("Reading pages from the cache failed")
                shared = {}
            self._remember(shared)
            found.update(shared)
        return found

    def get(self, key):
        return self.get_many([key]).get(key)

    def set_many(self, values):
        try:
            cache.set_many(values)
        except Exception:
            logger.exception("Writing pages to the cache failed")
        self._remember(values)

    def get_local(self, key):
        """A finished page this worker served (never in the shared cache)."""
        with self.lock:
            value = self.finished.get(key)
            if value is not None:
                self.finished.move_to_end(key)
            return value

    def keep_local(self, key, value):
        # Apart from the pages themselves: a visitor's own times (1:12:01,
        # 1:12:02…) each make one, and must not push pages out.
        with self.lock:
            self.finished[key] = value
            self.finished.move_to_end(key)
            while len(self.finished) > max(self.size // 2, 1):
                self.finished.popitem(last=False)

    def _remember(self, values):
        with self.lock:
            for key, value in values.items():
                self.local[key] = value
                self.local.move_to_end(key)
            while len(self.local) > self.size:
                self.local.popitem(last=False)

    def clear(self):
        with self.lock:
            self.local.clear()
            self.finished.clear()


pages_cache = VersionedCache(settings.PAGE_CACHE_LOCAL_ENTRIES)


def film_points(film):
    """The film's reveal points, from the index its version keeps."""
    key = (film.pk, film.version)
    points = _points_memo.get(key)
    if points is None:
        index = film.reveal_index
        if not index or "ends" not in index:  # not indexed yet (or by older code)
            index = reveal_index([film.pk])[film.pk]
        points = FilmPoints(
            tuple(timedelta(seconds=at) for at in index["points"]),
            tuple(
                (screen, timedelta(seconds=at), story)
                for screen, at, story in index["scenes"]
            ),
            {
                kind: tuple(timedelta(seconds=at) for at in ats)
                for kind, ats in index.get("kinds", {}).items()
            },
            tuple(timedelta(seconds=at) for at in index["ends"]),
        )
        if film.reveal_index and len(_points_memo) < 10_000:
            _points_memo[key] = points  # versions never repeat: always right
    return points


_points_memo = {}


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
    parts: tuple = ()  # the guide's documents the page's view loads

    @property
    def explicit(self):
        """The URL alone fixes the content (a valid ``?seen=``)."""
        return self.choice.remember is not None

    @property
    def cacheable(self):
        return not (self.staff or self.messages or self.choice.message)

    @functools.cached_property
    def key(self):
        """Read once the page's film, horizon, order and ``extra`` are set
        (``_build`` checks that it still holds for what was built)."""
        return self.fresh_key()

    def fresh_key(self):
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

    @functools.cached_property
    def control_key(self):
        return f"control:{self.key}:{self.choice.horizon}"

    @functools.cached_property
    def etag(self):
        if not self.cacheable:
            return None
        digest = hashlib.blake2b(self.control_key.encode(), digest_size=12)
        return f'"{digest.hexdigest()}"'

    @property
    def last_modified(self):
        """When the guide last changed — left out for a second or two after a
        change: HTTP dates count whole seconds, and a second change within
        the same second would look unchanged to If-Modified-Since."""
        if not self.cacheable:
            return None
        changed = self.film.changed_at or self.film.updated_at
        if timezone.now() - changed < timedelta(seconds=2):
            return None
        return changed


def film_page(
    section,
    *,
    with_order=False,
    content_type=None,
    remembers=True,
    horizon_params=("seen",),
    extra=None,
    parts=(),
):
    """Serve a view of one of a film's pages through the page cache.

    The view takes ``(request, page)`` (a :class:`FilmRequest`, plus the URL's
    other arguments) and returns ``(template, context)``; it is called only
    when the variant is not cached. ``content_type`` is for what is not HTML;
    a page that does not ``remember`` never sets the horizon cookie (an image
    others may embed). ``horizon_params`` are the query parameters that set
    the horizon; ``extra(request, page)`` gives what else fixes the page's
    content (it goes in the cache key; a bad value adds to ``page.messages``).
    ``parts`` are the guide's documents the view loads: a page that will be
    built in any case (no page cache, staff) reads them with its film, in
    the same query.
    """

    def decorator(view):
        def conditional(request, page, kwargs):
            # Django's condition(), with each variant's validators worked
            # out once rather than on every request.
            etag = page.etag
            modified = _modified(page.last_modified)
            response = get_conditional_response(
                request, etag=etag, last_modified=modified and modified[0]
            )
            if response is None:
                if page.cacheable and settings.PAGE_CACHE:
                    response = _from_cache(page)
                if response is None:
                    response = _build(view, request, page, kwargs)
                if content_type:
                    response["Content-Type"] = content_type
            if request.method in ("GET", "HEAD"):
                if modified and not response.has_header("Last-Modified"):
                    response.headers["Last-Modified"] = modified[1]
                if etag:
                    response.headers.setdefault("ETag", etag)
            return response

        @wraps(view)
        def wrapper(request, slug, **kwargs):
            shared_query(request)
            request.film_page = page = _read_request(
                request, slug, section, with_order, kwargs, horizon_params, parts
            )
            if page.choice.film_time is not None:
                return _to_film_time(request, page.choice.film_time)
            if extra is not None:
                page.extra = extra(request, page)
            response = conditional(request, page, kwargs)
            _finish(request, page, response, remembers=remembers)
            return response

        return wrapper

    return decorator


@functools.lru_cache(maxsize=1024)
def _modified(changed):
    """A guide's change time as ``(timestamp, Last-Modified header)``."""
    if changed is None:
        return None
    if not timezone.is_aware(changed):
        changed = timezone.make_aware(changed, UTC)
    timestamp = int(changed.timestamp())
    return timestamp, http_date(timestamp)


def shared_query(request):
    """Give ``request.GET`` from a per-process memo of parsed query strings.

    A page's links are few, so the same query strings come again and again;
    a ``QueryDict`` is immutable, so one parsed copy serves every request
    (its lists must never be changed in place). Only short ones: a long
    query string is nobody's link, and would only fill the memo.
    """
    raw = request.META.get("QUERY_STRING", "")
    if (
        "GET" not in request.__dict__
        and isinstance(request, WSGIRequest)  # ASGI's decodes differently
        and len(raw) <= MEMO_QUERY_LENGTH
    ):
        request.GET = _query_dict(
            raw,
            request.encoding or settings.DEFAULT_CHARSET,
            # In the key only: QueryDict reads the setting itself.
            settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
        )


MEMO_QUERY_LENGTH = 200


@functools.lru_cache(maxsize=1024)
def _query_dict(raw, encoding, max_fields):
    # As WSGIRequest.GET parses it: the environ's str holds the bytes.
    return QueryDict(raw.encode("iso-8859-1"), encoding=encoding)


# What a cached film page needs of its film: enough to find its variant
# (version, reveal points, runtime), answer 404 or 304, and set its cookie.
# In the model's order of fields, as Model.from_db() expects them.
HEAD_FIELDS = tuple(
    f.attname
    for f in Film._meta.concrete_fields
    if f.attname
    in {
        "id",
        "slug",
        "status",
        "runtime",
        "timing_release",
        "timing_fps",
        "updated_at",
        "version",
        "changed_at",
        "reveal_index",
    }
)


# Everything, for a page that will certainly be built (no page cache, staff).
ALL_FIELDS = tuple(f.attname for f in Film._meta.concrete_fields)


@functools.cache
def _film_statement(alias, drafts, fields):
    """The SQL that reads a film by slug, made by the ORM once per process.

    Every film page starts with this query, cached or not; compiling it anew
    each time cost more than running it.
    """
    films = Film.objects.using(alias) if drafts else Film.objects.published()
    # By its unique slug: no order (the model's default would sort the
    # published films before taking the one, and steer the planner off the
    # slug's index).
    query = films.using(alias).filter(slug="").order_by().values_list(*fields)[:1]
    sql, params = query.query.sql_with_params()
    params = list(params)
    slug_at = params.index("")
    del params[slug_at]
    return sql, params, slug_at


def _film_from_database(slug, drafts, fields=HEAD_FIELDS):
    # From the database the page's own rows will come from (a read replica,
    # when the router sends visitors' reads there), so that the version a page
    # is cached under is the version of what it shows.
    alias = router.db_for_read(Film)
    rows = _film_rows(alias, _film_statement(alias, drafts, fields), slug)
    if not rows:
        return None
    return dict(zip(fields, _converted(alias, fields, rows[0]), strict=True))


def _film_rows(alias, statement, slug):
    """The rows of one of the statements above for the film ``slug``."""
    sql, params, slug_at = statement
    params = [*params]
    params.insert(slug_at, slug)
    with prepared_cursor(alias) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _converted(alias, fields, values):
    """A row's ``fields`` as the ORM would give them."""
    return [
        convert(value) if convert else value
        for convert, value in zip(_converters(alias, fields), values, strict=True)
    ]


@functools.cache
def _film_with_parts_statement(alias, drafts, parts):
    """The film's row (every field) beside each of its documents ``parts``
    that is stored (a LEFT JOIN: a row of the film even with none)."""
    sql, params, slug_at = _film_statement(alias, drafts, ALL_FIELDS)
    quote = connections[alias].ops.quote_name
    table = quote(FilmDocument._meta.db_table)
    marks = ", ".join(["%s"] * len(parts))
    columns = ", ".join(f"d.{quote(name)}" for name in DOCUMENT_COLUMNS)
    sql = (
        f"SELECT f.*, {columns} FROM ({sql}) f LEFT JOIN {table} d "  # noqa: S608 — our own names
        f"ON d.{quote('film_id')} = f.{quote('id')} AND d.{quote('name')} IN ({marks})"
    )
    return sql, [*params, *parts], slug_at


DOCUMENT_COLUMNS = ("name", "version", "format", "data")


def _film_with_parts(slug, drafts, parts):
    alias = router.db_for_read(Film)
    statement = _film_with_parts_statement(alias, drafts, parts)
    rows = _film_rows(alias, statement, slug)
    if not rows:
        return None
    count = len(ALL_FIELDS)
    values = _converted(alias, ALL_FIELDS, rows[0][:count])
    film = Film.from_db(alias, ALL_FIELDS, values)
    film.stored_parts = (
        frozenset(parts),
        {row[count]: row[count + 1 :] for row in rows if row[count] is not None},
    )
    return film


@functools.cache
def _converters(alias, fields):
    """Each column's conversion from the database, as the ORM applies it."""
    from django.db import connections

    conn = connections[alias]
    result = []
    for name in fields:
        field_ = Film._meta.get_field(name)
        expression = field_.get_col(Film._meta.db_table)
        steps = [
            *conn.ops.get_db_converters(expression),
            *field_.get_db_converters(conn),
        ]
        if not steps:
            result.append(None)
            continue

        def convert(value, steps=steps, expression=expression, conn=conn):
            for step in steps:
                value = step(value, expression, conn)
            return value

        result.append(convert)
    return result


CATALOGUE_KEY = "catalogue-version"


def head_key(slug):
    return f"film-head:{settings.CODE_VERSION}:{slug}"


def shared_heads():
    """Whether films' heads are kept in the cache: only a cache every worker
    shares (Redis) can be told of a new version by whichever worker wrote it;
    with a per-process cache each request asks the database."""
    return settings.PAGE_CACHE and settings.PAGE_CACHE_SHARED


def film_for_page(slug, *, drafts=False, whole=False, parts=()):
    """The head of the film with this slug (published only, unless ``drafts``).

    From the shared cache when there is one — written there by every write
    that bumps the guide, after it commits — else from the database. The
    other fields load when a page is built (``Film.refresh_from_db``), or at
    once with ``whole``, for a page that will be built in any case — and with
    them, in the same query, the documents ``parts`` its view will load
    (``documents.load`` takes them from the film).
    """
    if whole:
        if parts:
            return _film_with_parts(slug, drafts, tuple(parts))
        row = _film_from_database(slug, drafts, ALL_FIELDS)
        if row is None:
            return None
        return Film.from_db(router.db_for_read(Film), ALL_FIELDS, list(row.values()))
    head, mirrored = None, False
    if shared_heads() and not drafts:
        key = head_key(slug)
        head = head_mirror.get(key)
        mirrored = head is not MISSING
        if head is MISSING:
            generation = head_mirror.generation()
            head = None
            try:
                head = cache.get(key)
            except Exception:  # a cache outage only makes the site slower
                logger.exception("Reading a film's head from the cache failed")
            if head is None:
                head = _known_head(slug, drafts=True)
                if head is not None:
                    remember_heads({slug: head}, replace=False)
            if head is not None:
                head_mirror.keep(key, head, generation)
    else:
        head = _known_head(slug, drafts)
    if head is None or (not drafts and head["status"] != Film.Status.PUBLISHED):
        return None
    alias = router.db_for_read(Film)
    if mirrored:  # the same head object, request after request
        return _film_of_head(alias, head)
    return Film.from_db(alias, HEAD_FIELDS, list(head.values()))


def _film_of_head(alias, head):
    """A film (deferring all but its head's fields) for a head: a copy of
    one made once for each head this worker keeps (``head_mirror`` hands out
    the same head until it changes), rather than a new model each request.
    Each page gets its own instance: a page built after a cache miss reads
    the rest of its film into it."""
    entry = _head_films.get((alias, head["slug"]))
    if entry is None or entry[0] is not head:
        # Never handed out: pages change theirs.
        entry = (head, Film.from_db(alias, HEAD_FIELDS, list(head.values())))
        if len(_head_films) >= 10_000:
            _head_films.clear()
        # The head itself is kept with it, so that ``is`` above can never
        # match another head given the same id.
        _head_films[(alias, head["slug"])] = entry
    film = Film.__new__(Film)
    film.__dict__.update(entry[1].__dict__)
    film._state = ModelState()
    film._state.adding = False
    film._state.db = alias
    return film


_head_films = {}


# The heads this worker last read from the database: while the database is
# down, a page already in the cache is served under the last version seen (a
# slightly stale guide beats an error page); one that is not gets the 503.
_last_heads = {}
DATABASE_DOWN = (OperationalError, InterfaceError)


def _known_head(slug, drafts):
    try:
        head = _film_from_database(slug, drafts)
    except DATABASE_DOWN:
        head = _last_heads.get((slug, drafts))
        if head is None:
            raise
        logger.warning("The database is down: serving %s as last seen", slug)
        return head
    if len(_last_heads) >= 10_000:
        _last_heads.clear()
    _last_heads[(slug, drafts)] = head
    return head


def remember_heads(heads, *, replace):
    """Keep films' heads in the shared cache: ``replace`` for writers (the
    new version wins), ``add`` for readers (never over a writer's newer one)."""
    timeout = settings.PAGE_CACHE_HEAD_SECONDS
    try:
        if replace:
            cache.set_many(
                {head_key(slug): head for slug, head in heads.items()}, timeout
            )
        else:
            for slug, head in heads.items():
                cache.add(head_key(slug), head, timeout)
    except Exception:
        logger.exception("Writing films' heads to the cache failed")


def publish_heads(film_ids, gone_slugs=(), using=None):
    """After a write commits: the films' new heads, for every worker at once."""
    if not shared_heads():
        return
    rows = (
        Film.objects.using(using)
        .filter(pk__in=list(film_ids))
        .values_list(*HEAD_FIELDS)
    )
    heads = {}
    for row in rows:
        head = dict(zip(HEAD_FIELDS, row, strict=True))
        heads[head["slug"]] = head
    if heads:
        remember_heads(heads, replace=True)
    try:
        if gone_slugs:
            cache.delete_many([head_key(slug) for slug in gone_slugs])
        cache.set(
            CATALOGUE_KEY,
            CatalogueVersion.objects.using(using)
            .values_list("version", flat=True)
            .first()
            or 0,
            settings.PAGE_CACHE_HEAD_SECONDS,
        )
    except Exception:
        logger.exception("Writing versions to the cache failed")
    # Then every worker's own copy goes (films.head_mirror).
    head_mirror.announce(
        [head_key(slug) for slug in [*heads, *gone_slugs]] + [CATALOGUE_KEY]
    )


def _read_request(request, slug, section, with_order, kwargs, horizon_params, parts):
    staff = is_staff(request)
    whole = staff or not settings.PAGE_CACHE
    film = film_for_page(slug, drafts=staff, whole=whole, parts=parts)
    if film is None:
        raise Http404("No such film.")
    choice = horizon_for(request, film, horizon_params)
    points = film_points(film)
    page = FilmRequest(
        film=film,
        section=section,
        extra=kwargs.get("character_slug", ""),
        choice=choice,
        horizon=effective_horizon(choice.horizon, points.reveal_points),
        points=points,
        staff=staff,
        parts=tuple(parts),
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


def _to_film_time(request, seen):
    """Redirect a time read off a faster or slower copy to the same URL in film
    time, so the address, the cookie and the picker only ever hold film time."""
    query = request.GET.copy()
    query.pop("fps", None)
    query["seen"] = seen
    response = HttpResponseRedirect(f"{request.path}?{query.urlencode()}")
    patch_cache_control(response, private=True, no_cache=True)
    return response


def is_staff(request):
    """Staff preview drafts; only a visitor with a session can be staff, so
    visitors without one cost no query for the question."""
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return False
    user = request.user
    return user.is_active and user.is_staff


def _from_cache(page):
    # The page as this visitor gets it is a function of its control's key
    # (the variant and the visitor's own horizon): each worker keeps the
    # finished bytes of those it served last, so most requests copy nothing.
    finished = f"bytes:{page.control_key}"
    content = pages_cache.get_local(finished)
    if content is not None:
        return HttpResponse(content)
    found = pages_cache.get_many([page.key, page.control_key])
    body, control = found.get(page.key), found.get(page.control_key)
    if body is None:
        return None
    if control is None:
        control = _control(page)
        pages_cache.set_many({page.control_key: control})
    content = _personal(body, control, page).encode()
    pages_cache.keep_local(finished, content)
    return HttpResponse(content)


def _personal(body, control, page):
    """A cached page, with what is the visitor's own put in."""
    horizon = page.choice.horizon
    seen = "" if horizon.is_none else urlencode({"seen": str(horizon)})
    return (
        body.replace(CONTROL_MARK, control, 1)
        .replace(QUERY_MARK, f"?{seen}" if seen else "")
        .replace(AMP_MARK, f"&amp;{seen}" if seen else "")
    )


def _build(view, request, page, kwargs):
    film = page.film
    key = page.key
    if film.get_deferred_fields():
        _read_the_rest(film, page.parts)
    # The head came from the shared cache (the writer's newest version); a
    # replica that has not caught up would build an older page: serve it, but
    # never keep it under the newer version.
    current = page.fresh_key() == key
    if not (page.staff or film.is_published):
        raise Http404("No such film.")  # unpublished since its head was cached
    template, context = view(request, page, **kwargs)
    body = render_to_string(template, film_context(request, page, context), request)
    control = _control(page)
    if (
        current
        and page.cacheable
        and settings.PAGE_CACHE
        and not _used_per_request_parts(request)
    ):
        pages_cache.set_many({page.key: body, page.control_key: control})
    return HttpResponse(_personal(body, control, page))


def _read_the_rest(film, parts):
    """The fields a cached head leaves out (as ``refresh_from_db`` would read
    them), with the page's parts of the guide's document in the same query."""
    if not parts:
        film.refresh_from_db(fields=list(ALL_FIELDS))
        return
    whole = _film_with_parts(film.slug, True, tuple(parts))
    if whole is None or whole.pk != film.pk:
        raise Http404("No such film.")  # deleted, or renamed, since its head was read
    for name in ALL_FIELDS:
        setattr(film, name, getattr(whole, name))
    film.stored_parts = whole.stored_parts


def _used_per_request_parts(request):
    nonce = getattr(request, "_csp_nonce", None)
    return bool(nonce) or bool(request.META.get("CSRF_COOKIE_NEEDS_UPDATE"))


def _finish(request, page, response, *, remembers=True):
    if response.status_code not in (200, 304):
        return
    current = request.COOKIES.get(COOKIE_PREFIX + page.film.slug)
    sets_cookie = (
        remembers
        and page.choice.remember is not None
        and page.choice.remember != current
    )
    if sets_cookie:
        remember_horizon(response, page.film, page.choice)
    # Public only when the URL fixes the content and the response is the same
    # for everyone: one that sets a visitor's cookie is theirs alone.
    cache_headers(
        response,
        public=page.cacheable
        and page.explicit
        and page.film.is_published
        and not sets_cookie,
    )


def cache_headers(response, *, public):
    """``Cache-Control`` for everyone (``public``, for a while) or for this
    visitor only (``private``, revalidated, ``Vary: Cookie``)."""
    if "Cache-Control" in response or "Vary" in response:
        _patch_cache_headers(response, public=public)
        return
    # The usual case: headers Django's patch functions would write, written
    # once per process (for these settings) rather than parsed and joined.
    headers = _cache_header_values(
        public, settings.PAGE_MAX_AGE, settings.PAGE_STALE_WHILE_REVALIDATE
    )
    for name, value in headers:
        response.headers[name] = value


def _patch_cache_headers(response, *, public):
    if public:
        patch_cache_control(
            response,
            public=True,
            max_age=settings.PAGE_MAX_AGE,
            stale_while_revalidate=settings.PAGE_STALE_WHILE_REVALIDATE,
        )
    else:
        patch_cache_control(response, private=True, no_cache=True)
        patch_vary_headers(response, ["Cookie"])


@functools.lru_cache(maxsize=16)
def _cache_header_values(public, max_age, stale_while_revalidate):
    blank = HttpResponse()
    _patch_cache_headers(blank, public=public)
    return tuple(
        (name, blank.headers[name])
        for name in ("Cache-Control", "Vary")
        if name in blank.headers
    )


# --- What every film page shows ---------------------------------------------------


def film_urls(film):
    """The film's pages' URLs, reversed once per film rather than per link."""
    urls = _film_urls(film.slug)
    return dict(urls)


@functools.lru_cache(maxsize=10_000)
def _film_urls(slug):
    urls = {name: reverse(f"films:{name}", args=[slug]) for name, _ in SECTIONS}
    urls["map"] = reverse("films:map", args=[slug])
    urls["people"] = reverse("films:person", args=["x"])[:-2]
    return urls


@dataclass(frozen=True)
class Description:
    """A film's premise as plain text, for its pages' metadata: ``short`` for
    search engines (160 characters), ``long`` for link previews (200)."""

    text: str
    short: str
    long: str


def film_description(film):
    key = (film.pk, film.version)
    description = _descriptions.get(key)
    if description is None:
        text = plain_text(film.premise_html)
        description = Description(
            text, Truncator(text).chars(160), Truncator(text).chars(200)
        )
        if len(_descriptions) >= 10_000:
            _descriptions.clear()
        _descriptions[key] = description  # versions never repeat: always right
    return description


_descriptions = {}


def film_context(request, page, context):
    """The context every film page shares: navigation, metadata, the film."""
    film, horizon = page.film, page.horizon
    urls = film_urls(film)
    query = mark_safe(QUERY_MARK)  # noqa: S308 — our constant, replaced per request
    page_url = page.page_url
    return {
        "film": film,
        "horizon": horizon,
        "seen_amp": mark_safe(AMP_MARK),  # noqa: S308 — our constant
        "urls": urls,
        "query": query,
        "page_url": page_url,
        "section": page.section,
        "sections": [(name, label, urls[name] + query) for name, label in SECTIONS],
        "canonical": page.site + page_url,
        "meta_description": film_description(film),
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
            "timing_release": film.timing_release,
            "timing_fps": film.timing_fps,
            "frame_rates": FRAME_RATES,
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
    """The catalogue's version, bumped by any change to any guide: from the
    shared cache when there is one (kept there by writers), else one query."""
    if shared_heads():
        version = head_mirror.get(CATALOGUE_KEY)
        if version is not MISSING:
            return version
        generation = head_mirror.generation()
        try:
            version = cache.get(CATALOGUE_KEY)
        except Exception:
            logger.exception("Reading the catalogue's version from the cache failed")
            version = None
        if version is not None:
            head_mirror.keep(CATALOGUE_KEY, version, generation)
            return version
    try:
        with prepared_cursor(connection.alias) as cursor:
            cursor.execute(
                f"SELECT version FROM {CatalogueVersion._meta.db_table} WHERE id = 1"  # noqa: S608 — our table name
            )
            row = cursor.fetchone()
    except DATABASE_DOWN:
        if _last_heads.get(CATALOGUE_KEY) is None:
            raise
        logger.warning("The database is down: serving the catalogue as last seen")
        return _last_heads[CATALOGUE_KEY]
    version = row[0] if row else 0
    _last_heads[CATALOGUE_KEY] = version
    if shared_heads():
        head_mirror.keep(CATALOGUE_KEY, version, generation)
        try:
            cache.add(CATALOGUE_KEY, version, settings.PAGE_CACHE_HEAD_SECONDS)
        except Exception:
            logger.exception("Writing the catalogue's version to the cache failed")
    return version


def site_page(*, horizons=False, reads=None, kept_headers=()):
    """Cache a page that shows many films (home, catalogue, people, themes,
    the sitemap and the feed).

    Its key carries the catalogue's version, so a change to any film it shows
    is seen on the next request; with ``horizons`` the page also depends on
    the visitor's per-film horizon cookies, which the key then carries, and
    the response is private to that visitor.

    ``reads(request)``, if given, reads the page's rows and returns the
    catalogue's version they are of: with the page cache off, nothing is
    looked up by the key before the page is built, so the version comes
    with the page's rows rather than in a query of its own.

    ``kept_headers`` are kept with the body and sent with it again (an XML
    page's ``Content-Type``, say); without them a kept page is HTML.
    """

    def decorator(view):
        def key(request):
            memo = getattr(request, "_site_page_key", None)
            if memo is None:
                # Read once for the request; the view may use it too.
                if reads is not None and not settings.PAGE_CACHE:
                    version = reads(request)
                else:
                    version = catalogue_version()
                request.catalogue_version = version
                parts = [
                    "site",
                    settings.CODE_VERSION,
                    f"{request.scheme}://{request.get_host()}",
                    str(version),
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
        def conditional(request, *args, **kwargs):
            use_cache = settings.PAGE_CACHE and not is_staff(request)
            digest = hashlib.blake2b(key(request).encode(), digest_size=20).hexdigest()
            cache_key = f"site:{digest}"
            body = pages_cache.get(cache_key) if use_cache else None
            if body is not None:
                if kept_headers:
                    body, headers = body
                    return HttpResponse(body, headers=headers)
                return HttpResponse(body)
            response = view(request, *args, **kwargs)
            if (
                use_cache
                and response.status_code == 200
                and not _used_per_request_parts(request)
            ):
                if getattr(response, "is_rendered", True) is False:
                    response.render()  # a TemplateResponse (the sitemap's)
                body = response.content.decode()
                if kept_headers:
                    headers = {h: response[h] for h in kept_headers if h in response}
                    body = (body, headers)
                pages_cache.set_many({cache_key: body})
            return response

        @wraps(view)
        def wrapper(request, *args, **kwargs):
            response = conditional(request, *args, **kwargs)
            # On a 304 too: a cache revalidating must keep the same rules.
            cache_headers(response, public=not (horizons or is_staff(request)))
            return response

        return wrapper

    return decorator
