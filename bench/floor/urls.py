"""The site's URLs and the floor: a constant 10 KB page through the same
middleware, the cheapest thing Django can serve here."""

from django.http import HttpResponse
from django.urls import path

from stalker_guide.urls import handler404, handler500, urlpatterns  # noqa: F401

BODY = (
    "<!doctype html><html lang=en><title>floor</title><p>"
    + "The floor: a constant page. " * 370
    + "</p></html>"
).encode()


def floor(request):
    return HttpResponse(BODY)


urlpatterns = [path("__floor__/", floor), *urlpatterns]
