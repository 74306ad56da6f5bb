"""Settings read from the environment fail loudly, naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from stalker_guide.settings import parse_database_url

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-production-secret-key-that-is-long-and-random-enough-0123456789",
    "ALLOWED_HOSTS": "guide.example.org",
}
VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "SECURE_HSTS_SECONDS",
    "SECURE_SSL_REDIRECT",
    "TRUSTED_PROXIES",
    "DATABASE_POOL_TIMEOUT",
)


def run_python(code, **env):
    """Run ``code`` in a fresh interpreter with only the given settings variables."""
    clean = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    clean["DJANGO_SETTINGS_MODULE"] = "stalker_guide.settings"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


LOAD_SETTINGS = "from django.conf import settings; settings.DATABASES"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe'"),
        ({**PRODUCTION, "DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({**PRODUCTION, "DATABASE_URL": "mysql://root@localhost/db"}, "DATABASE_URL"),
        ({**PRODUCTION, "DATABASE_URL": "postgres://h:port/db"}, "DATABASE_URL"),
        ({**PRODUCTION, "DATABASE_URL": "postgres://127.0.0.1:5432/"}, "DATABASE_URL"),
        ({**PRODUCTION, "DATABASE_URL": "sqlite://"}, "DATABASE_URL"),
        ({**PRODUCTION, "REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({**PRODUCTION, "SECURE_HSTS_SECONDS": "a year"}, "SECURE_HSTS_SECONDS"),
        ({**PRODUCTION, "SECURE_SSL_REDIRECT": "sometimes"}, "SECURE_SSL_REDIRECT"),
        ({**PRODUCTION, "TRUSTED_PROXIES": "10.0.0.1,proxy"}, "TRUSTED_PROXIES"),
        (
            {
                **PRODUCTION,
                "DATABASE_URL": "postgres://127.0.0.1/guide",
                "DATABASE_POOL_TIMEOUT": "soon",
            },
            "DATABASE_POOL_TIMEOUT",
        ),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(env, named):
    result = run_python(LOAD_SETTINGS, **env)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: ")
    assert named in last_line


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = run_python(LOAD_SETTINGS, **env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_off_is_the_default():
    result = run_python(LOAD_SETTINGS)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_development_starts_without_a_secret_key():
    result = run_python(
        "from django.conf import settings; print(settings.DEBUG, settings.ALLOWED_HOSTS)",
        DEBUG="true",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True ['127.0.0.1', 'localhost', '[::1]']"


def test_check_deploy_passes_with_production_variables():
    result = run_python(
        "import django, sys; django.setup();"
        "from django.core.management import call_command;"
        "call_command('check', deploy=True, fail_level='WARNING')",
        **PRODUCTION,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_when_production_is_weakened():
    result = run_python(
        "import django; django.setup();"
        "from django.core.management import call_command;"
        "call_command('check', deploy=True, fail_level='WARNING')",
        **PRODUCTION,
        SECURE_HSTS_SECONDS="0",
    )
    assert result.returncode != 0
    assert "security.W004" in result.stderr


def test_redis_url_selects_the_shared_cache():
    result = run_python(
        "from django.conf import settings; print(settings.CACHES['default']['BACKEND'])",
        **PRODUCTION,
        REDIS_URL="redis://127.0.0.1:6379/1",
    )
    assert result.stdout.strip() == "stalker_guide.redis_cache.PooledClientRedisCache"


def test_redis_gets_short_timeouts():
    result = run_python(
        "from django.conf import settings; print(settings.CACHES['default']['OPTIONS'])",
        **PRODUCTION,
        REDIS_URL="redis://127.0.0.1:6379/1",
    )
    assert result.stdout.strip() == (
        "{'socket_connect_timeout': 0.5, 'socket_timeout': 0.5}"
    )


def without_checks(options):
    """The database's options, leaving out the pool's check hooks (tested in
    tests/test_pool_checks.py)."""
    pool = {
        key: value
        for key, value in options["pool"].items()
        if key not in ("check", "reset")
    }
    return {**options, "pool": pool}


def test_postgres_url_uses_psycopg_with_its_pool():
    db = parse_database_url("postgres://guide:s%40cret@db.internal:6543/stalker_guide")
    # Django's, failing fast while the database is down.
    assert db["ENGINE"] == "stalker_guide.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "stalker_guide",
        "guide",
        "s@cret",
        "db.internal",
        "6543",
    )
    # Short waits: a database that does not answer costs a request seconds.
    assert without_checks(db["OPTIONS"]) == {
        "connect_timeout": "2",
        "prepare_threshold": 2,
        "pool": {
            "min_size": 1,
            "max_size": 4,
            "timeout": 2.0,
            "reconnect_timeout": 2.0,
        },
    }
    assert db["CONN_MAX_AGE"] == 0
    assert db["CONN_HEALTH_CHECKS"] is True


def test_database_timeouts_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_CONNECT_TIMEOUT", "5")
    monkeypatch.setenv("DATABASE_POOL_TIMEOUT", "1.5")
    monkeypatch.setenv("DATABASE_RECONNECT_TIMEOUT", "10")
    db = parse_database_url("postgres://127.0.0.1/guide")
    assert without_checks(db["OPTIONS"]) == {
        "connect_timeout": "5",
        "prepare_threshold": 2,
        "pool": {
            "min_size": 1,
            "max_size": 4,
            "timeout": 1.5,
            "reconnect_timeout": 10.0,
        },
    }
    # The URL's own connect_timeout wins.
    db = parse_database_url("postgres://127.0.0.1/guide?connect_timeout=9")
    assert db["OPTIONS"]["connect_timeout"] == "9"


def test_pool_can_be_turned_off_in_the_url():
    db = parse_database_url("postgres://127.0.0.1/guide?pool=false&sslmode=require")
    assert db["OPTIONS"] == {
        "pool": False,
        "sslmode": "require",
        "connect_timeout": "2",
        "prepare_threshold": 2,
    }


def test_sqlite_url_paths():
    assert parse_database_url("sqlite:///db.sqlite3")["NAME"] == ROOT / "db.sqlite3"
    assert parse_database_url("sqlite:////tmp/x.db")["NAME"] == "/tmp/x.db"  # noqa: S108


def test_unknown_scheme_is_refused():
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL='ftp://x'"):
        parse_database_url("ftp://x")


@pytest.mark.django_db
def test_responses_carry_a_nonce_csp_and_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    directives = {
        part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()
    }
    assert directives["script-src"] == ["'self'"]  # + a nonce once a page uses one
    assert settings.SECURE_CSP["script-src"] == [CSP.SELF, CSP.NONCE]
    assert "'unsafe-inline'" not in csp
    assert directives["object-src"] == ["'none'"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
