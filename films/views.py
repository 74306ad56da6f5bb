from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import requires_csrf_token

from films.models import Credit, Film


def home(request):
    films = Film.objects.published().order_by("-featured", "-updated_at")
    return render(request, "films/home.html", {"films": films})


def film_detail(request, slug):
    """The film overview: facts, credits and the spoiler-free premise."""
    film = get_object_or_404(
        Film.objects.visible_to(request.user).for_overview(), slug=slug
    )
    credits = list(film.credits.all())
    crew_roles = [role for role in Credit.Role if role != Credit.Role.CAST]
    crew = [(role.label, [c for c in credits if c.role == role]) for role in crew_roles]
    return render(
        request,
        "films/detail.html",
        {
            "film": film,
            "crew": [(label, people) for label, people in crew if people],
            "cast": [c for c in credits if c.role == Credit.Role.CAST],
        },
    )


def page_not_found(request, exception):
    return render(request, "404.html", status=404)


@requires_csrf_token
def server_error(request):
    return render(request, "500.html", status=500)
