"""Soak: 50 connections for 60 s over a mix of pages, on gunicorn.

Run by ``make bench``, never by the test suite. The site is served as in
production — gunicorn with the repository's gunicorn.conf.py, PostgreSQL,
Redis when one answers — on a throwaway database with the shipped guides.
wrk drives 50 connections for 60 s, each request a page from a mix of film
pages (several horizons and orders), the catalogue, search, a person and a
theme, with a 5 s timeout. It prints req/s, p50 and p99, errors (non-2xx/3xx,
socket errors, timeouts) and each worker's resident memory after a warm-up
and after the soak; workers are not recycled (GUNICORN_MAX_REQUESTS=0) so
that growth would show. It exits non-zero on any error or timeout, or when a
worker's memory grew by more than 20 %.

    .venv/bin/python bench/bench_soak.py              # 60 s
    .venv/bin/python bench/bench_soak.py --seconds 10 # a quicker look
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_web import LATENCY, UNITS, Server, Site, ensure_wrk, redis_answers

MIX = [
    "/",
    "/films/",
    "/films/?decade=1970&sort=year",
    "/films/stalker-1979/",
    "/films/stalker-1979/?seen=all",
    "/films/stalker-1979/timeline/",
    "/films/stalker-1979/timeline/?seen=1:30&order=story",
    "/films/stalker-1979/timeline/?seen=all",
    "/films/stalker-1979/characters/",
    "/films/stalker-1979/characters/the-writer/?seen=1:10",
    "/films/stalker-1979/themes/?seen=all",
    "/films/stalker-1979/ending/?seen=all",
    "/films/stalker-1979/next/",
    "/films/mirror-1975/timeline/?order=story",
    "/films/solaris-1972/",
    "/people/andrei-tarkovsky/",
    "/search/?q=zone",
    "/search/?q=memory",
]
GROWTH_LIMIT = 1.2

SCRIPT = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def workers_rss(master):
    """Each worker's resident memory in MB, by pid."""
    pids = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(master)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    rss = {}
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        kb = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))
        rss[int(pid)] = kb / 1024
    return rss


def soak(wrk, base, seconds, script):
    out = subprocess.run(
        [
            wrk,
            "-t2",
            "-c50",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "--latency",
            "-s",
            script,
            base + "/",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    latency = {p: float(v) * UNITS[u] for p, v, u in LATENCY.findall(out)}
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    socket_errors = [int(n) for n in sockets.groups()] if sockets else [0, 0, 0, 0]
    return rate, total, latency, errors, socket_errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    options = parser.parse_args()
    wrk = ensure_wrk()
    redis = redis_answers()
    site = Site(redis)
    failed = False
    try:
        site.manage("migrate", "--verbosity", "0")
        site.manage("collectstatic", "--noinput", "--verbosity", "0")
        site.manage("load_guides", "--verbosity", "0")
        server = Server(site, GUNICORN_MAX_REQUESTS="0")
        try:
            for path in MIX:
                status, _ = server.get(path)
                if status != 200:
                    raise SystemExit(f"{path} answered {status}")
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
                f.write(SCRIPT % ", ".join(f'"{path}"' for path in MIX))
                script = f.name
            soak(wrk, server.base, 10, script)  # warm-up
            before = workers_rss(server.process.pid)
            rate, total, latency, errors, sockets = soak(
                wrk, server.base, options.seconds, script
            )
            after = workers_rss(server.process.pid)
            os.unlink(script)
        finally:
            server.stop()
    finally:
        site.drop()
    print(
        f"soak: gunicorn (gunicorn.conf.py, 2 workers, not recycled); PostgreSQL; "
        f"cache: {'Redis' if redis else 'local memory'}; wrk -t2 -c50, "
        f"{options.seconds} s over {len(MIX)} pages"
    )
    print(
        f"  {total} requests, {rate:.0f} req/s, p50 {latency.get('50', 0):.1f} ms, "
        f"p99 {latency.get('99', 0):.1f} ms"
    )
    connect, read, write, timeout = sockets
    print(
        f"  errors: {errors} non-2xx/3xx; socket: connect {connect}, read {read}, "
        f"write {write}, timeout {timeout}"
    )
    failed = errors or any(sockets)
    for pid in sorted(before):
        grown = after.get(pid)
        if grown is None:
            print(f"  worker {pid}: {before[pid]:.1f} MB, then gone (restarted)")
            failed = True
            continue
        ratio = grown / before[pid]
        print(
            f"  worker {pid}: {before[pid]:.1f} MB after warm-up, {grown:.1f} MB "
            f"after the soak ({(ratio - 1) * 100:+.1f} %)"
        )
        failed = failed or ratio > GROWTH_LIMIT
    print(
        "  " + ("MISSED" if failed else "met") + ": no error, no timeout, memory flat"
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
