"""Search benchmark (PostgreSQL and SQLite): the search view against naive ``icontains``.

On each engine in turn (``--engine`` picks one), builds a throwaway database
with about 10,000 films and 300,000 scenes, runs
twenty representative queries through the search view (the visitor has set
"seen everything" for 200 films, so their scenes are searched too), then the
same queries through the same view with the naive engine (``icontains`` on
every searched field — what SQLite uses), and prints the median and
95th-percentile latency of each and their ratio. The two sides take turns,
query by query, so that the machine's noise falls on both alike. Prints
whether the targets (p95 under 50 ms on PostgreSQL and 100 ms on SQLite, at
least 10× icontains on both) are met and exits non-zero when one is missed.

    make bench            # runs every bench/*.py
    .venv/bin/python bench/bench_search.py --films 2000   # a quicker look
    .venv/bin/python bench/bench_search.py --engine sqlite
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "stalker_guide_bench_search"
SQLITE_PATH = Path(tempfile.gettempdir()) / f"{DB_NAME}.sqlite3"
P95_TARGET_MS = {"postgresql": 50, "sqlite": 100}
RATIO_TARGET = 10
ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"

QUERIES = [
    "stalker",
    "Сталкер",
    "tarkovsky",
    "tarkovksy",
    "meat grinder",
    "solaris ocean",
    "lighthouse",
    "memory",
    "the zone",
    '"winter journey"',
    "mirror -war",
    "faith doubt",
    "railway station",
    "burning house",
    "rain",
    "grandmother letter",
    "Nostalghia",
    "monk bell",
    "silence",
    "river crossing",
]

WORDS = [
    "river",
    "house",
    "rain",
    "winter",
    "summer",
    "station",
    "railway",
    "letter",
    "mother",
    "father",
    "child",
    "forest",
    "field",
    "fire",
    "water",
    "bell",
    "monk",
    "icon",
    "painter",
    "soldier",
    "war",
    "village",
    "city",
    "lighthouse",
    "ocean",
    "island",
    "journey",
    "silence",
    "memory",
    "dream",
    "mirror",
    "room",
    "zone",
    "wish",
    "faith",
    "doubt",
    "grandmother",
    "brother",
    "sister",
    "doctor",
    "teacher",
    "poet",
    "writer",
    "music",
    "burning",
    "storm",
    "snow",
    "garden",
    "road",
    "bridge",
    "market",
    "church",
    "kitchen",
    "table",
    "window",
]
FIRST = "Anna Boris Clara Dmitri Elena Fyodor Galina Ivan Katya Lev Maria Nikolai Olga Pavel".split()  # noqa: SIM905
LAST = "Orlov Petrova Sokolov Volkova Ivanov Smirnova Kuznetsov Popova Lebedev Kozlova".split()  # noqa: SIM905


def vocabulary(rng, size=4000):
    """Made-up words, so that text has a natural language's long tail."""
    syllables = "ka lo mi ne ru sa te vo zi da fe gu ho ja ly po ri su ta we".split()  # noqa: SIM905
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def sentence(rng, n, filler=None):
    """``n`` words: a Zipf-like draw from the filler vocabulary, with about
    one word in twenty from the film vocabulary that the queries use."""
    if filler is None:
        return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."
    words = [
        rng.choice(WORDS)
        if rng.random() < 0.05
        else filler[min(int(rng.paretovariate(1.1)) - 1, len(filler) - 1)]
        for _ in range(n)
    ]
    return " ".join(words).capitalize() + "."


def psql(sql):
    subprocess.run(
        ["psql", ADMIN_URL, "-q", "-c", sql], check=True, capture_output=True
    )


def build(films, scenes_per_film, seed):
    from django.core.management import call_command
    from django.db import connection

    from films.models import Character, Film, Person, Theme

    rng = random.Random(seed)
    filler = vocabulary(rng)
    rng.shuffle(filler)
    call_command("migrate", verbosity=0)
    Theme.objects.bulk_create(
        Theme(name=w.title(), slug=w, description=sentence(rng, 20)) for w in WORDS[:40]
    )
    Person.objects.bulk_create(
        Person(name=f"{f} {last}", slug=f"{f}-{last}-{i}".lower())
        for i, (f, last) in enumerate(
            (rng.choice(FIRST), rng.choice(LAST)) for _ in range(5000)
        )
    )
    Person.objects.create(name="Andrei Tarkovsky", slug="andrei-tarkovsky")
    Film.objects.bulk_create(
        (
            Film(
                title=f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {n}",
                original_title="Сталкер" if n == 7 else "",
                slug=f"film-{n}",
                year=1920 + n % 100,
                runtime=60 + scenes_per_film * 4,
                premise=sentence(rng, 60, filler),
                status="published",
            )
            for n in range(films)
        ),
        batch_size=2000,
    )
    film_ids = list(Film.objects.values_list("id", flat=True))
    Character.objects.bulk_create(
        (
            Character(
                film_id=film_id,
                name=f"{rng.choice(FIRST)} the {rng.choice(WORDS)}",
                slug=f"c{k}",
                description=sentence(rng, 25, filler),
                reveals_at=None if k else timedelta(minutes=10),
            )
            for film_id in film_ids
            for k in range(3)
        ),
        batch_size=5000,
    )
    # Scenes through COPY (PostgreSQL) or one prepared statement (SQLite):
    # 300,000 rows in seconds rather than minutes.
    columns = (
        "film_id, slug, screen_position, story_position, starts_at, ends_at, "
        "story_label, title, summary, location, summary_html"
    )

    def scenes():
        for film_id in film_ids:
            for p in range(1, scenes_per_film + 1):
                yield (
                    film_id,
                    f"scene-{p}",
                    p,
                    p,
                    timedelta(minutes=(p - 1) * 4),
                    timedelta(minutes=p * 4),
                    "",
                    f"The {rng.choice(WORDS)} {rng.choice(WORDS)}",
                    sentence(rng, 45, filler),
                    rng.choice(WORDS).title(),
                    "",
                )

    if connection.vendor == "postgresql":
        with (
            connection.cursor() as cursor,
            cursor.connection.cursor() as raw,
            raw.copy(f"COPY films_scene ({columns}) FROM STDIN") as copy,
        ):
            for row in scenes():
                copy.write_row(row)
        with connection.cursor() as cursor:
            # As autovacuum would on a live site: flush GIN pending lists, analyse.
            cursor.execute("VACUUM ANALYZE")
    else:
        from django.db import transaction
        from django.utils.duration import duration_microseconds

        marks = ", ".join(["%s"] * 11)
        insert = f"INSERT INTO films_scene ({columns}) VALUES ({marks})"  # noqa: S608
        with transaction.atomic(), connection.cursor() as cursor:
            batch = []
            for row in scenes():
                batch.append(
                    (*row[:4], *map(duration_microseconds, row[4:6]), *row[6:])
                )
                if len(batch) == 5000:
                    cursor.executemany(insert, batch)
                    batch = []
            if batch:
                cursor.executemany(insert, batch)
        with connection.cursor() as cursor:
            # The triggers filled the FTS5 tables row by row; merge their
            # segments as a quiet hour's maintenance would, then analyse.
            from films import search_index

            for kind in search_index.TABLES:
                name = search_index.table(kind)
                cursor.execute(f"INSERT INTO {name}({name}) VALUES ('optimize')")  # noqa: S608
            cursor.execute("ANALYZE")
    return film_ids


def timed(fn, rounds):
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--films", type=int, default=10_000)
    parser.add_argument("--scenes-per-film", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1979)
    parser.add_argument(
        "--engine", choices=["both", "postgresql", "sqlite"], default="both"
    )
    args = parser.parse_args()
    if args.engine == "both":
        # One process per engine: Django is set up once per process.
        status = 0
        for engine in ("postgresql", "sqlite"):
            argv = [a for a in sys.argv[1:] if not a.startswith("--engine")]
            done = subprocess.run(
                [sys.executable, __file__, *argv, "--engine", engine], check=False
            )
            status = status or done.returncode
            print()
        return status
    return run(args)


def run(args):
    vendor = args.engine
    if vendor == "postgresql":
        psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        psql(f"CREATE DATABASE {DB_NAME}")
        # With psycopg's connection pool, as the site runs on PostgreSQL.
        url = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
    else:
        SQLITE_PATH.unlink(missing_ok=True)
        url = f"sqlite:///{SQLITE_PATH}"
    os.environ.update(
        DEBUG="true",  # static files without collectstatic; queries are not logged by the test client
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="stalker_guide.settings",
        # Search itself, not the page cache in front of it (whose key does
        # not know which engine answered).
        PAGE_CACHE="false",
    )
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()
    try:
        started = time.perf_counter()
        film_ids = build(args.films, args.scenes_per_film, args.seed)
        from films.models import Scene

        if vendor == "postgresql":
            engine_name = f"PostgreSQL {connection.pg_version // 10000}"
        else:
            import sqlite3

            engine_name = f"SQLite {sqlite3.sqlite_version}"
        print(
            f"search benchmark on {engine_name}: {len(film_ids):,} films, "
            f"{Scene.objects.count():,} scenes (built in "
            f"{time.perf_counter() - started:.0f} s), {len(QUERIES)} queries "
            f"x {args.rounds} rounds"
        )
        client = Client()
        for n in range(200):
            client.cookies[f"seen_film-{n}"] = "all"
        from films import search

        def through_view(query):
            response = client.get("/search/", {"q": query})
            assert response.status_code == 200

        full_text = search.ENGINES[vendor]

        def engine(naive):
            # The naive side is the same view with the naive engine:
            # icontains on every searched field, within the same horizons,
            # ordered names first.
            if naive:
                search.ENGINES.pop(vendor, None)
            else:
                search.ENGINES[vendor] = full_text

        # Both sides in turn, query by query, so that the machine's noise
        # falls on both alike; each query once on each side first, to warm
        # the caches.
        samples = {False: {}, True: {}}
        queries = {}
        try:
            for naive in (False, True):
                engine(naive)
                for query in QUERIES:
                    with CaptureQueriesContext(connection) as captured:
                        through_view(query)
                    queries.setdefault(naive, []).append(len(captured))
            for _ in range(args.rounds):
                for query in QUERIES:
                    for naive in (False, True):
                        engine(naive)
                        samples[naive].setdefault(query, []).extend(
                            timed(lambda q=query: through_view(q), 1)
                        )
        finally:
            engine(False)

        print(f"  {'query':22s} {'full text':>10s} {'icontains':>10s} {'ratio':>6s}")
        for query in QUERIES:
            fast = statistics.median(samples[False][query])
            slow = statistics.median(samples[True][query])
            print(f"  {query:22s} {fast:8.1f} ms {slow:7.1f} ms {slow / fast:5.1f}x")
        view = [x for q in QUERIES for x in samples[False][q]]
        simple = [x for q in QUERIES for x in samples[True][q]]
        rows = [
            ("search view, full text + trigram", view, queries[False]),
            ("search view, naive icontains", simple, queries[True]),
        ]
        for label, times, counts in rows:
            print(
                f"  {label:34s} median {statistics.median(times):7.1f} ms   "
                f"p95 {percentile(times, 95):7.1f} ms   "
                f"queries a search {min(counts)}-{max(counts)}"
            )
        median_ratio = statistics.median(simple) / statistics.median(view)
        p95_ratio = percentile(simple, 95) / percentile(view, 95)
        print(
            f"  ratio (icontains / full text): median {median_ratio:.1f}x, "
            f"p95 {p95_ratio:.1f}x"
        )
        p95 = percentile(view, 95)
        target = P95_TARGET_MS[vendor]
        quick, faster = p95 < target, median_ratio >= RATIO_TARGET
        print(f"\nTargets ({engine_name}):")
        print(
            f"  full text p95 < {target} ms: {p95:.1f} ms — "
            f"{'met' if quick else 'MISSED'}"
        )
        print(
            f"  ≥ {RATIO_TARGET}× faster than icontains (median latency): "
            f"{median_ratio:.1f}× — {'met' if faster else 'MISSED'}"
        )
        return 0 if quick and faster else 1
    finally:
        connection.close()
        if vendor == "postgresql":
            connection.close_pool()
        if not os.environ.get("BENCH_KEEP"):
            if vendor == "postgresql":
                psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            else:
                SQLITE_PATH.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
