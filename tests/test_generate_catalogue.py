"""``manage.py generate_catalogue``: a synthetic catalogue for benchmarks.

It must be deterministic (the same arguments give the same bytes), valid (it
loads with every check), and plausible enough to exercise what real guides do.
"""

import json
from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from films.guide_checks import timeline_errors
from films.models import Credit, Film, Scene

pytestmark = pytest.mark.django_db


def generate(path, films=6, scenes_per_film=12, seed=1979, **options):
    out = StringIO()
    call_command(
        "generate_catalogue",
        films=films,
        scenes_per_film=scenes_per_film,
        seed=seed,
        output=str(path),
        stdout=out,
        **options,
    )
    return out.getvalue()


def test_the_same_arguments_give_the_same_bytes(tmp_path):
    generate(tmp_path / "a.jsonl")
    generate(tmp_path / "b.jsonl")
    generate(tmp_path / "c.jsonl", seed=1980)

    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert (tmp_path / "a.jsonl").read_bytes() != (tmp_path / "c.jsonl").read_bytes()


def test_it_says_what_it_wrote(tmp_path):
    output = generate(tmp_path / "a.json", films=3, scenes_per_film=4)
    count = len(json.loads((tmp_path / "a.json").read_text()))
    assert (
        output
        == f"Wrote {count:,} objects (3 films, 12 scenes) to {tmp_path / 'a.json'}.\n"
    )


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_it_loads_with_every_check_and_exports_back_byte_for_byte(tmp_path, suffix):
    path = tmp_path / f"catalogue{suffix}"
    generate(path)

    call_command("load_guides", str(path), stdout=StringIO())
    call_command(
        "export_guides", output=str(tmp_path / f"export{suffix}"), stdout=StringIO()
    )

    assert (tmp_path / f"export{suffix}").read_bytes() == path.read_bytes()


def test_the_catalogue_looks_like_a_catalogue(tmp_path):
    path = tmp_path / "catalogue.jsonl"
    generate(path, films=30, scenes_per_film=20)
    call_command("load_guides", str(path), stdout=StringIO())

    assert Film.objects.count() == 30
    assert Scene.objects.count() == 30 * 20
    for film in Film.objects.all():
        scenes = list(film.scenes.all())
        assert timeline_errors(film, scenes) == []
        assert scenes[-1].ends_at == film.duration  # the scenes tile the film
        assert 1925 <= film.year <= 2024
        assert film.slug.endswith(f"-{film.year}")
        assert film.credits.filter(role=Credit.Role.DIRECTOR).count() == 1
        assert film.characters.count() >= 3
        assert film.film_themes.count() >= 2
    directors = Counter(
        Credit.objects.filter(role="director").values_list("person__slug", flat=True)
    )
    assert max(directors.values()) > 1  # people work on several films
    out_of_order = [
        f for f in Film.objects.all()
        if list(f.scenes.in_story_order()) != list(f.scenes.in_screen_order())
    ]  # fmt: skip
    assert out_of_order  # some films are told out of story order


def test_dry_run_writes_no_file(tmp_path):
    output = generate(tmp_path / "a.jsonl", films=2, scenes_per_film=3, dry_run=True)
    assert output.startswith("Dry run: would write ")
    assert not (tmp_path / "a.jsonl").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"films": 0}, "--films must be between 1 and 1,000,000."),
        ({"scenes_per_film": 0}, "--scenes-per-film must be between 1 and 10,000."),
        (
            {"scenes_per_film": 10_001},
            "--scenes-per-film must be between 1 and 10,000.",
        ),
    ],
)
def test_arguments_out_of_range_are_refused(tmp_path, options, message):
    with pytest.raises(CommandError) as caught:
        generate(tmp_path / "a.jsonl", **options)
    assert str(caught.value) == message


def test_the_output_must_be_a_guide_file(tmp_path):
    with pytest.raises(CommandError, match=r"name the file \.jsonl"):
        generate(tmp_path / "a.csv")
