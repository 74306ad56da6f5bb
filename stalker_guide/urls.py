from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Stalker Guide — editors"
admin.site.site_title = "Stalker Guide admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("films.urls")),
]

handler404 = "films.views.page_not_found"
handler500 = "films.views.server_error"
