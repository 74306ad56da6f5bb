"""The spoiler horizon: how far into a film a visitor has watched.

A horizon is one of three things:

* ``none`` — nothing watched. Only spoiler-free material (``reveals_at`` is
  null) may be shown. Note that this is *not* the same as a time of 0:00: the
  opening scene starts at 0:00, and someone who has watched nothing has not
  seen it.
* a time into the film — everything whose reveal point is at or before it.
* ``all`` — everything, the ending included.

Every spoiler-bearing row stores its reveal point as a ``DurationField``, so
"what may this visitor see" is one filter, built by :meth:`Horizon.q`, the same
in every QuerySet.
"""

import functools
import re
import time
from bisect import bisect_right
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q
from django.http import HttpResponse

NONE = "none"
ALL = "all"

_TIME_RE = re.compile(r"^(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?$")


# Frame rates a release or a visitor's copy may run at. A film shot at 24
# frames a second runs ~4% fast on PAL video (25 fps): every moment comes
# earlier, so a visitor's copy time is converted to the guide's own.
FILM_FPS = 24
PAL_FPS = 25
FRAME_RATES = [
    (FILM_FPS, "24 fps — film speed (cinema, Blu-ray, most streaming)"),
    (PAL_FPS, "25 fps — PAL video (European DVD, VHS, TV): about 4% faster"),
]


class InvalidHorizon(ValueError):
    """A ``seen`` value that is neither ``none``, ``all`` nor ``H:MM[:SS]``."""


@dataclass(frozen=True)
class Horizon:
    kind: str  # NONE, ALL or "time"
    at: timedelta | None = None

    @classmethod
    def parse(cls, value):
        """Read a ``seen`` value: ``none``, ``all``, ``H:MM`` or ``H:MM:SS``.

        Raises :class:`InvalidHorizon` with a message a visitor can act on.
        """
        value = value or ""
        if len(value) > 16:  # no horizon is written longer: nothing to keep
            return cls._parse(value)
        return _parsed(cls, value)

    @classmethod
    def _parse(cls, value):
        value = value.strip().lower()
        if value in ("", NONE):
            return cls(NONE)
        if value == ALL:
            return cls(ALL)
        match = _TIME_RE.match(value)
        if not match:
            raise InvalidHorizon(
                f"“{value[:20]}” is not a point in the film: use none, all, or a "
                "time such as 1:12 or 1:12:30."
            )
        hours, minutes = int(match["h"]), int(match["m"])
        seconds = int(match["s"] or 0)
        if minutes > 59 or seconds > 59:
            raise InvalidHorizon(
                f"“{value}” is not a valid time: minutes and seconds go up to 59."
            )
        return cls("time", timedelta(hours=hours, minutes=minutes, seconds=seconds))

    @classmethod
    def at_time(cls, at):
        return cls("time", at)

    @property
    def is_none(self):
        return self.kind == NONE

    @property
    def is_all(self):
        return self.kind == ALL

    def q(self, field="reveals_at", *, nullable=True):
        """The filter for rows whose ``field`` is within this horizon.

        ``nullable`` says whether a null ``field`` means spoiler-free (it does
        for ``reveals_at``; a scene's ``starts_at`` is never null).
        """
        if self.is_all:
            return Q()
        spoiler_free = Q(**{f"{field}__isnull": True}) if nullable else Q(pk__in=[])
        if self.is_none:
            return spoiler_free
        return spoiler_free | Q(**{f"{field}__lte": self.at})

    def reveals(self, reveals_at):
        """Whether a single reveal point is within this horizon."""
        if reveals_at is None or self.is_all:
            return True
        if self.is_none:
            return False
        return reveals_at <= self.at

    def __str__(self):
        if self.kind in (NONE, ALL):
            return self.kind
        return format_timecode(self.at)


@functools.lru_cache(maxsize=4096)
def _parsed(cls, value):
    # The same few values (a link's ?seen=, a cookie) come again and again.
    return cls._parse(value)


def effective_horizon(horizon, reveal_points):
    """The horizon that reveals exactly what ``horizon`` does, in few variants.

    ``reveal_points`` are the film's reveal points, sorted. A time is moved
    back to the latest reveal point at or before it — ``1:12`` and ``1:13``
    reveal the same things when nothing is revealed between them — or to
    ``none`` when it is before them all. So a film has one variant of each
    page per reveal point (and ``none`` and ``all``), whatever times visitors
    choose, and caches and links agree on them.
    """
    if horizon.kind != "time":
        return horizon
    index = bisect_right(reveal_points, horizon.at)
    if index == 0:
        return Horizon(NONE)
    return Horizon.at_time(reveal_points[index - 1])


def variant_key(*, page, film_id, version, horizon, order, code, site, extra=""):
    """The cache key of one variant of a film's page: the one recipe.

    It holds what fixes a page's content and nothing else: the deployed code
    and templates (``code``), the site it is served as (``site``: scheme and
    host, which canonical links carry), the film and its guide ``version``,
    the page (and ``extra``: which character), the *effective* horizon and
    the order. The visitor's own label for their horizon is not in it.
    """
    return f"page:{code}:{site}:{film_id}:{version}:{page}:{extra}:{horizon}:{order}"


@functools.lru_cache(maxsize=4096)
def format_timecode(value):
    """``timedelta(hours=1, minutes=5)`` → ``1:05``; seconds only when set."""
    total = int(value.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if seconds:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{hours}:{minutes:02d}"


COOKIE_PREFIX = "seen_"
COOKIE_MAX_AGE = 365 * 24 * 3600


def copy_time_to_film_time(at, copy_fps, film_fps=FILM_FPS):
    """The moment of the film shown at ``at`` on a copy running at ``copy_fps``.

    Frame *n* is shown at n / ``copy_fps`` seconds on the copy and at
    n / ``film_fps`` in the release the guide's times follow, so film time is
    copy time × copy_fps / film_fps: 1:36 on a PAL copy (25 fps) of a 24 fps
    release is 1:40. Rounded down to the second, never past what was seen.
    """
    return timedelta(seconds=int(at.total_seconds()) * copy_fps // film_fps)


def parse_fps(value):
    """Read a ``fps`` value (one of ``FRAME_RATES``) or raise ``InvalidHorizon``."""
    rates = dict(FRAME_RATES)
    text = (value or "").strip()
    if not text.isdigit() or int(text) not in rates:
        choices = " or ".join(str(rate) for rate in rates)
        raise InvalidHorizon(
            f"“{text[:20]}” is not a frame rate the guide can convert from: "
            f"choose {choices} frames a second."
        )
    return int(text)


@dataclass(frozen=True)
class HorizonChoice:
    """The horizon a request asks for, and what to tell the visitor about it."""

    horizon: Horizon
    message: str = ""
    remember: str | None = None  # a value to store in the film's cookie
    # A copy's time converted to film time: the ``seen`` to redirect to, so
    # that what is stored, linked and shown is always film time.
    film_time: str | None = None


def horizon_for(request, film, params=("seen",)):
    """Read the visitor's horizon for ``film``: ``?seen=``, then the cookie.

    ``?seen=`` wins, so a shared link spoils no more than its sender chose, and
    is remembered for the film. A bad value gives the default (``none``) with a
    message; a time at or past the end of the film counts as ``all``. A page
    may name other parameters that set the horizon (the watch page's ``to``);
    the first one present counts.

    With ``?fps=`` the time is read off a copy running at that frame rate; when
    it differs from the release the guide follows (``film.timing_fps``), the
    choice carries the film time to redirect to (``film_time``).
    """
    # A blank value (a form's empty field, such as the recap's "back at")
    # does not count; ``?seen=`` itself still means nothing seen.
    present = [p for p in params if p in request.GET]
    raw = next((request.GET[p] for p in present if request.GET[p].strip()), None)
    if raw is None and "seen" in present:
        raw = request.GET["seen"]
    if raw is not None:
        try:
            horizon = Horizon.parse(raw)
            fps = request.GET.get("fps")
            copy_fps = None if fps is None else parse_fps(fps)
        except InvalidHorizon as error:
            return HorizonChoice(
                Horizon(NONE), f"{error} Showing the guide without spoilers."
            )
        film_fps = getattr(film, "timing_fps", None) or FILM_FPS
        if horizon.kind == "time" and copy_fps not in (None, film_fps):
            at = copy_time_to_film_time(horizon.at, copy_fps, film_fps)
            horizon = _clamp(Horizon.at_time(at), film)
            return HorizonChoice(horizon, film_time=str(horizon))
        horizon = _clamp(horizon, film)
        return HorizonChoice(horizon, remember=str(horizon))
    return HorizonChoice(remembered_horizon(request, film))


def remembered_horizon(request, film):
    """The horizon stored in the film's cookie (``none`` if absent or bad)."""
    try:
        horizon = Horizon.parse(request.COOKIES.get(COOKIE_PREFIX + film.slug, NONE))
    except InvalidHorizon:
        horizon = Horizon(NONE)
    return _clamp(horizon, film)


def remember_horizon(response, film, choice):
    if choice.remember is not None:
        # The cookie as Django's set_cookie() writes it, made once a second
        # for each film and value (its expiry date counts whole seconds); a
        # copy, since a later set_cookie() would change the one it finds.
        response.cookies[COOKIE_PREFIX + film.slug] = _cookie(
            COOKIE_PREFIX + film.slug,
            choice.remember,
            settings.SESSION_COOKIE_SECURE,
            int(time.time()),
        ).copy()


@functools.lru_cache(maxsize=256)
def _cookie(name, value, secure, second):
    scratch = HttpResponse()
    scratch.set_cookie(
        name,
        value,
        max_age=COOKIE_MAX_AGE,
        samesite="Lax",
        httponly=True,
        secure=secure,
    )
    return scratch.cookies[name]


def seen_url(url, at):
    """``url`` with the horizon moved to ``at`` (a timedelta, ``all`` or ``none``)."""
    value = at if isinstance(at, str) else format_timecode(at)
    return f"{url}?{urlencode({'seen': value})}"


def placeholder(url, at, film, what):
    """A hidden item: what it is, when it is revealed, a link moving the horizon."""
    if at is None or at >= film.duration:
        return {"what": what, "label": "the end", "url": seen_url(url, ALL)}
    return {"what": what, "label": format_timecode(at), "url": seen_url(url, at)}


def _clamp(horizon, film):
    if horizon.kind == "time" and horizon.at >= film.duration:
        return Horizon(ALL)
    return horizon
