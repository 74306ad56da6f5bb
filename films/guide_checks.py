"""Checks on a film's guide as a whole, beyond what one row's ``clean()`` sees.

The admin, the loader and the tests share these: a timeline must be
consistent before it is saved, whatever path it arrives by.
"""

from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise

from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError

from films.spoilers import format_timecode


def timeline_errors(film, scenes):
    """Problems with a film's scenes taken together, as ``(scene, field, message)``.

    ``scenes`` are the film's scenes in any order. The rules: screen positions
    unique, start times rising in screen order, no two scenes overlapping, every
    scene within the runtime, story positions unique.
    """
    errors = []
    seen_screen = {}
    seen_story = {}
    for scene in scenes:
        if scene.screen_position in seen_screen:
            errors.append(
                (
                    scene,
                    "screen_position",
                    f"Screen position {scene.screen_position} is also used by "
                    f"“{seen_screen[scene.screen_position].title}”.",
                )
            )
        else:
            seen_screen[scene.screen_position] = scene
        if scene.story_position in seen_story:
            errors.append(
                (
                    scene,
                    "story_position",
                    f"Story position {scene.story_position} is also used by "
                    f"“{seen_story[scene.story_position].title}”.",
                )
            )
        else:
            seen_story[scene.story_position] = scene
        if scene.ends_at is not None and scene.ends_at > film.duration:
            errors.append(
                (
                    scene,
                    "ends_at",
                    f"Ends at {format_timecode(scene.ends_at)}, after the film's end "
                    f"({format_timecode(film.duration)}).",
                )
            )
    ordered = sorted(scenes, key=lambda s: s.screen_position)
    for before, after in pairwise(ordered):
        if after.starts_at < before.starts_at:
            errors.append(
                (
                    after,
                    "starts_at",
                    f"Starts at {format_timecode(after.starts_at)}, before the scene "
                    f"placed ahead of it on screen (“{before.title}”, "
                    f"{format_timecode(before.starts_at)}).",
                )
            )
        elif after.starts_at < before.ends_at:
            errors.append(
                (
                    after,
                    "starts_at",
                    f"Starts at {format_timecode(after.starts_at)}, while "
                    f"“{before.title}” is still running (until "
                    f"{format_timecode(before.ends_at)}).",
                )
            )
    return errors


def check_timeline(film, scenes):
    """Raise ``ValidationError`` listing every timeline problem, if any."""
    errors = timeline_errors(film, scenes)
    if errors:
        raise ValidationError(
            [
                ValidationError(f"Scene “{scene.title}”, {field}: {message}")
                for scene, field, message in errors
            ]
        )


def coverage_gaps(film, scenes, longest=timedelta(minutes=5)):
    """Stretches of the film longer than ``longest`` that no scene covers."""
    gaps = []
    cursor = timedelta(0)
    for scene in sorted(scenes, key=lambda s: s.starts_at):
        if scene.starts_at - cursor > longest:
            gaps.append((cursor, scene.starts_at))
        cursor = max(cursor, scene.ends_at)
    if film.duration - cursor > longest:
        gaps.append((cursor, film.duration))
    return gaps


@dataclass(frozen=True)
class Problem:
    """Something to fix in a guide: the row at fault, its field, and why."""

    obj: object
    field: str | None
    message: str

    @property
    def field_label(self):
        if self.field is None:
            return ""
        try:
            return str(self.obj._meta.get_field(self.field).verbose_name)
        except FieldDoesNotExist:
            return self.field


def guide_problems(film):
    """Every problem with ``film``'s guide as stored, as :class:`Problem` rows.

    The checks the admin and the loader run before saving — each row's own
    rules (``full_clean()``: reveal points inside the film, a scene within the
    runtime…), a scene's characters, the timeline as a whole
    (:func:`timeline_errors`) — and, for a guide with scenes, what a complete
    guide needs: no stretch of the film left without a scene, the last scene
    ending at the runtime, the release its times follow named, and no character
    met in a scene before they are revealed or given a beat before it.
    Rows that reached the database another way (``loaddata``, an old revision)
    may break any of them.
    """
    from films.models import CharacterBeat

    problems = []
    characters = list(film.characters.all())
    beats = list(
        CharacterBeat.objects.filter(character__film=film).select_related("character")
    )
    scenes = list(film.scenes.prefetch_related("characters"))
    rows = [
        film,
        *characters,
        *beats,
        *scenes,
        *film.plot_sections.all(),
        *film.film_themes.select_related("theme"),
        *film.credits.select_related("person", "character"),
        *film.recommendations.all(),
    ]
    for row in rows:
        if hasattr(row, "film_id"):
            row.film = film
        elif isinstance(row, CharacterBeat):
            row.character.film = film
        try:
            row.full_clean()
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                field = None if field == NON_FIELD_ERRORS else field
                problems.extend(Problem(row, field, m) for m in messages)
    for scene in scenes:
        try:
            scene.clean_characters(scene.characters.all())
        except ValidationError as error:
            problems.extend(
                Problem(scene, "characters", m)
                for m in error.message_dict["characters"]
            )
    problems.extend(
        Problem(scene, field, message)
        for scene, field, message in timeline_errors(film, scenes)
    )
    if not scenes:
        return problems
    for start, end in coverage_gaps(film, scenes):
        problems.append(
            Problem(
                film,
                None,
                f"No scene covers {format_timecode(start)}–{format_timecode(end)}.",
            )
        )
    last = max(scenes, key=lambda s: s.screen_position)
    if last.ends_at < film.duration:
        problems.append(
            Problem(
                last,
                "ends_at",
                f"The last scene ends at {format_timecode(last.ends_at)}, but the "
                f"film runs to {format_timecode(film.duration)}: is the runtime "
                "that of the release the times follow?",
            )
        )
    if not film.timing_release:
        problems.append(
            Problem(
                film,
                "timing_release",
                "Name the release the scene times are taken from.",
            )
        )
    first_scene = {}
    for scene in sorted(scenes, key=lambda s: s.starts_at):
        for character in scene.characters.all():
            first_scene.setdefault(character.pk, scene)
    for character in characters:
        scene = first_scene.get(character.pk)
        if (
            scene is not None
            and character.reveals_at is not None
            and character.reveals_at > scene.starts_at
        ):
            problems.append(
                Problem(
                    character,
                    "reveals_at",
                    f"Revealed at {format_timecode(character.reveals_at)}, but on "
                    f"screen from scene {scene.screen_position} "
                    f"(“{scene.title}”, {format_timecode(scene.starts_at)}).",
                )
            )
    for beat in beats:
        revealed = beat.character.reveals_at
        if revealed is not None and (
            beat.reveals_at is None or beat.reveals_at < revealed
        ):
            shown = (
                "before watching"
                if beat.reveals_at is None
                else (f"at {format_timecode(beat.reveals_at)}")
            )
            problems.append(
                Problem(
                    beat,
                    "reveals_at",
                    f"Shown {shown}, before its character is revealed "
                    f"({format_timecode(revealed)}).",
                )
            )
    return problems
