"""The site's settings, with the floor view's URLconf: for bench_web.py only."""

from stalker_guide.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor.urls"
