"""Small, explicit builders for test data. Shipped guides come from fixtures/."""

from datetime import timedelta

from films.models import Character, Credit, Film, Person, Scene, Theme


def minutes(n):
    return timedelta(minutes=n)


def make_film(slug="test-film-2000", **fields):
    values = {
        "title": "Test Film",
        "year": 2000,
        "runtime": 100,
        "premise": "A spoiler-free premise.",
        "status": Film.Status.PUBLISHED,
        **fields,
    }
    return Film.objects.create(slug=slug, **values)


def make_scene(film, position, *, length=5, **fields):
    """Scene number ``position``, ``length`` minutes long, placed back to back."""
    start = minutes((position - 1) * length)
    values = {
        "slug": f"scene-{position}",
        "screen_position": position,
        "story_position": position,
        "starts_at": start,
        "ends_at": start + minutes(length),
        "title": f"Scene {position}",
        "summary": f"What happens in scene {position}.",
        **fields,
    }
    return Scene.objects.create(film=film, **values)


def make_character(film, slug="hero", **fields):
    values = {"name": slug.title(), "description": "Who they are.", **fields}
    return Character.objects.create(film=film, slug=slug, **values)


def make_person(slug="jane-doe", **fields):
    return Person.objects.create(
        slug=slug, **{"name": slug.replace("-", " ").title(), **fields}
    )


def make_theme(slug="memory", **fields):
    values = {"name": slug.title(), "description": "What it is.", **fields}
    return Theme.objects.create(slug=slug, **values)


def make_credit(film, person, role=Credit.Role.DIRECTOR, **fields):
    return Credit.objects.create(film=film, person=person, role=role, **fields)
