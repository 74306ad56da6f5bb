"""The story map: a film's shape up to the visitor's horizon, drawn as SVG.

Time runs across (the film's runtime, with hour and ten-minute ticks); each
revealed scene is a block as wide as it is long and a link to its place on
the timeline; below, one lane per main character marks where they are on
screen, and a theme strip, one labelled row per theme, marks each scene's
themes. In story order, for a film that tells its story out of order, a
second row lays the revealed scenes out in the order their events happen,
and the *braid* joins each scene's place on screen to its place in the story.

The one rule of the site holds here as everywhere: what lies beyond the
horizon is not drawn at all. Past the horizon there is a single "not yet
seen" block — no boundaries, titles, characters or themes of later scenes,
in no text, title or attribute. Everything here is computed from the rows a
page has already filtered by the horizon; this module never reads the
database. The story row places the revealed scenes among themselves only, so
it does not tell where unrevealed scenes fall in the story either.

Geometry is in the SVG's own units (``WIDTH`` across); the page scales the
map to any width, and the stylesheet gives its text a larger size on narrow
screens. Colours are presentation attributes, which the site's stylesheet
overrides for its light and dark schemes (the standalone image keeps them),
so the map needs no inline style and the CSP stays strict.
"""

import functools
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils.safestring import mark_safe
from markupsafe import Markup, escape

from films.spoilers import format_timecode
from films.templatetags.guide import ordinal

WIDTH = 640
PAD = 10
PLOT = WIDTH - 2 * PAD
AXIS = 30  # the tick labels and ticks
SCENE_ROW = 30
STORY_GAP = 46  # between the screen row and the story row: the braid
STORY_ROW = 22
LABEL_ROW = 22  # a lane's name, above its marks
MARK_ROW = 10
COMPACT_ROW = 24

# The tags' colours (static/css/site.css, .swatch.theme-cN), for the
# standalone image; on the page the stylesheet sets them.
THEME_FILLS = [
    "#b35c00",
    "#2e7d32",
    "#1565c0",
    "#ad1457",
    "#6a1b9a",
    "#8d7b00",
    "#00695c",
    "#5d4037",
    "#616161",
]


@dataclass
class Block:
    x: float
    width: float
    label: str = ""  # the accessible name and tooltip
    href: str = ""
    css: str = ""

    @functools.cached_property
    def mark_x(self):
        """The start of the block's mark in a lane, up to its ``y``: written
        once for every lane it is marked in."""
        return f'<rect x="{self.x}" y="'

    @functools.cached_property
    def mark_width(self):
        return f'" width="{self.width}" height="10"/>'


@dataclass
class Lane:
    name: str
    kind: str  # "character" or "theme"
    y: float
    marks: list = field(default_factory=list)  # Blocks
    css: str = ""
    fill: str = ""

    @property
    def marks_svg(self):
        """The marks as SVG rectangles, written at once: numbers alone,
        nothing to escape (a lane holds a mark for every scene it is in)."""
        y = self.y
        return mark_safe(  # noqa: S308 — numbers only
            "".join([f"{mark.mark_x}{y}{mark.mark_width}" for mark in self.marks])
        )


def _lane_svg(lane, width):
    """A lane as the story map writes it: its name, its line, its marks."""
    y = lane.y
    return (
        f'<g class="map-lane-group map-{escape(lane.kind)}">\n'
        f'<text class="map-lane-label" x="10" y="{y - 5}" fill="#1d1c1a">'
        f"{escape(lane.name)}</text>\n"
        f'<line class="map-lane-line" x1="10" x2="{width - 10}" y1="{y + 5}" '
        f'y2="{y + 5}" stroke="#d9d5cc" stroke-width="1"/>\n'
        f'<g class="{escape(lane.css)}" fill="{escape(lane.fill)}" '
        f'aria-hidden="true">{lane.marks_svg}</g>\n'
        "</g>\n"
    )


@dataclass
class StoryMap:
    title: str
    desc: str
    height: float
    ticks: list  # (x, is_hour, label)
    scenes: list  # Blocks on the screen row
    scene_y: float
    unseen: Block | None
    horizon_x: float | None
    lanes: list
    story: list = field(default_factory=list)  # Blocks on the story row
    story_y: float = 0
    braid: list = field(default_factory=list)  # (x1, y1, x2, y2)
    nonlinearity: str = ""
    compact: bool = False
    width: int = WIDTH

    @property
    def ticks_svg(self):
        """The time axis's ticks and hour labels, written once per runtime."""
        return _ticks_svg(tuple(self.ticks))

    @property
    def scenes_svg(self):
        """The screen row's scene blocks, written at once."""
        return _blocks_svg(self.scenes, self.scene_y, 24)

    @property
    def story_svg(self):
        """The story row's scene blocks, written at once."""
        return _blocks_svg(self.story, self.story_y, 18)

    @property
    def lanes_svg(self):
        """The lanes, each with its name, line and marks, written at once."""
        width = self.width
        return Markup("".join([_lane_svg(lane, width) for lane in self.lanes]))  # noqa: S704 — escaped in _lane_svg

    @property
    def braid_svg(self):
        """The braid's curves as SVG paths, written at once (numbers alone)."""
        return mark_safe(  # noqa: S308 — numbers only
            "".join(
                f'<path d="M{x1} {y1} C{x1} {(y1 + y2) / 2} {x2} {(y1 + y2) / 2} '
                f'{x2} {y2}"/>\n'
                for x1, y1, x2, y2 in self.braid
            )
        )


@functools.lru_cache(maxsize=256)
def _ticks_svg(ticks):
    written = []
    for n, (x, is_hour, label) in enumerate(ticks):
        line = (
            f'<line x1="{x}" x2="{x}" y1="{18 if is_hour else 23}" y2="28" '
            f'stroke-width="{1.5 if is_hour else 0.75}"/>'
        )
        if label:
            anchor = "start" if n == 0 else "middle"
            line += (
                f'<text x="{x}" y="14" stroke="none" text-anchor="{anchor}">'
                f"{escape(label)}</text>"
            )
        written.append(line + "\n")
    return Markup("".join(written))  # noqa: S704 — numbers, and the labels escaped


def _blocks_svg(blocks, y, height):
    """Scene blocks as SVG, linked where they have somewhere to go: what the
    template would write for each, with the same escaping, in one string (a
    row holds a block for every scene revealed)."""
    written = []
    for block in blocks:
        rect = (
            f'<rect class="{escape(block.css)}" x="{block.x}" y="{y}" '
            f'width="{block.width}" height="{height}"/>'
        )
        if block.href:
            label = escape(block.label)
            rect = (
                f'<a href="{escape(block.href)}" aria-label="{label}">'
                f"<title>{label}</title>{rect}</a>"
            )
        written.append(rect + "\n")
    return Markup("".join(written))  # noqa: S704 — every text escaped above


def _x(at, runtime):
    seconds = min(max(at.total_seconds(), 0), runtime.total_seconds())
    return round(PAD + PLOT * seconds / runtime.total_seconds(), 2)


def _ticks(runtime):
    ticks = []
    minutes = 0
    while minutes * 60 <= runtime.total_seconds():
        is_hour = minutes % 60 == 0
        label = "" if not is_hour else ("0" if minutes == 0 else f"{minutes // 60}h")
        ticks.append((_x(timedelta(minutes=minutes), runtime), is_hour, label))
        minutes += 10
    return ticks


def _unseen(horizon, runtime, scenes):
    """The one block past the horizon, from where the revealed scenes end."""
    if horizon.is_all:
        return None, None
    start = horizon.at if not horizon.is_none else timedelta(0)
    end_of_shown = max((scene.ends_at for scene in scenes), default=start)
    start = max(start, end_of_shown)
    horizon_x = _x(horizon.at, runtime) if horizon.at is not None else PAD
    if start >= runtime:
        return None, horizon_x
    x = _x(start, runtime)
    block = Block(
        x=x,
        width=round(PAD + PLOT - x, 2),
        label=f"Not yet seen: from {format_timecode(start)} to the end",
        css="map-unseen",
    )
    return block, horizon_x


def _scene_label(scene):
    return (
        f"Scene {scene.screen_position}: {scene.title}, "
        f"{format_timecode(scene.starts_at)}–{format_timecode(scene.ends_at)}"
    )


def nonlinearity(scenes):
    """How many of these scenes are told out of order, among themselves."""
    screen = sorted(scenes, key=lambda s: s.screen_position)
    story = sorted(scenes, key=lambda s: s.story_position)
    moved = sum(1 for a, b in zip(screen, story, strict=True) if a.pk != b.pk)
    return moved, len(scenes)


def nonlinearity_text(scenes, horizon):
    moved, total = nonlinearity(scenes)
    if not total:
        return ""
    if horizon.is_all:
        return f"Told out of order in {moved} of its {total} scenes."
    scenes_word = "scene" if total == 1 else "scenes"
    return (
        f"Of the {total} {scenes_word} you have seen, "
        f"{moved} {'is' if moved == 1 else 'are'} told out of order."
    )


def build(
    *,
    film,
    scenes,
    horizon,
    order,
    orders_differ,
    lanes=(),
    themes=(),
    link=lambda scene: f"#{scene.slug}",
):
    """The map of ``scenes`` — which must be only the revealed ones.

    ``lanes`` are the main characters to draw, as (slug, name); each scene's
    ``people`` holds (slug, name, …) and its ``theme_tags`` (slug, name,
    colour); ``themes`` are the theme rows, as (slug, name, colour).
    """
    runtime = film.duration
    scenes = sorted(scenes, key=lambda s: s.screen_position)
    blocks = []
    for scene in scenes:
        x = _x(scene.starts_at, runtime)
        blocks.append(
            Block(
                x=x,
                width=max(round(_x(scene.ends_at, runtime) - x, 2), 1.5),
                label=_scene_label(scene),
                href=link(scene),
                css="map-scene",
            )
        )
    unseen, horizon_x = _unseen(horizon, runtime, scenes)
    y = AXIS
    scene_y = y
    y += SCENE_ROW
    story, braid, story_y, told = [], [], 0, ""
    if order == "story" and orders_differ and scenes:
        story_y = y + STORY_GAP
        by_screen = {
            scene.pk: block for scene, block in zip(scenes, blocks, strict=True)
        }
        span = sum((s.ends_at - s.starts_at).total_seconds() for s in scenes) or 1
        # As wide as the revealed scenes are on screen, scene for scene.
        right = max(b.x + b.width for b in blocks) - PAD
        at = float(PAD)
        by_story = sorted(scenes, key=lambda s: s.story_position)
        for rank, scene in enumerate(by_story, start=1):
            width = (scene.ends_at - scene.starts_at).total_seconds() / span * right
            block = Block(
                x=round(at, 2),
                width=max(round(width, 2), 1.5),
                label=f"{_scene_label(scene)}; in the story, {ordinal(rank)} of these",
                href=link(scene),
                css="map-scene map-story",
            )
            story.append(block)
            screen_block = by_screen[scene.pk]
            braid.append(
                (
                    round(screen_block.x + screen_block.width / 2, 2),
                    scene_y + SCENE_ROW,
                    round(block.x + block.width / 2, 2),
                    story_y,
                )
            )
            at += width
        y = story_y + STORY_ROW
        told = nonlinearity_text(scenes, horizon)
    rows = []
    # Who and what is in each scene, as sets: one look-up per lane and scene.
    people = [{person[0] for person in scene.people} for scene in scenes]
    tags = [{tag[0] for tag in scene.theme_tags} for scene in scenes]
    for slug, name in lanes:
        y += LABEL_ROW
        lane = Lane(name=name, kind="character", y=y, css="map-lane", fill="#5c5953")
        for in_scene, block in zip(people, blocks, strict=True):
            if slug in in_scene:
                lane.marks.append(block)
        rows.append(lane)
        y += MARK_ROW
    for slug, name, colour in themes:
        y += LABEL_ROW
        lane = Lane(
            name=name,
            kind="theme",
            y=y,
            css=f"map-theme theme-c{colour}",
            fill=THEME_FILLS[colour % len(THEME_FILLS)],
        )
        for in_scene, block in zip(tags, blocks, strict=True):
            if slug in in_scene:
                lane.marks.append(block)
        rows.append(lane)
        y += MARK_ROW
    height = y + 8
    return StoryMap(
        title=f"Story map of {film.title}",
        desc=_desc(film, scenes, horizon, order, rows, told),
        height=height,
        ticks=_ticks(runtime),
        scenes=blocks,
        scene_y=scene_y,
        unseen=unseen,
        horizon_x=horizon_x,
        lanes=rows,
        story=story,
        story_y=story_y,
        braid=braid,
        nonlinearity=told,
    )


def compact(*, film, starts, horizon):
    """The overview's small map: revealed scenes as plain blocks, from the
    film's reveal index (screen position, start, story position) — no titles,
    no query. Each block ends where the next scene starts."""
    runtime = film.duration
    shown = [at for _, at, _ in starts if horizon.reveals(at)]
    all_starts = [at for _, at, _ in starts]
    blocks = []
    for at in shown:
        later = [s for s in all_starts if s > at]
        end = min(later) if later else runtime
        x = _x(at, runtime)
        blocks.append(
            Block(
                x=x,
                width=max(round(_x(end, runtime) - x, 2), 1.5),
                css="map-scene",
            )
        )
    unseen, horizon_x = None, None
    if not horizon.is_all:
        if blocks:
            last = blocks[-1]
            start_x = last.x + last.width
        else:
            start_x = PAD
        horizon_x = _x(horizon.at, runtime) if horizon.at is not None else PAD
        if start_x < PAD + PLOT:
            unseen = Block(
                x=round(start_x, 2),
                width=round(PAD + PLOT - start_x, 2),
                css="map-unseen",
            )
    count = len(blocks)
    if horizon.is_all:
        desc = f"All {count} scenes of {film.title}, across its {film.runtime} minutes."
    elif count:
        desc = (
            f"The {count} scene{'s' if count != 1 else ''} of {film.title} you have "
            "seen, and the rest of the film not yet seen."
        )
    else:
        desc = f"{film.title}, {film.runtime} minutes, not yet seen."
    return StoryMap(
        title=f"Story map of {film.title}: open the timeline",
        desc=desc,
        height=AXIS + COMPACT_ROW + 6,
        ticks=_ticks(runtime),
        scenes=blocks,
        scene_y=AXIS,
        unseen=unseen,
        horizon_x=horizon_x,
        lanes=[],
        compact=True,
    )


def _desc(film, scenes, horizon, order, rows, told):
    count = len(scenes)
    if horizon.is_none:
        seen = "You have not seen any of it yet, so no scene is drawn."
    elif horizon.is_all:
        seen = f"All {count} scenes are drawn."
    else:
        seen = (
            f"The {count} scene{'s' if count != 1 else ''} you have seen "
            f"{'are' if count != 1 else 'is'} drawn; the rest is one block, "
            "not yet seen."
        )
    parts = [
        f"The {film.runtime} minutes of {film.title} from left to right, one block "
        "per scene, as wide as the scene is long.",
        seen,
    ]
    characters = [lane.name for lane in rows if lane.kind == "character"]
    if characters:
        parts.append(
            "Lanes mark when each of these is on screen: " + "; ".join(characters) + "."
        )
    themes = [lane.name for lane in rows if lane.kind == "theme"]
    if themes:
        parts.append("Rows mark the scenes of each theme: " + "; ".join(themes) + ".")
    if told:
        parts.append(
            "Below, the same scenes in story order, each joined to its place on screen. "
            + told
        )
    return " ".join(parts)
