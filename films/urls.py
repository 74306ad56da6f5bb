from django.urls import include, path

from films import views

app_name = "films"

film_patterns = [
    path("", views.film_detail, name="detail"),
    path("timeline/", views.timeline, name="timeline"),
    path("timeline.svg", views.timeline_map, name="map"),
    path("characters/", views.characters, name="characters"),
    path(
        "characters/<slug:character_slug>/",
        views.character_detail,
        name="character",
    ),
    path("themes/", views.film_themes, name="themes"),
    path("ending/", views.ending, name="ending"),
    path("next/", views.watch_next, name="next"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("films/", views.catalogue, name="catalogue"),
    path("films/<slug:slug>/", include(film_patterns)),
    path("themes/<slug:slug>/", views.theme_detail, name="theme"),
    path("people/<slug:slug>/", views.person_detail, name="person"),
    path("search/", views.search_page, name="search"),
]
