from django.urls import path

from films import views

app_name = "films"

urlpatterns = [
    path("", views.home, name="home"),
    path("films/<slug:slug>/", views.film_detail, name="detail"),
]
