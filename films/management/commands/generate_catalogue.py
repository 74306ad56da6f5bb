"""Generate a synthetic catalogue of film guides, for benchmarks and load tests.

    manage.py generate_catalogue --films 1000 --scenes-per-film 100 --seed 1979 \\
        --output /tmp/catalogue.jsonl

The same arguments always give the same bytes. The guides are plausible and
valid — titles and years, people credited across films, characters, scenes
that tile each film's runtime (some told out of story order), themes, plot
sections, character arcs, recommendations — so ``load_guides`` accepts them.
The file is written as ``export_guides`` would write it, in the same order,
so loading it and exporting again gives it back byte for byte.

It touches no database: the objects are built unsaved and written one film at
a time, so memory does not grow with the number of films.
"""

import os
import random
import stat
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from films.guide_files import GuideWriter
from films.models import (
    Character,
    CharacterBeat,
    Country,
    Credit,
    Film,
    FilmTheme,
    Genre,
    Language,
    Person,
    PlotSection,
    Recommendation,
    Scene,
    Theme,
)

MAX_SCENES = 10_000
MAX_FILMS = 1_000_000

COUNTRIES = [
    ("AR", "Argentina"), ("BR", "Brazil"), ("CN", "China"), ("CZ", "Czechia"),
    ("DE", "Germany"), ("DK", "Denmark"), ("ES", "Spain"), ("FR", "France"),
    ("GB", "United Kingdom"), ("GE", "Georgia"), ("HU", "Hungary"), ("IN", "India"),
    ("IR", "Iran"), ("IT", "Italy"), ("JP", "Japan"), ("KR", "South Korea"),
    ("MX", "Mexico"), ("PL", "Poland"), ("SE", "Sweden"), ("SU", "Soviet Union"),
    ("TW", "Taiwan"), ("US", "United States"),
]  # fmt: skip
LANGUAGES = [
    ("cs", "Czech"), ("da", "Danish"), ("de", "German"), ("en", "English"),
    ("es", "Spanish"), ("fa", "Persian"), ("fr", "French"), ("hi", "Hindi"),
    ("hu", "Hungarian"), ("it", "Italian"), ("ja", "Japanese"), ("ka", "Georgian"),
    ("ko", "Korean"), ("pl", "Polish"), ("pt", "Portuguese"), ("ru", "Russian"),
    ("sv", "Swedish"), ("zh", "Chinese"),
]  # fmt: skip
GENRES = [
    "Adventure", "Comedy", "Crime", "Documentary", "Drama", "Fantasy", "History",
    "Horror", "Musical", "Mystery", "Romance", "Science fiction", "Thriller",
    "War", "Western",
]  # fmt: skip
THEMES = {
    "Memory": "How the past lives on in the present, and how it changes in the telling.",
    "Faith": "Belief without proof, and what it asks of the people who hold it.",
    "Home": "The places people come from, leave, and long to return to.",
    "Exile": "Living away from one's country, language or people.",
    "Childhood": "The world as a child sees it, and what adults make of it later.",
    "War": "War as it reaches ordinary lives, and the damage that outlasts it.",
    "Guilt": "What people owe for what they did, and how they try to pay.",
    "Love": "Attachment in its many forms, and what it costs.",
    "Time": "How films stretch, fold and stop time.",
    "Nature": "Water, wind, fire and earth as forces in their own right.",
    "Art": "What art is for, and what it asks of those who make it.",
    "Death": "Mortality, grief, and what people leave behind.",
    "Hope": "What keeps people going when there is little reason to.",
    "Family": "Parents, children and siblings, bound and divided.",
    "Power": "Who rules, who obeys, and what each does to the other.",
    "Identity": "Who people are, and who they are taken to be.",
    "Dreams": "Sleep, visions and the logic of the unconscious.",
    "Science": "Knowledge, its methods, and its limits.",
    "Sacrifice": "Giving up something precious for someone or something else.",
    "Solitude": "Being alone, by choice or not.",
    "Justice": "Law, revenge, and what is fair.",
    "Money": "What people will do for it, and what it does to them.",
    "Journey": "Travel as a test, and the changes it brings.",
    "Madness": "The edge of reason, and who decides where it lies.",
    "Friendship": "Loyalty between equals, and its betrayals.",
    "The city": "Streets, crowds and the anonymity of modern life.",
}  # fmt: skip
FIRST_NAMES = [
    "Anna", "Boris", "Carla", "Dmitri", "Elena", "Federico", "Greta", "Hiro",
    "Ingrid", "Jan", "Kira", "Lev", "Maria", "Nikolai", "Olga", "Pavel", "Queenie",
    "Rosa", "Sergei", "Tomas", "Ulla", "Vera", "Wim", "Xenia", "Yasujiro", "Zofia",
    "Agnès", "Bela", "Chantal", "Dario", "Emir", "Fatima", "Gustav", "Hana",
    "Ivan", "Jeanne", "Krzysztof", "Liv", "Marcello", "Nuri", "Otar", "Pier",
]  # fmt: skip
LAST_NAMES = [
    "Abashidze", "Bergman", "Castellani", "Dovzhenko", "Eisen", "Fellini", "Gerasimov",
    "Herzog", "Ioseliani", "Jancsó", "Kieślowski", "Lindqvist", "Makavejev",
    "Nykvist", "Ozu", "Paradjanov", "Rossellini", "Shepitko", "Tarr", "Ulmer",
    "Varda", "Wajda", "Yang", "Zanussi", "Akerman", "Bresson", "Ceylan", "Dreyer",
    "Erice", "Forman", "Guerra", "Hou", "Kurosawa", "Mizoguchi", "Sokurov",
]  # fmt: skip
ADJECTIVES = [
    "Silent", "Last", "Distant", "Burning", "Frozen", "Hidden", "Golden", "Broken",
    "Long", "Quiet", "Bitter", "Wandering", "Empty", "Secret", "Pale", "Wild",
    "Forgotten", "Endless", "Red", "White", "Lost", "Sleeping", "Drowned", "Bright",
]  # fmt: skip
NOUNS = [
    "River", "Mirror", "Summer", "Harbour", "Orchard", "Station", "Winter", "Garden",
    "Bridge", "Shore", "Field", "Tower", "Bell", "Island", "Road", "Forest", "House",
    "Letter", "Window", "Horse", "Rain", "Fire", "Mountain", "Village", "Night",
    "Voyage", "Zone", "Ocean", "Lantern", "Meadow", "Echo", "Threshold",
]  # fmt: skip
PLACES = [
    "the kitchen", "the platform", "the riverbank", "the attic", "the church",
    "the market", "the border post", "the hospital", "the ferry", "the orchard",
    "the printing house", "the dacha", "the bar", "the tunnel", "the field",
    "the hotel", "the studio", "the courtyard", "the lighthouse", "the ruins",
]  # fmt: skip
OCCUPATIONS = [
    "Doctor", "Teacher", "Soldier", "Painter", "Widow", "Priest", "Stranger",
    "Boatman", "Poet", "Engineer", "Musician", "Orphan", "Officer", "Nurse",
    "Farmer", "Journalist", "Photographer", "Clerk", "Singer", "Miner",
]  # fmt: skip
ACTIONS = [
    "waits for news", "refuses to leave", "tells a story from before the war",
    "finds a letter", "quarrels over money", "walks through the rain",
    "remembers a summer", "makes a promise", "hides a secret", "loses the way",
    "burns the old papers", "sings at the table", "comes home too late",
    "sees the house on fire", "asks for forgiveness", "keeps silent",
]  # fmt: skip
STUDIOS = [
    "Mosfilm", "Lenfilm", "Gaumont", "Svensk Filmindustri", "Toho", "Cinecittà",
    "Barrandov", "Film Polski", "Shochiku", "Argos Films", "Studio Babelsberg",
]  # fmt: skip
SECTIONS = ["Set-up", "Complications", "Crisis", "Resolution", "Coda"]
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Write a deterministic synthetic catalogue of valid film guides (.json or "
        ".jsonl) for benchmarks and load tests. Same arguments, same bytes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--films", type=int, default=100, help="Number of films.")
        parser.add_argument(
            "--scenes-per-film", type=int, default=50, help="Scenes in each film."
        )
        parser.add_argument(
            "--seed", type=int, default=1979, help="Seed; the same seed, the same file."
        )
        parser.add_argument(
            "--output",
            required=True,
            metavar="PATH",
            help="The file to write: .jsonl for JSON Lines, .json for a list.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Generate and count the objects without writing the file.",
        )

    def handle(
        self, *, films, scenes_per_film, seed, output, dry_run, verbosity, **options
    ):
        if not 1 <= films <= MAX_FILMS:
            raise CommandError(f"--films must be between 1 and {MAX_FILMS:,}.")
        if not 1 <= scenes_per_film <= MAX_SCENES:
            raise CommandError(
                f"--scenes-per-film must be between 1 and {MAX_SCENES:,}."
            )
        path = Path(output)
        if path.suffix not in (".json", ".jsonl"):
            raise CommandError(f"{output}: name the file .jsonl (JSON Lines) or .json.")
        if not path.parent.is_dir():
            raise CommandError(f"{output}: the folder {path.parent} does not exist.")
        catalogue = Catalogue(films, scenes_per_film, seed)
        lines = path.suffix == ".jsonl"
        if dry_run:
            count = _write(catalogue, _Discard(), lines)
            if verbosity:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Dry run: would write {count:,} objects ({films:,} films, "
                        f"{films * scenes_per_film:,} scenes) to {output}."
                    )
                )
            return
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
                count = _write(catalogue, stream, lines)
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(temporary, stat.S_IMODE(0o666 & ~mask))
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        if verbosity:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Wrote {count:,} objects ({films:,} films, "
                    f"{films * scenes_per_film:,} scenes) to {output}."
                )
            )


def _write(catalogue, stream, lines):
    writer = GuideWriter(stream, lines=lines)
    for obj, m2m in catalogue.rows():
        writer.write(obj, m2m)
    writer.close()
    return writer.count


class _Discard:
    def write(self, text):
        pass


class Catalogue:
    """The objects of a synthetic catalogue, in the order export_guides writes.

    The shared rows (countries, languages, genres, people, themes) and each
    film's title and year come from one generator seeded with ``seed``; each
    film's guide comes from its own, seeded with the seed and the film's slug,
    so a film does not change when another is added.
    """

    def __init__(self, films, scenes_per_film, seed):
        self.scenes_per_film = scenes_per_film
        self.seed = seed
        rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
        self.countries = [Country(code=c, name=n) for c, n in COUNTRIES]
        self.languages = [Language(code=c, name=n) for c, n in LANGUAGES]
        self.genres = [Genre(slug=slugify(name), name=name) for name in GENRES]
        self.themes = [
            Theme(slug=slugify(name), name=name, description=text)
            for name, text in THEMES.items()
        ]
        self.people = self._people(rng, max(40, films * 3))
        self.directors = self.people[: max(5, films // 4)]
        self.films = self._films(rng, films)

    def _people(self, rng, count):
        people, slugs = [], set()
        while len(people) < count:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            slug = slugify(name)
            if slug in slugs:
                name = f"{name} {len(people) + 1}"
                slug = slugify(name)
            slugs.add(slug)
            born = rng.randint(1900, 2000) if rng.random() < 0.8 else None
            people.append(Person(slug=slug, name=name, born=born))
        return people

    def _films(self, rng, count):
        films, slugs = [], set()
        while len(films) < count:
            title = rng.choice(
                [
                    f"The {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}",
                    f"{rng.choice(NOUNS)} of {rng.choice(NOUNS)}s",
                    f"A {rng.choice(NOUNS)} in {rng.choice(['Winter', 'Spring', 'Autumn', 'Summer'])}",
                    f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}",
                    f"The {rng.choice(NOUNS)} and the {rng.choice(NOUNS)}",
                ]
            )
            year = rng.randint(1925, 2024)
            slug = f"{slugify(title)}-{year}"
            if slug not in slugs:
                slugs.add(slug)
                films.append((slug, title, year))
        return sorted(films)

    def rows(self):
        """(object, many-to-many values) in file order."""
        for group, key in (
            (self.countries, "code"),
            (self.languages, "code"),
            (self.genres, "slug"),
            (self.people, "slug"),
            (self.themes, "slug"),
        ):
            for obj in sorted(group, key=lambda o, key=key: getattr(o, key)):
                yield obj, {}
        for slug, title, year in self.films:
            yield from self._guide(slug, title, year)

    def _guide(self, slug, title, year):
        rng = random.Random(f"{self.seed}:{slug}")  # noqa: S311
        count = self.scenes_per_film
        # At least five seconds a scene, and a film no longer than a day.
        runtime = max(rng.randint(80, 190), -(-count * 5 // 60))
        created = EPOCH + timedelta(seconds=rng.randrange(365 * 86400))
        film = Film(
            slug=slug,
            title=title,
            original_title=title.upper() if rng.random() < 0.3 else "",
            year=year,
            runtime=runtime,
            production_companies=rng.choice(STUDIOS),
            based_on=f"a novel by {rng.choice(self.people).name}"
            if rng.random() < 0.2
            else "",
            premise=f"In {rng.choice(PLACES)}, someone {rng.choice(ACTIONS)}. "
            f"{title} follows what happens next over one {rng.choice(['summer', 'winter', 'night', 'year'])}.",
            ending_explained=f"In the end, the {rng.choice(OCCUPATIONS).lower()} "
            f"{rng.choice(ACTIONS)}, and the film leaves open what it means.",
            status=Film.Status.PUBLISHED if rng.random() < 0.9 else Film.Status.DRAFT,
            featured=rng.random() < 0.05,
            created_at=created,
            updated_at=created + timedelta(seconds=rng.randrange(90 * 86400)),
        )
        themes = rng.sample(self.themes, rng.randint(2, 4))
        yield (
            film,
            {
                "languages": rng.sample(self.languages, rng.randint(1, 2)),
                "countries": rng.sample(self.countries, rng.randint(1, 2)),
                "genres": rng.sample(self.genres, rng.randint(1, 3)),
            },
        )

        # Scenes tile the runtime: cut it at count - 1 distinct seconds.
        seconds = runtime * 60
        cuts = sorted(rng.sample(range(5, seconds - 4), count - 1)) if count > 1 else []
        starts = [0, *cuts]
        ends = [*cuts, seconds]
        starts_at = [timedelta(seconds=s) for s in starts]

        def some_start():
            return starts_at[rng.randrange(count)]

        characters = []
        used = set()
        for position in range(1, rng.randint(3, 8) + 1):
            if rng.random() < 0.5:
                name = f"The {rng.choice(OCCUPATIONS)}"
            else:
                name = rng.choice(FIRST_NAMES)
            if slugify(name) in used:
                name = f"{name} {position}"
            used.add(slugify(name))
            main = position <= 2
            characters.append(
                Character(
                    film=film,
                    slug=slugify(name),
                    name=name,
                    description=f"{name} lives near {rng.choice(PLACES)}.",
                    is_main=main,
                    position=position,
                    reveals_at=None if main or rng.random() < 0.5 else some_start(),
                )
            )
        yield from ((character, {}) for character in characters)

        for character in characters:
            if not character.is_main:
                continue
            points = sorted(some_start() for _ in range(rng.randint(2, 4)))
            for position, point in enumerate(points, 1):
                yield (
                    CharacterBeat(
                        character=character,
                        position=position,
                        text=f"{character.name} {rng.choice(ACTIONS)}.",
                        reveals_at=None if position == 1 else point,
                    ),
                    {},
                )

        # Some films tell a few scenes out of story order (flashbacks).
        story = list(range(count))
        flashbacks = set()
        if count > 2 and rng.random() < 0.3:
            flashbacks = set(
                rng.sample(range(1, count), rng.randint(1, max(1, count // 10)))
            )
            story = sorted(flashbacks) + [i for i in story if i not in flashbacks]
        story_position = {scene: place + 1 for place, scene in enumerate(story)}
        for index in range(count):
            place = rng.choice(PLACES)
            who = rng.sample(characters, rng.randint(1, min(3, len(characters))))
            scene_title = f"{who[0].name} at {place}"
            yield (
                Scene(
                    film=film,
                    slug=f"{slugify(scene_title)}-{index + 1}",
                    screen_position=index + 1,
                    starts_at=starts_at[index],
                    ends_at=timedelta(seconds=ends[index]),
                    story_position=story_position[index],
                    story_label="years earlier" if index in flashbacks else "",
                    title=scene_title,
                    summary=f"{who[0].name} {rng.choice(ACTIONS)} at {place}, "
                    f"while {who[-1].name.lower()} {rng.choice(ACTIONS)}.",
                    location=place.removeprefix("the ").capitalize(),
                ),
                {
                    "characters": who,
                    "themes": rng.sample(themes, rng.randint(0, min(2, len(themes)))),
                },
            )

        sections = SECTIONS[: rng.randint(3, 5)]
        for position, heading in enumerate(sections, 1):
            reveal = starts_at[(position - 1) * count // len(sections)]
            yield (
                PlotSection(
                    film=film,
                    position=position,
                    heading=heading,
                    body=f"Here {rng.choice(ACTIONS)}; later someone {rng.choice(ACTIONS)}.",
                    reveals_at=None if position == 1 else reveal,
                ),
                {},
            )

        for position, theme in enumerate(themes, 1):
            yield (
                FilmTheme(
                    film=film,
                    theme=theme,
                    position=position,
                    analysis=f"{theme.name} runs through {title}: the way "
                    f"{rng.choice(characters).name} {rng.choice(ACTIONS)}.",
                    reveals_at=some_start() if rng.random() < 0.7 else None,
                ),
                {},
            )

        credits = [(rng.choice(self.directors), Credit.Role.DIRECTOR, None, "")]
        crew = rng.sample(self.people, 4)
        credits += [
            (crew[0], Credit.Role.WRITER, None, "screenplay"),
            (crew[1], Credit.Role.CINEMATOGRAPHER, None, ""),
            (crew[2], Credit.Role.COMPOSER, None, ""),
            (crew[3], Credit.Role.EDITOR, None, ""),
        ]
        cast = rng.sample(self.people, len(characters))
        credits += [
            (person, Credit.Role.CAST, character, "")
            for person, character in zip(cast, characters, strict=True)
        ]
        for position, (person, role, character, note) in enumerate(credits, 1):
            yield (
                Credit(
                    film=film,
                    person=person,
                    role=role,
                    character=character,
                    note=note,
                    position=position,
                ),
                {},
            )

        wanted = min(len(self.films) - 1, rng.randint(0, 3))
        picks = [
            self.films[i]
            for i in rng.sample(
                range(len(self.films)), min(len(self.films), wanted + 1)
            )
            if self.films[i][0] != slug
        ][:wanted]
        for position, (other_slug, other_title, other_year) in enumerate(picks, 1):
            yield (
                Recommendation(
                    film=film,
                    target_slug=other_slug,
                    target_title=other_title,
                    target_year=other_year,
                    reason=f"Another film about {rng.choice(themes).name.lower()}.",
                    position=position,
                ),
                {},
            )
