"""WSGI entry point: ``gunicorn stalker_guide.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stalker_guide.settings")

application = get_wsgi_application()
