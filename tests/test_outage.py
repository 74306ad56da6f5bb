"""Outages for real: the site on gunicorn, its PostgreSQL and Redis stopped
under traffic and started again.

A private PostgreSQL cluster (initdb in a temporary directory, on a spare
port) and a private redis-server serve a site run as in production: gunicorn
with gunicorn.conf.py, DEBUG off. While a thread keeps requesting pages, the
test stops the server and checks what an operator would: how soon pages
answer 503 (with Retry-After, in the site's look), that a page served just
before still answers 200, what /readyz/ says, that no request hangs — then
starts it again and measures how soon the site is back, with no restart.

The figures are printed (``pytest -s``). The binaries come from Debian's
packages (.ci/run installs them); where they are missing the tests skip,
saying which — except under ``OUTAGE_TESTS_REQUIRED=1`` (CI), where they fail. They run in the SQLite pass only: they bring their own
PostgreSQL, whatever DATABASE_URL says.
"""

import contextlib
import glob
import http.client
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.outage,
    pytest.mark.skipif(
        os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="runs in the SQLite pass; it brings its own PostgreSQL",
    ),
]

SERVED_BEFORE = "/films/stalker-1979/"  # served just before the outage
NEVER_SERVED = "/films/stalker-1979/characters/?seen=all"
TRAFFIC = [
    SERVED_BEFORE,  # so that every worker has it cached (local memory is per worker)
    "/films/stalker-1979/timeline/",
    "/films/stalker-1979/themes/",
    "/films/",
    "/films/stalker-1979/next/",
]


def binary(name):
    """A PostgreSQL or Redis program: on PATH, or in Debian's PostgreSQL folder."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)),
        None,
    )
    if found is None and os.environ.get("OUTAGE_TESTS_REQUIRED"):
        pytest.fail(f"{name} is not installed, and CI requires the outage tests")
    if found is None:
        pytest.skip(
            f"{name} is not installed (Debian: apt-get install postgresql "
            "redis-server); the outage tests need it"
        )
    return found


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} within {seconds} s")


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class PostgreSQL:
    """A throwaway cluster. PostgreSQL refuses to run as root: then its
    programs run as the ``postgres`` user (Debian's package makes it)."""

    def __init__(self, folder):
        self.initdb, self.pg_ctl = binary("initdb"), binary("pg_ctl")
        self.data = folder / "data"
        self.log = folder / "postgresql.log"
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root, and there is no postgres user")
            os.chown(folder, self.user.pw_uid, self.user.pw_gid)
        self.run(
            self.initdb,
            "-D",
            self.data,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def run(self, *args):
        command = [str(arg) for arg in args]
        if self.user is not None:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self):
        self.run(
            self.pg_ctl,
            "-D",
            self.data,
            "-l",
            self.log,
            "-w",
            "-t",
            "30",
            "-o",
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            "start",
        )

    def stop(self):
        # "fast": clients are disconnected at once, as in a crash or failover.
        self.run(self.pg_ctl, "-D", self.data, "-m", "fast", "-w", "stop")

    def ensure_running(self):
        if not port_open(self.port):
            self.start()

    @property
    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/stalker_guide"


class Redis:
    def __init__(self, folder):
        self.program = binary("redis-server")
        self.folder = folder
        self.port = free_port()
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [
                self.program,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: port_open(self.port), 10, "redis-server did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)

    def keys(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"DBSIZE\r\n")
            return int(sock.recv(64).strip().lstrip(b":"))

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"


class Site:
    """The site on gunicorn, as in production."""

    def __init__(self, folder, database, redis=None):
        self.port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "REDIS_URL"},
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": database.url,
            "LOG_LEVEL": "CRITICAL",
        }
        if redis is not None:
            self.env["REDIS_URL"] = redis.url
        self.log = open(folder / "gunicorn.log", "w")  # noqa: SIM115 — closed in stop()
        self.process = None

    def manage(self, *args):
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=300,
        )

    def start(self):
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "gunicorn.conf.py",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--access-logfile",
                os.devnull,
                "stalker_guide.wsgi",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=self.log,
        )
        wait_for(lambda: port_open(self.port), 30, "gunicorn did not start")

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.log.close()

    def get(self, path, timeout=10, headers=None):
        """(status, headers, body, seconds)."""
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            body = response.read().decode()
            return (
                response.status,
                dict(response.getheaders()),
                body,
                time.monotonic() - started,
            )
        finally:
            connection.close()


class Traffic(threading.Thread):
    """Requests without a pause, recording each one's status and time."""

    def __init__(self, site):
        super().__init__(daemon=True)
        self.site = site
        self.results = []  # (path, status or error, seconds)
        self.done = threading.Event()

    def run(self):
        n = 0
        while not self.done.is_set():
            path = TRAFFIC[n % len(TRAFFIC)]
            n += 1
            try:
                status, _, _, seconds = self.site.get(path)
            except OSError as error:
                status, seconds = type(error).__name__, None
            self.results.append((path, status, seconds))

    def stop(self):
        self.done.set()
        self.join(timeout=15)
        return self.results


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory(prefix="stalker-outage-") as name:
        os.chmod(name, 0o755)  # noqa: S103 — the postgres user reads it
        yield Path(name)


@pytest.fixture(scope="module")
def database(folder):
    postgres = PostgreSQL(folder)
    postgres.start()
    try:
        postgres.run(
            binary("createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            postgres.port,
            "-U",
            "postgres",
            "stalker_guide",
        )
        loader = Site(folder, postgres)
        loader.manage("migrate", "--verbosity", "0")
        # Production settings serve hashed static files from a manifest.
        loader.manage("collectstatic", "--noinput", "--verbosity", "0")
        loader.manage("load_guides", "fixtures/stalker-1979.json", "--verbosity", "0")
        loader.stop()
        yield postgres
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            postgres.stop()


def report(title, figures):
    print(f"\n{title}:")
    for name, value in figures.items():
        print(f"  {name}: {value}")


def test_postgresql_stopped_under_traffic_and_started_again(folder, database):
    site = Site(folder, database)
    site.start()
    problems, figures = [], {}
    traffic = None
    try:
        for path in (SERVED_BEFORE, "/readyz/"):
            status, _, _, _ = site.get(path)
            assert status == 200, path
        status, _, _, _ = site.get(SERVED_BEFORE)  # both workers, likely
        traffic = Traffic(site)
        traffic.start()
        time.sleep(1)

        stopped_at = time.monotonic()
        database.stop()
        figures["PostgreSQL stopped in"] = f"{time.monotonic() - stopped_at:.2f} s"

        # A page never served: a 503 in the site's look, within 3 s.
        first_503 = None
        for _ in range(20):
            status, headers, body, seconds = site.get(NEVER_SERVED)
            if seconds >= 3:
                problems.append(f"{NEVER_SERVED} took {seconds:.2f} s")
            if status == 503:
                first_503 = time.monotonic() - stopped_at
                break
            time.sleep(0.1)
        assert first_503 is not None, "no 503 while PostgreSQL was down"
        figures["first 503 after the stop"] = f"{first_503:.2f} s"
        figures["that request took"] = f"{seconds:.2f} s"
        assert headers.get("Retry-After") == "30"
        assert "Back in a moment" in body
        assert 'rel="stylesheet" href="/static/css/site.' in body  # the site's look
        for secret in ("psycopg", "OperationalError", str(database.port), "Traceback"):
            assert secret not in body

        # Readiness names the database, fast; liveness is untouched.
        status, _, body, seconds = site.get("/readyz/")
        figures["/readyz/ during the outage"] = (
            f"{status} {body.strip()} in {seconds:.2f} s"
        )
        if not (status == 503 and '"database": "unavailable"' in body and seconds < 3):
            problems.append(
                f"/readyz/ during the outage: {status} {body} {seconds:.2f} s"
            )
        status, _, _, seconds = site.get("/healthz/")
        if status != 200 or seconds > 0.5:
            problems.append(f"/healthz/ during the outage: {status} in {seconds:.2f} s")

        # The admin says editing is unavailable (a signed-in editor's request
        # reads the session from the database).
        status, headers, body, seconds = site.get(
            "/admin/films/film/", headers={"Cookie": "sessionid=" + "x" * 32}
        )
        figures["an editor's admin page during the outage"] = (
            f"{status} in {seconds:.2f} s"
        )
        if not (
            status == 503
            and "Editing is unavailable for now" in body
            and headers.get("Retry-After") == "30"
        ):
            problems.append(f"the admin during the outage: {status}")

        # A page served a moment before the outage: served from the cache.
        # (films/pages.py must serve a cached page without the database.)
        answers = [site.get(SERVED_BEFORE) for _ in range(6)]  # both workers
        status = max(answer[0] for answer in answers)
        seconds = max(answer[3] for answer in answers)
        figures["page served just before, during the outage"] = (
            f"{sorted({answer[0] for answer in answers})} in at most {seconds:.2f} s"
        )
        if status != 200:
            problems.append(
                f"{SERVED_BEFORE}, served just before the outage, answered {status} "
                "during it (expected 200 from the cache)"
            )

        time.sleep(2)  # traffic meanwhile
        started_at = time.monotonic()
        database.start()
        figures["PostgreSQL started in"] = f"{time.monotonic() - started_at:.2f} s"
        # Recovered: the first 200, and every answer a 200 from then on (20 in
        # a row, from both workers: each finds the database by itself).
        first_200 = last_other = None
        streak = 0
        while streak < 20 and time.monotonic() - started_at < 30:
            status, _, _, _ = site.get(NEVER_SERVED)
            now = time.monotonic() - started_at
            if status == 200:
                first_200 = first_200 if first_200 is not None else now
                streak += 1
            else:
                last_other, streak = now, 0
            time.sleep(0.1)
        assert streak == 20, "the site did not recover within 30 s"
        figures["first 200 after PostgreSQL started"] = f"{first_200:.2f} s"
        figures["every answer 200 after PostgreSQL started"] = (
            "at once" if last_other is None else f"{last_other:.2f} s"
        )
        if last_other is not None and last_other > 5:
            problems.append(f"answers other than 200 until {last_other:.2f} s")
        status, _, body, _ = site.get("/readyz/")
        assert status == 200, body
        time.sleep(1)
        results = traffic.stop()
        traffic = None
        statuses = {}
        for _, status, _ in results:
            statuses[status] = statuses.get(status, 0) + 1
        slowest = max(seconds for _, _, seconds in results if seconds is not None)
        figures["background traffic"] = (
            f"{len(results)} requests, {statuses}, slowest {slowest:.2f} s"
        )
        if slowest >= 3:
            problems.append(f"a request took {slowest:.2f} s")
        if set(statuses) - {200, 503}:
            problems.append(f"answers other than 200 and 503: {statuses}")
        # After recovery, every page answers again.
        for path in [SERVED_BEFORE, NEVER_SERVED, *TRAFFIC]:
            status, _, _, _ = site.get(path)
            if status != 200:
                problems.append(f"{path} answered {status} after recovery")
    finally:
        if traffic is not None:
            traffic.stop()
        site.stop()
        database.ensure_running()  # for the next test, whatever happened
        report("PostgreSQL outage", figures)
    assert not problems, problems


def test_redis_stopped_under_traffic_and_started_again(folder, database):
    redis = Redis(folder)
    redis.start()
    site = Site(folder, database, redis)
    site.start()
    problems, figures = [], {}
    try:
        for path in [SERVED_BEFORE, *TRAFFIC]:
            assert site.get(path)[0] == 200, path
        assert redis.keys() > 0  # pages are cached there

        redis.stop()
        slowest, statuses = 0.0, {}
        for path in [NEVER_SERVED, SERVED_BEFORE, *TRAFFIC] * 3:
            status, _, _, seconds = site.get(path)
            statuses[status] = statuses.get(status, 0) + 1
            slowest = max(slowest, seconds)
        figures["Redis stopped: pages"] = f"{statuses}, slowest {slowest:.2f} s"
        if set(statuses) != {200} or slowest >= 2:
            problems.append(f"with Redis stopped: {statuses}, slowest {slowest:.2f} s")
        status, _, body, seconds = site.get("/readyz/")
        figures["/readyz/ with Redis stopped"] = (
            f"{status} {body.strip()} in {seconds:.2f} s"
        )
        if not (status == 503 and '"cache": "unavailable"' in body):
            problems.append(f"/readyz/ with Redis stopped: {status} {body}")

        started_at = time.monotonic()
        redis.start()
        resumed = None
        # Pages each worker served meanwhile stay in its own memory; a page
        # not built yet goes to Redis once caching resumes.
        fresh = [
            f"/films/stalker-1979/{page}?seen={seen}"
            for seen in ("all", "1:00", "0:30", "2:00", "0:10")
            for page in ("ending/", "characters/the-writer/", "timeline/", "themes/")
        ]
        while time.monotonic() - started_at < 10 and fresh:
            site.get(fresh.pop(0))
            if redis.keys() > 0:
                resumed = time.monotonic() - started_at
                break
            time.sleep(0.1)
        figures["caching resumed after Redis started"] = (
            "never" if resumed is None else f"{resumed:.2f} s"
        )
        if resumed is None:
            problems.append("caching did not resume within 10 s of Redis starting")
        status, _, body, _ = site.get("/readyz/")
        if status != 200:
            problems.append(f"/readyz/ after Redis started: {status} {body}")

        # Hung rather than stopped: it accepts connections and never answers.
        os.kill(redis.process.pid, signal.SIGSTOP)
        try:
            slowest, statuses = 0.0, {}
            for path in [NEVER_SERVED, SERVED_BEFORE, *TRAFFIC] * 2:
                status, _, _, seconds = site.get(path)
                statuses[status] = statuses.get(status, 0) + 1
                slowest = max(slowest, seconds)
            figures["Redis hung: pages"] = f"{statuses}, slowest {slowest:.2f} s"
            if set(statuses) != {200} or slowest >= 2:
                problems.append(f"with Redis hung: {statuses}, slowest {slowest:.2f} s")
        finally:
            os.kill(redis.process.pid, signal.SIGCONT)
    finally:
        site.stop()
        redis.stop()
        report("Redis outage", figures)
    assert not problems, problems
