"""How the skills constellation is drawn: bounded stars and labels that never collide.

A star's radius grows with the square root of its share of the most-used
skill, so a garden of a thousand projects draws the same sky as one of twenty
(0.1 drew ``0.02 × uses``: 4 units at 200 projects, in a 22-unit sky). Labels
are placed greedily, most-used star first, and one that would overlap a label
already placed is left to show on hover; the list under the sky names every
skill.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Radius of the least and the most used star, in sky units (the sky is 22 units wide).
MIN_RADIUS, MAX_RADIUS = 0.16, 0.55
#: Label font size and the width of one character, in sky units (text-anchor: middle).
FONT, CHAR_WIDTH = 0.45, 0.26
#: Project links listed under a skill before "and N more".
LISTED_PROJECTS = 12


@dataclass(frozen=True)
class Star:
    """One skill as drawn: where, how big, and whether its label is always shown."""

    id: str
    x: float
    y: float
    r: float
    label: bool


def star_radius(uses: int, most: int) -> float:
    """Bounded radius: from MIN_RADIUS (unused) to MAX_RADIUS (the most used skill)."""
    share = math.sqrt(uses / most) if most > 0 else 0.0
    return round(MIN_RADIUS + (MAX_RADIUS - MIN_RADIUS) * share, 3)


def label_box(x: float, y: float, r: float, name: str) -> tuple[float, float, float, float]:
    """The label's box (left, top, right, bottom), set just above its star."""
    half = len(name) * CHAR_WIDTH / 2
    bottom = y - r - 0.08
    return (x - half, bottom - FONT, x + half, bottom)


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def star_chart(skills: Mapping[str, Any]) -> dict[str, Star]:
    """Every node of the constellation as a :class:`Star`, keyed by skill id (top view: x, z)."""
    nodes = skills.get("nodes", [])
    most = max((int(n["uses"]) for n in nodes), default=0)
    discs = {}
    for node in nodes:
        x, y = float(node["position"]["x"]), float(node["position"]["z"])
        r = star_radius(int(node["uses"]), most)
        discs[str(node["id"])] = (x, y, r)
    placed: list[tuple[float, float, float, float]] = []
    stars: dict[str, Star] = {}
    for node in sorted(nodes, key=lambda n: (-int(n["uses"]), str(n["id"]))):
        key = str(node["id"])
        x, y, r = discs[key]
        box = label_box(x, y, r, str(node["name"]))
        # a label may cover neither another label nor another star's disc
        free = not any(_overlaps(box, other) for other in placed) and not any(
            _overlaps(box, (ox - orr, oy - orr, ox + orr, oy + orr))
            for other, (ox, oy, orr) in discs.items()
            if other != key
        )
        if free:
            placed.append(box)
        stars[key] = Star(key, x, y, r, free)
    return stars
