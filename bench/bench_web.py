"""Benchmark: the public pages on gunicorn, as ratios to the framework's floor.

Run by ``make bench``, never by the test suite. It makes a throwaway PostgreSQL
database, loads the shipped guides, and serves the site with gunicorn (two
sync workers, production settings, Redis as the cache when one answers at
127.0.0.1:6379). wrk (Debian's package, installed here when missing) drives
each page for a few seconds with 2 threads and 20 connections, and in the same
run the *floor*: a constant 10 KB page served through the same middleware by
this benchmark's own URLconf (``bench/floor/``), driven before and after every
page, so the figures are ratios (to the floor beside each page) that compare
across machines. Each page is driven in three rounds (``--rounds``), and its
figures are the medians of its rounds, with the lowest and highest ratio
beside them: a slow spell of a shared machine moves a round, not the figure.

gunicorn's workers are not recycled during a run (``GUNICORN_MAX_REQUESTS=0``),
so each figure is the steady state.

Three runs: caches on; ``PAGE_CACHE=off``; caches on with a 1,000-film
synthetic catalogue loaded beside the shipped guides. For each page it prints
req/s, p50, p99, the ratio to the floor, and the queries a request makes
(cold, then from the cache); then the targets of issue 12 and whether each
is met. It exits non-zero when one is missed.

    .venv/bin/python bench/bench_web.py                 # everything, ~22 minutes
    .venv/bin/python bench/bench_web.py --rounds 1      # a quicker look
    .venv/bin/python bench/bench_web.py --runs off --pages catalogue,search
"""

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
FLOOR = "/__floor__/"
PAGES = [
    ("overview", "/films/stalker-1979/"),
    ("timeline", "/films/stalker-1979/timeline/"),
    ("timeline, seen=all", "/films/stalker-1979/timeline/?seen=all"),
    ("timeline, story order", "/films/stalker-1979/timeline/?seen=1:30&order=story"),
    ("characters", "/films/stalker-1979/characters/"),
    ("one character", "/films/stalker-1979/characters/the-writer/?seen=1:10"),
    ("ending", "/films/stalker-1979/ending/?seen=all"),
    ("story map image", "/films/stalker-1979/timeline.svg?seen=1:30&order=story"),
    ("watch along", "/films/stalker-1979/watch/?seen=0:52"),
    ("what did I miss", "/films/stalker-1979/watch/?from=0:52&to=1:10"),
    ("catalogue", "/films/"),
    ("catalogue, filtered", "/films/?decade=1970&sort=year"),
    ("search", "/search/?q=zone"),
    # Figures to watch, with no target of issue 12's.
    ("search, misspelt", "/search/?q=tarkovksy"),
    ("API: guide, seen=all", "/api/v1/films/stalker-1979/?seen=all"),
    ("API: search", "/api/v1/search/?q=zone"),
    ("sitemap", "/sitemap-films.xml"),
    ("feed", "/feeds/updated/"),
]
SEARCH = {"search"}
WATCHED = {"search, misspelt", "API: guide, seen=all", "API: search", "sitemap", "feed"}
OVERVIEW_AND_CATALOGUE = {"overview", "catalogue", "catalogue, filtered"}
# Issue 12's targets: ratio to the floor, by run and kind of page.
TARGETS = {
    "caches on": {"film": 0.7, "catalogue": 0.7, "search": 0.3},
    "PAGE_CACHE=off": {"film": 0.1, "overview": 0.25, "catalogue": 0.25, "search": 0.2},
    "1,000 films, caches on": {"film": 0.5, "catalogue": 0.5},
}
TIMELINE_MAX_BYTES = 100_000


def kind_of(name):
    if name in WATCHED:
        return "watched"
    if name in SEARCH:
        return "search"
    if name.startswith("catalogue"):
        return "catalogue"
    return "film"


def target_for(run, name):
    targets = TARGETS.get(run, {})
    if name == "overview" and "overview" in targets:
        return targets["overview"]
    return targets.get(kind_of(name))


def ensure_wrk():
    if shutil.which("wrk"):
        return shutil.which("wrk")
    print("wrk is missing; installing Debian's package", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    return shutil.which("wrk")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The Redis database the benchmarks use, and empty first (BENCH_REDIS_DB).
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", 7))


def redis_answers():
    """Whether Redis answers; if so, its database for the benchmark is emptied
    (a fresh site database starts its guide versions again)."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
            sock.sendall(f"SELECT {REDIS_DB}\r\nFLUSHDB\r\n".encode())
            return sock.recv(64).startswith(b"+OK")
    except OSError:
        return False


class Site:
    """A database and the environment to serve and manage it with."""

    def __init__(self, redis):
        self.name = f"stalker_bench_web_{secrets.token_hex(4)}"
        self.url = f"postgres://postgres@127.0.0.1:5432/{self.name}"
        self.env = {
            **os.environ,
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": self.url,
            "DJANGO_SETTINGS_MODULE": "bench.floor.settings",
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "ERROR",
        }
        if redis:
            self.env["REDIS_URL"] = f"redis://127.0.0.1:6379/{REDIS_DB}"
        with psycopg.connect(**PG, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def manage(self, *args):
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env,
            check=True,
            cwd=ROOT,
        )

    def drop(self):
        with psycopg.connect(**PG, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Server:
    """gunicorn with the repository's gunicorn.conf.py, as in production, but
    two workers and the access log (formatted all the same) to /dev/null."""

    def __init__(self, site, *, workers=2, **env):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                str(ROOT / "gunicorn.conf.py"),
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--access-logfile",
                os.devnull,
                "--log-level",
                "warning",
                "stalker_guide.wsgi",
            ],
            env={**site.env, **env},
            cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.get(FLOOR)
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit("gunicorn did not start within 30 s")

    def get(self, path):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


LATENCY = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def drive(wrk, url, seconds):
    """wrk for ``seconds``: (req/s, p50 ms, p99 ms, non-2xx/3xx or socket errors)."""
    out = subprocess.run(
        [wrk, "-t2", "-c20", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {p: float(v) * UNITS[u] for p, v, u in LATENCY.findall(out)}
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses:\s+(\d+)", r"Socket errors:.*"):
        match = re.search(pattern, out)
        if match and match.groups():
            errors += int(match.group(1))
        elif match:
            errors += sum(int(n) for n in re.findall(r"\d+", match.group(0)))
    return rate, latency.get("50", 0.0), latency.get("99", 0.0), errors


def counting_cache(site):
    if "REDIS_URL" not in site.env:
        return {}
    with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
        sock.sendall(f"SELECT {REDIS_DB + 1}\r\nFLUSHDB\r\n".encode())
        sock.recv(64)
    return {"REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB + 1}"}


def query_counts(site, paths, env):
    """Queries for each path: the first request, then the same again (cached,
    unless ``env`` turns the page cache off)."""
    script = (
        "import json\n"
        "from django.db import connection\n"
        "from django.test import Client\n"
        "from django.test.utils import CaptureQueriesContext\n"
        "client = Client(HTTP_HOST='127.0.0.1')\n"
        "counts = {}\n"
        "for path in json.loads(sys.argv[2]):\n"
        "    seen = []\n"
        "    for _ in range(2):\n"
        "        with CaptureQueriesContext(connection) as queries:\n"
        "            client.get(path)\n"
        "        seen.append(len(queries))\n"
        "    counts[path] = seen\n"
        "print(json.dumps(counts))\n"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, django; django.setup(); exec(sys.argv[1])",
            script,
            json.dumps(paths),
        ],
        # Its own empty cache (Redis's next database, or local memory), so
        # that the first request builds the page and the second is cached.
        env={**site.env, **env, **counting_cache(site)},
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        print(out.stderr[-2000:], file=sys.stderr)
        return {}


def run(label, site, wrk, seconds, rounds, **env):
    # Steady state: workers are not recycled mid-measurement. A recycled
    # worker spends about a second importing the site again, charged to
    # whichever URL is being driven — most often to the fastest (the floor,
    # every ~2 s at its rate with gunicorn.conf.py's 5,000 requests).
    server = Server(site, GUNICORN_MAX_REQUESTS="0", **env)
    try:
        for _, path in PAGES:
            for _ in range(20):  # warm each worker's connections and caches
                status, _body = server.get(path)
                if status != 200:
                    raise SystemExit(f"{path} answered {status}")
        # The floor before and after every page: each page's ratio is to
        # the floor measured beside it, so that a machine whose speed drifts
        # during the run (other work on it) moves both alike. Every page is
        # driven in each of ``rounds`` rounds, and its figures are the
        # medians of its rounds: one slow spell of a shared machine moves
        # one round, not the figure.
        floors = [drive(wrk, server.base + FLOOR, seconds)[0]]
        samples = {path: [] for _, path in PAGES}
        for _ in range(rounds):
            for _name, path in PAGES:
                sample = drive(wrk, server.base + path, seconds)
                floors.append(drive(wrk, server.base + FLOOR, seconds)[0])
                ratio = sample[0] / statistics.mean(floors[-2:])
                samples[path].append((*sample, ratio))
    finally:
        server.stop()
    counts = query_counts(site, [path for _, path in PAGES], env)
    print(
        f"\n{label}: floor {statistics.median(floors):,.0f} req/s (median of "
        f"{len(floors)}, from {min(floors):,.0f} to {max(floors):,.0f}); each "
        "page's ratio is to the mean of the floors just before and after it, "
        f"the median of {rounds} round{'s' if rounds > 1 else ''} (lowest–highest)"
    )
    print(
        f"  {'page':24} {'req/s':>8} {'p50':>8} {'p99':>8} {'ratio':>6} "
        f"{'rounds':>11} {'target':>7} {'queries':>8} errors"
    )
    results = []
    for name, path in PAGES:
        rate, p50, p99, _, ratio = (
            statistics.median(column) for column in zip(*samples[path], strict=True)
        )
        errors = sum(sample[3] for sample in samples[path])
        ratios = [sample[4] for sample in samples[path]]
        target = target_for(label, name)
        met = target is None or ratio >= target
        results.append((label, name, ratio, target, met))
        cold, warm = counts.get(path, ["?", "?"])
        print(
            f"  {name:24} {rate:8,.0f} {p50:6.2f}ms {p99:6.2f}ms {ratio:5.2f}x "
            f"{f'{min(ratios):.2f}–{max(ratios):.2f}':>11} "
            f"{'' if target is None else f'≥{target:.2f}':>7} {cold!s:>3}/{warm!s:<4} "
            f"{errors}"
        )
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=int, default=5, help="wrk's time per URL and round"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="how many times each page is driven (its figures are the medians)",
    )
    parser.add_argument("--films", type=int, default=1000, help="synthetic films")
    parser.add_argument(
        "--runs",
        default="on,off,large",
        help="which runs, comma-separated: on (caches on), off (PAGE_CACHE=off), "
        "large (1,000 films, caches on); default: all three",
    )
    parser.add_argument(
        "--pages",
        default="",
        help="only the pages whose names contain one of these, comma-separated "
        "(e.g. 'catalogue,search'); default: every page",
    )
    options = parser.parse_args()
    if options.seconds < 1 or options.rounds < 1:
        parser.error("--seconds and --rounds: at least 1")
    if options.pages:
        wanted = [part.strip() for part in options.pages.split(",") if part.strip()]
        PAGES[:] = [page for page in PAGES if any(w in page[0] for w in wanted)]
        if not PAGES:
            parser.error(f"--pages: no page is named like {options.pages!r}")
    runs = set(options.runs.split(","))
    if not runs or runs - {"on", "off", "large"}:
        parser.error(f"--runs: choose among on, off and large, not {options.runs!r}")
    wrk = ensure_wrk()
    redis = redis_answers()
    site = Site(redis)
    results = []
    try:
        site.manage("migrate", "--verbosity", "0")
        site.manage("collectstatic", "--noinput", "--verbosity", "0")
        site.manage("load_guides", "--verbosity", "0")
        print(
            f"web benchmark: gunicorn, 2 sync workers; PostgreSQL; cache: "
            f"{'Redis' if redis else 'local memory (no Redis answered)'}; "
            f"wrk -t2 -c20, {options.seconds} s per URL, {options.rounds} rounds"
        )
        server = Server(site)
        try:
            _, body = server.get("/films/stalker-1979/timeline/?seen=all")
        finally:
            server.stop()
        timeline_bytes = len(body)
        if "on" in runs:
            results += run("caches on", site, wrk, options.seconds, options.rounds)
        if "off" in runs:
            results += run(
                "PAGE_CACHE=off",
                site,
                wrk,
                options.seconds,
                options.rounds,
                PAGE_CACHE="off",
            )
        if "large" in runs:
            with tempfile.TemporaryDirectory() as folder:
                catalogue = Path(folder) / "catalogue.jsonl"
                site.manage(
                    "generate_catalogue",
                    "--films",
                    str(options.films),
                    "--scenes-per-film",
                    "30",
                    "--seed",
                    "1",
                    "--output",
                    str(catalogue),
                    "--verbosity",
                    "0",
                )
                site.manage("load_guides", str(catalogue), "--verbosity", "0")
            results += run(
                "1,000 films, caches on", site, wrk, options.seconds, options.rounds
            )
    finally:
        site.drop()
    print("\nTargets (issue 12):")
    missed = 0
    for run_label in TARGETS:
        label = run_label if run_label in {r[0] for r in results} else None
        if label is None:
            continue
        for kind, target in TARGETS[run_label].items():
            rows = [
                r
                for r in results
                if r[0] == run_label
                and (
                    (kind == "overview" and r[1] == "overview")
                    or (kind != "overview" and kind_of(r[1]) == kind)
                )
            ]
            if not rows:
                continue
            worst = min(rows, key=lambda r: r[2])
            met = worst[2] >= target
            missed += not met
            print(
                f"  {run_label}: {kind} pages ≥ {target}× the floor — worst "
                f"{worst[1]} {worst[2]:.2f}× — {'met' if met else 'MISSED'}"
            )
    met = timeline_bytes <= TIMELINE_MAX_BYTES
    missed += not met
    print(
        f"  the full Stalker timeline ≤ 100 KB: {timeline_bytes / 1000:.1f} KB — "
        f"{'met' if met else 'MISSED'}"
    )
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
