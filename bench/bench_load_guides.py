"""Benchmark: ``load_guides`` against ``loaddata`` on a generated catalogue.

Run by ``make bench``, never by the test suite. It generates a catalogue of
about 100,000 scenes (JSON Lines, ``generate_catalogue``), then loads it on
SQLite and on PostgreSQL, once with ``manage.py loaddata`` and once with
``manage.py load_guides``, each in its own process and into a fresh, migrated
database, and prints objects per second, the ratio between the two, and each
process's peak resident memory. Then it does the same with a catalogue twice
the size, to show that memory does not grow with the file.

Targets (issue 5): on PostgreSQL, ``load_guides`` at least 20 times
``loaddata``'s rate; ``load_guides`` under 300 MB at both sizes. The script
exits non-zero when one is missed.

PostgreSQL is reached at 127.0.0.1:5432 as ``postgres`` (trust auth); the
benchmark makes its own databases and drops them at the end. Expect it to take
about an hour, nearly all of it ``loaddata``.
"""

import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
MANAGE = ROOT / "manage.py"
SCENES_PER_FILM = 100
SIZES = [1_000, 2_000]  # films: about 100,000 scenes, then twice that
SEED = 1979
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
RATE_TARGET = 20
MEMORY_TARGET_MB = 300

# Production settings, as an operator would load a catalogue: with DEBUG on,
# Django also records every query, which is not what is being measured.
ENV = {
    **os.environ,
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "LOG_LEVEL": "WARNING",
}


def manage(*args, database_url):
    subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env={**ENV, "DATABASE_URL": database_url},
        check=True,
    )


def measure(command, path, database_url):
    """Run one load in its own process: (seconds, peak resident memory in MB)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(MANAGE), command, str(path), "--verbosity", "0"],
        env={**ENV, "DATABASE_URL": database_url},
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{command} failed (exit {process.returncode}); see above.")
    return seconds, usage.ru_maxrss / 1024  # Linux reports kilobytes


class SQLite:
    name = "SQLite"

    def __init__(self, folder):
        self.folder = folder
        self.template = folder / "template.sqlite3"
        manage("migrate", "--verbosity", "0", database_url=self.url(self.template))

    @staticmethod
    def url(path):
        return f"sqlite:///{path}"  # path is absolute: sqlite:////tmp/…

    def fresh(self):
        path = self.folder / "run.sqlite3"
        shutil.copyfile(self.template, path)
        return self.url(path)

    def scenes(self, url):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            return connection.execute("SELECT count(*) FROM films_scene").fetchone()[0]

    def close(self):
        pass


class PostgreSQL:
    name = "PostgreSQL"

    def __init__(self):
        self.prefix = f"stalker_bench_{os.getpid()}"
        self.template = f"{self.prefix}_template"
        self.run = f"{self.prefix}_run"
        self.admin = psycopg.connect(dbname="postgres", autocommit=True, **PG)
        self.admin.execute(f'CREATE DATABASE "{self.template}"')
        manage("migrate", "--verbosity", "0", database_url=self.url(self.template))

    @staticmethod
    def url(name):
        return f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{name}"

    def fresh(self):
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.run}"')
        self.admin.execute(f'CREATE DATABASE "{self.run}" TEMPLATE "{self.template}"')
        return self.url(self.run)

    def scenes(self, url):
        with psycopg.connect(dbname=self.run, **PG) as connection:
            return connection.execute("SELECT count(*) FROM films_scene").fetchone()[0]

    def close(self):
        for name in (self.run, self.template):
            self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.close()


def line(*cells):
    database, command, seconds, rate, memory, note = cells
    print(
        f"  {database:<11} {command:<12} {seconds:>9} {rate:>11} {memory:>12}  {note}",
        flush=True,
    )


def main():
    print(
        "load_guides against loaddata: each load in its own process, into a fresh "
        "migrated database, DEBUG off.",
        flush=True,
    )
    results = {}  # (films, database, command) -> (rate, memory)
    with tempfile.TemporaryDirectory(prefix="stalker-bench-") as folder:
        folder = Path(folder)
        databases = [SQLite(folder)]
        try:
            databases.append(PostgreSQL())
            for films in SIZES:
                catalogue = folder / f"catalogue-{films}.jsonl"
                manage(
                    "generate_catalogue",
                    f"--films={films}",
                    f"--scenes-per-film={SCENES_PER_FILM}",
                    f"--seed={SEED}",
                    f"--output={catalogue}",
                    "--verbosity=0",
                    database_url=databases[0].url(databases[0].template),
                )
                with catalogue.open("rb") as lines:
                    objects = sum(1 for _ in lines)
                size = catalogue.stat().st_size / 1e6
                print(
                    f"\nCatalogue: {films:,} films, {films * SCENES_PER_FILM:,} scenes, "
                    f"{objects:,} objects, {size:.1f} MB of JSON Lines",
                    flush=True,
                )
                line("database", "command", "seconds", "objects/s", "peak memory", "")
                for database in databases:
                    for command in ("loaddata", "load_guides"):
                        url = database.fresh()
                        seconds, memory = measure(command, catalogue, url)
                        loaded = database.scenes(url)
                        if loaded != films * SCENES_PER_FILM:
                            raise SystemExit(
                                f"{command} loaded {loaded:,} scenes, not all."
                            )
                        rate = objects / seconds
                        results[films, database.name, command] = (rate, memory)
                        note = ""
                        if command == "load_guides":
                            ratio = rate / results[films, database.name, "loaddata"][0]
                            note = f"{ratio:.1f}× loaddata's rate"
                        line(
                            database.name,
                            command,
                            f"{seconds:.1f}",
                            f"{rate:,.0f}",
                            f"{memory:.0f} MB",
                            note,
                        )
                catalogue.unlink()
        finally:
            for database in databases:
                database.close()
    return report(results)


def report(results):
    small, large = SIZES
    print("\nMemory with a file twice the size (peak resident):", flush=True)
    for database in ("SQLite", "PostgreSQL"):
        for command in ("loaddata", "load_guides"):
            before = results[small, database, command][1]
            after = results[large, database, command][1]
            print(
                f"  {database:<11} {command:<12} {before:.0f} MB → {after:.0f} MB "
                f"({(after - before) / before:+.0%})"
            )
    ratios = [
        results[films, "PostgreSQL", "load_guides"][0]
        / results[films, "PostgreSQL", "loaddata"][0]
        for films in SIZES
    ]
    peak = max(
        results[films, db, "load_guides"][1]
        for films in SIZES
        for db in ("SQLite", "PostgreSQL")
    )
    fast = min(ratios) >= RATE_TARGET
    lean = peak < MEMORY_TARGET_MB
    print("\nTargets:")
    print(
        f"  PostgreSQL rate, load_guides ≥ {RATE_TARGET}× loaddata: "
        f"{' and '.join(f'{r:.1f}×' for r in ratios)} — {'met' if fast else 'MISSED'}"
    )
    print(
        f"  load_guides peak memory < {MEMORY_TARGET_MB} MB at both sizes: "
        f"{peak:.0f} MB at most — {'met' if lean else 'MISSED'}"
    )
    return 0 if fast and lean else 1


if __name__ == "__main__":
    sys.exit(main())
