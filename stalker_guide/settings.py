"""Settings for Stalker Guide, read from the environment.

Every variable has a default that makes ``make run`` work on a fresh machine,
except that production (``DEBUG`` off, the default) refuses to start without a
``SECRET_KEY``. A value that cannot be read stops start-up with
``ImproperlyConfigured`` naming the variable. The variables are listed, with
examples, in README.md.
"""

import hashlib
import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from stalker_guide.pool_checks import CheckedUnlessRecent

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name, default):
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean: use one of true/false, 1/0, yes/no, on/off."
    )


def env_int(name, default):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None


def env_float(name, default, *, zero=False):
    """Seconds, more than 0 (or 0 too, with ``zero``)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (value > 0 or (zero and value == 0)):  # also refuses nan
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number of seconds.")
    return value


def env_list(name, default):
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_database_url(url, name="DATABASE_URL"):
    """Turn ``sqlite:///path`` or ``postgres://user:pass@host:port/db`` into
    a ``DATABASES`` entry. PostgreSQL uses psycopg 3 with its connection pool.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} could not be parsed: {exc}.") from None
    if parts.scheme == "sqlite":
        # sqlite:///relative.db or sqlite:////absolute/path.db
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise ImproperlyConfigured(
                f"{name}={url!r} names no file: use sqlite:///db.sqlite3 "
                "or sqlite:////absolute/path.sqlite3."
            )
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path if Path(path).is_absolute() else BASE_DIR / path,
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    if parts.scheme in ("postgres", "postgresql", "pgsql"):
        name_in_url = unquote(parts.path.lstrip("/"))
        if not name_in_url:
            raise ImproperlyConfigured(
                f"{name}={url!r} names no database: add it after the host, "
                "e.g. postgres://postgres@127.0.0.1:5432/stalker_guide."
            )
        options = dict(parse_qsl(parts.query))
        pool = options.pop("pool", "true").lower() in _TRUE
        health_checks = env_bool("DATABASE_HEALTH_CHECKS", True)
        # A database that does not answer must cost a request seconds, not
        # the 30 s and more of the defaults (README, "When things fail"):
        # libpq gives up connecting after connect_timeout; a request waits
        # for a pooled connection at most DATABASE_POOL_TIMEOUT, then answers
        # 503; and a pool stops backing off after DATABASE_RECONNECT_TIMEOUT
        # and tries again on the next request, so a database that is back is
        # found within seconds.
        options.setdefault(
            "connect_timeout", str(env_int("DATABASE_CONNECT_TIMEOUT", 2))
        )
        # Search binds its one statement's parameters on the server
        # (films/search.py), so psycopg prepares it after this many runs on a
        # connection and PostgreSQL plans it once there, not once a search.
        # Django's own queries bind on the client and are never prepared.
        try:
            options["prepare_threshold"] = int(options.get("prepare_threshold", 2))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: prepare_threshold must be a whole number."
            ) from None
        if pool:
            pool = {
                # A sync gunicorn worker uses one connection at a time: keep
                # one open, and room for a few (threads, a management command).
                "min_size": env_int("DATABASE_POOL_MIN_SIZE", 1),
                "max_size": env_int("DATABASE_POOL_MAX_SIZE", 4),
                "timeout": env_float("DATABASE_POOL_TIMEOUT", 2.0),
                "reconnect_timeout": env_float("DATABASE_RECONNECT_TIMEOUT", 2.0),
            }
            window = env_float("DATABASE_CHECK_WINDOW", 0.25, zero=True)
            if health_checks and window > 0:
                # Checked before use unless handed out moments ago
                # (stalker_guide/pool_checks.py): not a round trip a request.
                pool["check"] = CheckedUnlessRecent(window).check
        return {
            # Django's, failing fast while the database is down (see there).
            "ENGINE": "stalker_guide.postgresql",
            "NAME": name_in_url,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(port or ""),
            # The pool keeps connections; Django must not also keep them.
            "CONN_MAX_AGE": 0,
            # A pooled connection is checked before it is handed out: after
            # the database restarts, the first request gets a new connection,
            # not an error.
            "CONN_HEALTH_CHECKS": health_checks,
            "OPTIONS": {**options, "pool": pool},
        }
    raise ImproperlyConfigured(
        f"{name}={url!r} is not a database URL Stalker Guide can use: start it "
        "with sqlite:/// or postgres://."
    )


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production (DEBUG off) refuses to start "
            "without one; for development set DEBUG=true."
        )
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    # Full-text and trigram search on PostgreSQL; harmless on SQLite.
    "django.contrib.postgres",
    "django_filters",
    # The read API (/api/v1/); listed so its docs use our own static files.
    "ninja",
    # Editors' history: every admin change is a revision they can compare,
    # revert, or recover a deleted film from.
    "reversion",
    # Throttles repeated failed admin sign-ins (see AXES_* below).
    "axes",
    "films",
]

MIDDLEWARE = [
    # First: /healthz/ and /readyz/ answer before host checks, HTTPS redirects
    # or sessions (stalker_guide/health.py).
    "stalker_guide.health.ProbeMiddleware",
    # Whether this request's reads may go to the read replica.
    "stalker_guide.replica.ReplicaMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that it turns a lockout raised anywhere into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "stalker_guide.urls"

TEMPLATES = [
    {
        # The visitors' pages (films/templating.py says why Jinja2).
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {
            "environment": "films.templating.environment",
            "autoescape": True,
            "auto_reload": DEBUG,
        },
    },
    {
        # The admin's, and the plain 500 page.
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "stalker_guide.wsgi.application"

DATABASES = {
    "default": parse_database_url(
        os.environ.get("DATABASE_URL") or "sqlite:///db.sqlite3"
    )
}

# After connecting to PostgreSQL failed, requests that need it fail at once
# (503) this long before one tries again (stalker_guide/postgresql/base.py).
DATABASE_RETRY_SECONDS = env_float("DATABASE_RETRY_SECONDS", 1.0)

# A read replica (stalker_guide/replica.py): visitors' reads go there, all
# else to the primary. In tests it mirrors the primary.
READ_REPLICA = None
if os.environ.get("DATABASE_REPLICA_URL"):
    READ_REPLICA = "replica"
    DATABASES[READ_REPLICA] = {
        **parse_database_url(
            os.environ["DATABASE_REPLICA_URL"], "DATABASE_REPLICA_URL"
        ),
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = ["stalker_guide.replica.ReplicaRouter"]
# After a request that wrote, that browser reads from the primary this long
# (longer than the replica's usual lag), so an editor sees their own save.
REPLICA_PIN_SECONDS = env_int("REPLICA_PIN_SECONDS", 10)
# After the replica fails to answer, reads go to the primary this long.
REPLICA_RETRY_SECONDS = env_float("REPLICA_RETRY_SECONDS", 5.0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The shipped guides: `manage.py loaddata stalker-1979` finds them by name.
FIXTURE_DIRS = [BASE_DIR / "fixtures"]

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    if urlsplit(REDIS_URL).scheme not in ("redis", "rediss", "unix"):
        raise ImproperlyConfigured(
            f"REDIS_URL={REDIS_URL!r} is not a Redis URL: use redis://host:6379/0."
        )
    CACHES = {
        "default": {
            # Django's, with one Redis client per pool, carrying on without
            # Redis while it does not answer (see the module).
            "BACKEND": "stalker_guide.redis_cache.PooledClientRedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that does not answer costs a request at most this long
            # (connect and read), once per REDIS_RETRY_SECONDS.
            "OPTIONS": {
                "socket_connect_timeout": env_float("REDIS_TIMEOUT", 0.5),
                "socket_timeout": env_float("REDIS_TIMEOUT", 0.5),
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            # A film has a page variant per reveal point and order: room for
            # every variant of a large catalogue's most read films.
            "OPTIONS": {"MAX_ENTRIES": env_int("CACHE_MAX_ENTRIES", 20_000)},
        }
    }
# After a Redis call fails, each process serves without Redis this long
# before asking again (stalker_guide/redis_cache.py).
REDIS_RETRY_SECONDS = env_float("REDIS_RETRY_SECONDS", 1.0)
# Cached pages are keyed by their guide's version, so they never go stale;
# the timeout only lets unread variants make room.
CACHES["default"]["TIMEOUT"] = env_int("CACHE_TIMEOUT", 24 * 3600)

# load_guides refuses a file larger than this (a .json file is read whole).
GUIDE_FILE_MAX_BYTES = env_int("GUIDE_FILE_MAX_MB", 256) * 2**20

# Page caches (films/pages.py): whole pages per guide version and horizon,
# and the ETags and Cache-Control headers that go with them. PAGE_CACHE=off
# turns them off, for measuring and debugging.
PAGE_CACHE = env_bool("PAGE_CACHE", True)
# Each worker also keeps this many of the pages it served last in memory, in
# front of the shared cache (always right: their keys carry versions).
PAGE_CACHE_LOCAL_ENTRIES = env_int("PAGE_CACHE_LOCAL_ENTRIES", 500)
# With a cache every worker shares (Redis), each film's version is kept there
# too, written by whichever worker commits a change, so a cached page costs no
# query; a per-process cache cannot be told, and the database is asked. Each
# worker also keeps its own copy of those versions while it is subscribed to
# the writers' announcements over Redis (films/head_mirror.py), so a cached
# page costs no round trip either. The time bounds how long a version could
# lag if a write to the cache or an announcement was lost.
PAGE_CACHE_SHARED = env_bool("PAGE_CACHE_SHARED", bool(REDIS_URL))
PAGE_CACHE_HEAD_SECONDS = env_int("PAGE_CACHE_HEAD_SECONDS", 30)
# How long browsers and shared caches may keep a page whose URL fixes its
# content (an explicit ?seen=), and serve it stale while they check again.
PAGE_MAX_AGE = env_int("PAGE_MAX_AGE", 300)
PAGE_STALE_WHILE_REVALIDATE = env_int("PAGE_STALE_WHILE_REVALIDATE", 3600)


def code_version():
    """What the deployed code and templates are: CODE_VERSION, or a digest of
    the files that shape a page, so a deploy never serves pages cached by the
    code before it."""
    if os.environ.get("CODE_VERSION"):
        return os.environ["CODE_VERSION"]
    digest = hashlib.blake2b(digest_size=8)
    for folder, pattern in (
        ("films", "*.py"),
        ("templates", "*.html"),
        ("static", "*.*"),
    ):
        for path in sorted((BASE_DIR / folder).rglob(pattern)):
            digest.update(str(path.relative_to(BASE_DIR)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


CODE_VERSION = code_version()

# Axes first: it refuses a locked-out sign-in before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security ------------------------------------------------------------------
# Behind a proxy that terminates TLS and sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Admin sign-in throttling (django-axes). After AXES_FAILURE_LIMIT failed
# sign-ins for one user name from one address, that pair is refused, even
# with the right password, for AXES_COOLOFF_MINUTES. Keying on the pair lets
# an editor elsewhere still sign in while someone guesses their password.
# Attempts live in the database, so every app server sees the same count.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "films.admin.lockout_response"
# The client's address behind reverse proxies (stalker_guide/proxies.py):
# X-Forwarded-For is read only as far as these proxies wrote it, and never
# without them.
AXES_CLIENT_IP_CALLABLE = "stalker_guide.proxies.client_address"


def env_networks(name):
    networks = []
    for item in env_list(name, []):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an IP address or network (e.g. "
                "10.0.0.0/8 or 192.0.2.10)."
            ) from None
    return tuple(networks)


TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES")

# Scripts only from our origin or with the per-response nonce; no inline styles
# or scripts, no plugins, no framing.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
