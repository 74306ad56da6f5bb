"""The Atom feed of recently updated guides: spoiler-free by construction —
each entry is a film's title, year and premise (the text every visitor may
read before watching), linked to its overview with no ``?seen=``."""

from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from films.markup import plain_text
from films.models import Film

ENTRIES = 20


class UpdatedGuides(Feed):
    feed_type = Atom1Feed
    title = "Stalker Guide — recently updated guides"
    subtitle = "Film guides you can read without being spoiled."
    author_name = "Stalker Guide's editors"

    def link(self):
        return reverse("films:catalogue")

    def feed_url(self):
        return reverse("films:feed")

    def items(self):
        return (
            Film.objects.published()
            .only("slug", "title", "year", "premise_html", "updated_at", "created_at")
            .order_by("-updated_at", "slug")[:ENTRIES]
        )

    def item_title(self, film):
        return f"{film.title} ({film.year})"

    def item_description(self, film):
        return plain_text(film.premise_html)

    def item_link(self, film):
        return film.get_absolute_url()

    def item_updateddate(self, film):
        return film.updated_at

    def item_pubdate(self, film):
        return film.created_at
