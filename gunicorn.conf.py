"""gunicorn's settings for Stalker Guide.

    gunicorn -c gunicorn.conf.py stalker_guide.wsgi

Used by the README's deployment and by the benchmarks (bench/). Every value
can be overridden on the command line or through the variables named here.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")

# Sync workers: a request is rendered in one go, in a few milliseconds, with
# no waiting on anything slow (timeouts are short: README, "When things
# fail"); one worker per request in flight is the simplest model. The usual
# 2 × CPUs + 1; WEB_CONCURRENCY (gunicorn's own variable) overrides it.
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count() + 1))

# A worker silent this long is killed and replaced. Requests end well within
# it: the database and Redis give up within seconds.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
# On a restart or a deploy (HUP), workers finish what they serve this long.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
# Behind a load balancer that keeps connections open.
keepalive = 5

# Each worker is replaced, gracefully, after about this many requests, the
# jitter spreading the restarts so the workers do not all restart at once:
# whatever a worker might accumulate is given back. 0 turns it off.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 5000))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", 500))

# An access log on stdout, with each request's time in milliseconds (%(M)s)
# and the client address the proxy reports.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
access_log_format = (
    '%(h)s "%({x-forwarded-for}i)s" %(t)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s"'
)
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
