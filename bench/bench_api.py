"""Benchmark: the read API's response times, in process.

Run by ``make bench``, never by the test suite. It makes a throwaway test
database (SQLite unless ``DATABASE_URL`` says otherwise), loads the shipped
guides, and asks Django's test client for each API endpoint over every shipped
guide — the guide at ``none``, mid-film and ``all``, in both orders; the
catalogue, filtered; people; search — then prints each endpoint's median and
p95 in milliseconds, and a 304's. No targets: figures to watch.

    .venv/bin/python bench/bench_api.py               # ~1 minute
    .venv/bin/python bench/bench_api.py --rounds 5    # a quicker look
"""

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stalker_guide.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 50)
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    import django

    # WhiteNoise looks for collected static files, which the API does not need.
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        fixtures = sorted((ROOT / "fixtures").glob("*.json"))
        call_command("loaddata", *fixtures, verbosity=0)
        from films.models import Film

        films = list(Film.objects.published().values_list("slug", "runtime"))
        endpoints = {
            "films/": ["/api/v1/films/"],
            "films/?filters": ["/api/v1/films/?decade=1970&director=tarkovsky"],
            "films/<slug>/ none": [f"/api/v1/films/{s}/" for s, _ in films],
            "films/<slug>/ mid-film": [
                f"/api/v1/films/{s}/?seen={r // 2 // 60}:{r // 2 % 60:02d}"
                for s, r in films
            ],
            "films/<slug>/ all": [f"/api/v1/films/{s}/?seen=all" for s, _ in films],
            "films/<slug>/ all, story": [
                f"/api/v1/films/{s}/?seen=all&order=story" for s, _ in films
            ],
            "people/<slug>/": [
                "/api/v1/people/andrei-tarkovsky/",
                "/api/v1/people/alisa-freindlich/",
            ],
            "search/ none": ["/api/v1/search/?q=zone"],
            "search/ all": ["/api/v1/search/?q=zone&seen=all"],
        }
        client = Client()
        print(
            f"API response times, in process ({connection.vendor}, "
            f"{len(films)} guides, {args.rounds} rounds); milliseconds"
        )
        print(f"{'endpoint':28} {'median':>8} {'p95':>8} {'304 median':>11}")
        for label, urls in endpoints.items():
            for url in urls:  # warm up: first requests compile and import
                client.get(url)
            times, revalidated = [], []
            for _ in range(args.rounds):
                for url in urls:
                    start = time.perf_counter()
                    response = client.get(url)
                    times.append(time.perf_counter() - start)
                    assert response.status_code == 200, (url, response.content)
                    start = time.perf_counter()
                    again = client.get(url, HTTP_IF_NONE_MATCH=response["ETag"])
                    revalidated.append(time.perf_counter() - start)
                    assert again.status_code == 304, url
            print(
                f"{label:28} {statistics.median(times) * 1000:8.2f} "
                f"{percentile(times, 0.95) * 1000:8.2f} "
                f"{statistics.median(revalidated) * 1000:11.2f}"
            )
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


if __name__ == "__main__":
    main()
