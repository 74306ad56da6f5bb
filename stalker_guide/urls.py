from django.contrib import admin
from django.urls import include, path

from films.api import api

admin.site.site_header = "Stalker Guide — editors"
admin.site.site_title = "Stalker Guide admin"

# The public site first: its pages are most of the traffic, and every
# pattern tried before the right one costs each request.
urlpatterns = [
    path("", include("films.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]

handler404 = "films.views.page_not_found"
handler500 = "films.views.server_error"
