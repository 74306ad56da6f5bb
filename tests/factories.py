"""Small, explicit builders for test data. Shipped guides come from fixtures/."""

from datetime import timedelta

from films.derived import bumps_deferred
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


@bumps_deferred()
def build_guide(n_scenes=5, slug="guide-2000", *, story_reversed=False, **film_fields):
    """A complete small guide: every kind of row, with marked spoiler texts.

    Scene ``n`` runs from ``(n-1)*5`` to ``n*5`` minutes. Every spoiler-bearing
    text contains ``SECRET`` and its reveal time, so a test can tell them apart.

    Its rows are saved one by one, as an editor would, but the guide is bumped
    once, at the end (``bumps_deferred``): a bump per row would build its
    documents once per row, which for a long guide is most of a test's time.
    """
    from films.models import CharacterBeat, FilmTheme, PlotSection, Recommendation

    film = make_film(
        slug=slug,
        runtime=max(n_scenes * 5, 10),
        ending_explained="ENDING-SECRET: what the last scene means.",
        **film_fields,
    )
    hero = make_character(film, "hero", name="Hero", is_main=True, position=1)
    late = make_character(
        film,
        "late-arrival",
        name="Late Arrival",
        description="LATE-ARRIVAL-SECRET who turns up at 0:10.",
        reveals_at=minutes(10),
        position=2,
    )
    theme, _ = Theme.objects.get_or_create(
        slug="memory", defaults={"name": "Memory", "description": "What memory is."}
    )
    other_theme, _ = Theme.objects.get_or_create(
        slug="faith", defaults={"name": "Faith", "description": "What faith is."}
    )
    for n in range(1, n_scenes + 1):
        story = n_scenes + 1 - n if story_reversed else n
        scene = make_scene(
            film,
            n,
            story_position=story,
            summary=f"SCENE-{n}-SECRET summary at {(n - 1) * 5} minutes.",
            title=f"Scene title {n}",
        )
        scene.characters.add(hero)
        if (n - 1) * 5 >= 10:
            scene.characters.add(late)
        scene.themes.add(theme if n % 2 else other_theme)
    for n, at in enumerate([None, 5, 15], start=1):
        CharacterBeat.objects.create(
            character=hero,
            position=n,
            text=f"HERO-BEAT-{n}-SECRET",
            reveals_at=None if at is None else minutes(at),
        )
    PlotSection.objects.create(
        film=film, position=1, heading="Setting out", body="The set-up, spoiler-free."
    )
    PlotSection.objects.create(
        film=film,
        position=2,
        heading="PLOT-HEADING-SECRET",
        body="PLOT-2-SECRET at 0:15.",
        reveals_at=minutes(15),
    )
    FilmTheme.objects.create(
        film=film,
        theme=theme,
        position=1,
        analysis="MEMORY-ANALYSIS-SECRET at 0:05.",
        reveals_at=minutes(5),
    )
    FilmTheme.objects.create(
        film=film,
        theme=other_theme,
        position=2,
        analysis="Faith, spoiler-free analysis.",
    )
    Recommendation.objects.create(
        film=film,
        target_slug="mirror-1975",
        target_title="Mirror",
        target_year=1975,
        reason="Another film about memory.",
    )

    def person(slug, name):
        return Person.objects.get_or_create(slug=slug, defaults={"name": name})[0]

    make_credit(film, person("the-director", "The Director"))
    make_credit(
        film, person("lead-actor", "Lead Actor"), Credit.Role.CAST, character=hero
    )
    make_credit(
        film, person("late-actor", "Late Actor"), Credit.Role.CAST, character=late
    )
    return film
