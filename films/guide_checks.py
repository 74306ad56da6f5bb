"""Checks on a film's guide as a whole, beyond what one row's ``clean()`` sees.

The admin, the loader and the tests share these: a timeline must be
consistent before it is saved, whatever path it arrives by.
"""

from datetime import timedelta
from itertools import pairwise

from django.core.exceptions import ValidationError

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
