from django.contrib import admin
from django.urls import include, path

from films.api import api

admin.site.site_header = "Stalker Guide — editors"
admin.site.site_title = "Stalker Guide admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("films.urls")),
]

handler404 = "films.views.page_not_found"
handler500 = "films.views.server_error"
