from django.contrib.sitemaps import views as sitemap_views
from django.urls import path

from films import views, watch
from films.feeds import UpdatedGuides
from films.pages import site_page
from films.sitemaps import SITEMAPS

app_name = "films"

# The sitemap and the feed show the whole catalogue: kept as its pages are,
# by the catalogue's version, with what says what they are.
discovery = site_page(kept_headers=("Content-Type", "X-Robots-Tag", "Last-Modified"))

# A film's pages, each with the whole of its path: resolving a nested
# include() costs every request a second walk through a list of patterns.
FILM = "films/<slug:slug>/"
film_patterns = [
    path(FILM, views.film_detail, name="detail"),
    path(FILM + "timeline/", views.timeline, name="timeline"),
    path(FILM + "timeline.svg", views.timeline_map, name="map"),
    path(FILM + "characters/", views.characters, name="characters"),
    path(
        FILM + "characters/<slug:character_slug>/",
        views.character_detail,
        name="character",
    ),
    path(FILM + "themes/", views.film_themes, name="themes"),
    path(FILM + "ending/", views.ending, name="ending"),
    path(FILM + "next/", views.watch_next, name="next"),
    path(FILM + "watch/", watch.watch, name="watch"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("films/", views.catalogue, name="catalogue"),
    *film_patterns,
    path("themes/<slug:slug>/", views.theme_detail, name="theme"),
    path("people/<slug:slug>/", views.person_detail, name="person"),
    path("search/", views.search_page, name="search"),
    # Discovery: for crawlers, feed readers and browsers.
    path(
        "sitemap.xml",
        discovery(sitemap_views.index),
        {"sitemaps": SITEMAPS, "sitemap_url_name": "films:sitemap-section"},
        name="sitemap",
    ),
    path(
        "sitemap-<section>.xml",
        discovery(sitemap_views.sitemap),
        {"sitemaps": SITEMAPS},
        name="sitemap-section",
    ),
    path("feeds/updated/", discovery(UpdatedGuides()), name="feed"),
    path("robots.txt", views.robots_txt, name="robots"),
    path("favicon.ico", views.favicon, name="favicon"),
]
