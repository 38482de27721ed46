"""The garden drawn as SVG: plants by species and stage, skies by weather. Pure.

One drawing serves every sharing surface: the animated README cards embed
it, and the link-preview PNGs are rasterized from it. Every plant is drawn
standing on its base at ``(0, 0)``, growing up (negative y) to about
:data:`TALL` units when fully grown, so a caller places it with one
``translate`` and sizes it with one ``scale``.

Numbers are written with at most one decimal: the same garden gives the same
bytes, and the cards stay small.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

TALL = 100.0  # height of a fully grown plant, in drawing units

#: Leaf and flower colour of each species (the theme's garden.js uses the same pairs).
SPECIES: dict[str, tuple[str, str]] = {
    "fern": ("#3f9e4a", "#e7f59a"),
    "lavender": ("#6f9a6a", "#a37be0"),
    "sunflower": ("#5da13a", "#f4c430"),
    "cactus": ("#4f9a5b", "#f06aa0"),
    "bamboo": ("#7fb24a", "#f4eaa0"),
    "oak": ("#3f8f3a", "#f7c6d9"),
    "pine": ("#2d6a4f", "#f9d56e"),
    "rose": ("#3e7d3a", "#e0456b"),
    "moss": ("#6aa84f", "#d9475b"),
    "ivy": ("#2f7d3d", "#fff6c8"),
}

#: Stage colours of the theme (badges, the overview map).
STAGE_COLORS: dict[str, str] = {
    "seed": "#8b6b3d",
    "sprout": "#6fae4f",
    "sapling": "#2f8f4a",
    "blooming": "#c2417a",
    "mature": "#1f5d33",
    "dormant": "#8a8577",
}


@dataclass(frozen=True)
class Sky:
    """Colours of one weather condition, by day (light) and by night (dark)."""

    top: str
    bottom: str
    ground: str
    night_top: str
    night_bottom: str
    night_ground: str


SKIES: dict[str, Sky] = {
    "sunny": Sky("#4d9fe0", "#d4ecf7", "#7fb85a", "#0f2340", "#2b4a6b", "#2f4d2a"),
    "cloudy": Sky("#8aa3ba", "#dce4ea", "#86a868", "#1b2633", "#3a4756", "#30442c"),
    "rainy": Sky("#5a7083", "#aebdc7", "#6f9a5a", "#121b24", "#2c3a47", "#27401f"),
    "stormy": Sky("#27323f", "#6b7985", "#5e8050", "#0a0f15", "#222c36", "#1f3219"),
    "foggy": Sky("#b6bec2", "#e6e9e8", "#9ab08a", "#22272a", "#444b4f", "#35432f"),
    "snowy": Sky("#a9bccd", "#f0f4f8", "#e8eef0", "#1a2533", "#3d4d60", "#9aa7b0"),
}


def sky(condition: str) -> Sky:
    """The sky of a weather condition (sunny when unknown)."""
    return SKIES.get(condition, SKIES["sunny"])


def n(value: float) -> str:
    """A number with at most one decimal and no trailing zeros."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def mix(a: str, b: str, t: float) -> str:
    """Blend two ``#rrggbb`` colours: ``t = 0`` gives *a*, ``t = 1`` gives *b*."""
    t = min(max(t, 0.0), 1.0)
    channels = [
        round(int(a[i : i + 2], 16) * (1 - t) + int(b[i : i + 2], 16) * t) for i in (1, 3, 5)
    ]
    return "#" + "".join(f"{c:02x}" for c in channels)


@dataclass(frozen=True)
class Look:
    """What a plant looks like: derived from its species, stage and health."""

    species: str
    stage: str
    leaf: str
    dark: str
    flower: str
    blooming: bool
    size: float  # 0..1 of TALL, from the stage
    health: float = 1.0


#: How tall each stage stands, as a share of a fully grown plant.
STAGE_SIZE = {
    "seed": 0.2,
    "sprout": 0.35,
    "sapling": 0.65,
    "blooming": 1.0,
    "mature": 1.0,
    "dormant": 0.85,
}


@functools.lru_cache(maxsize=1024)  # a thousand plants share a few dozen looks (Look is frozen)
def look(species: str, stage: str, health: float = 1.0) -> Look:
    """The colours and size of a plant; an unknown species draws as moss."""
    if species not in SPECIES:
        species = "moss"
    leaf, flower = SPECIES[species]
    leaf = mix(leaf, "#a89f6c", (1 - health) * 0.45)  # a thirsty plant yellows
    if stage == "dormant":
        leaf, flower = mix(leaf, "#8a7a62", 0.75), mix(flower, "#8a7a62", 0.75)
    return Look(
        species=species,
        stage=stage,
        leaf=leaf,
        dark=mix(leaf, "#0b1a0b", 0.3),
        flower=flower,
        blooming=stage == "blooming",
        size=STAGE_SIZE.get(stage, 1.0),
        health=health,
    )


def health_bucket(health: float) -> float:
    """Health rounded to a quarter: plants that look alike share one drawing."""
    return round(max(0.0, min(1.0, health)) * 4) / 4


# -- plants -------------------------------------------------------------------


def _flower(x: float, y: float, r: float, colour: str) -> str:
    return (
        f'<circle cx="{n(x)}" cy="{n(y)}" r="{n(r)}" fill="{colour}"/>'
        f'<circle cx="{n(x)}" cy="{n(y)}" r="{n(r * 0.4)}" fill="#fff3b0"/>'
    )


def _stem(h: float, colour: str, width: float = 3) -> str:
    return f'<path d="M0 0V{n(-h)}" stroke="{colour}" stroke-width="{n(width)}" fill="none"/>'


def _fern(h: float, k: Look) -> str:
    parts = []
    for side in (-1, 1):
        for i, reach in enumerate((0.55, 0.4, 0.25)):
            top = -h * (0.95 - i * 0.15)
            parts.append(
                f'<path d="M0 0Q{n(side * h * reach * 0.2)} {n(top * 0.6)} {n(side * h * reach)} {n(top)}" '
                f'stroke="{k.leaf if i % 2 else k.dark}" stroke-width="{n(h * 0.07)}" fill="none" stroke-linecap="round"/>'
            )
            if k.blooming:
                parts.append(
                    f'<circle cx="{n(side * h * reach)}" cy="{n(top)}" r="{n(h * 0.05)}" fill="{k.flower}"/>'
                )
    return "".join(parts)


def _lavender(h: float, k: Look) -> str:
    parts = []
    for x, tall in ((-0.18, 0.8), (0, 1.0), (0.18, 0.85), (-0.32, 0.6), (0.32, 0.65)):
        top = -h * tall
        parts.append(
            f'<path d="M0 0L{n(x * h)} {n(top)}" stroke="{k.dark}" stroke-width="{n(h * 0.03)}"/>'
        )
        spike = k.flower if k.blooming else k.leaf
        for j in range(4):
            parts.append(
                f'<ellipse cx="{n(x * h)}" cy="{n(top + j * h * 0.06)}" rx="{n(h * 0.035)}" ry="{n(h * 0.04)}" fill="{spike}"/>'
            )
    return "".join(parts)


def _sunflower(h: float, k: Look) -> str:
    parts = [_stem(h * 0.85, k.dark, h * 0.05)]
    for side in (-1, 1):
        parts.append(
            f'<ellipse cx="{n(side * h * 0.12)}" cy="{n(-h * 0.4)}" rx="{n(h * 0.13)}" ry="{n(h * 0.06)}" fill="{k.leaf}"/>'
        )
    if k.blooming:
        parts.append(
            f'<circle cy="{n(-h * 0.85)}" r="{n(h * 0.2)}" fill="{k.flower}"/>'
            f'<circle cy="{n(-h * 0.85)}" r="{n(h * 0.09)}" fill="#6b3e1e"/>'
        )
    else:
        parts.append(f'<circle cy="{n(-h * 0.85)}" r="{n(h * 0.09)}" fill="{k.leaf}"/>')
    return "".join(parts)


def _cactus(h: float, k: Look) -> str:
    w = h * 0.24
    parts = [
        f'<rect x="{n(-w / 2)}" y="{n(-h * 0.9)}" width="{n(w)}" height="{n(h * 0.9)}" rx="{n(w / 2)}" fill="{k.leaf}"/>',
        f'<path d="M{n(-w / 2)} {n(-h * 0.4)}H{n(-w * 1.3)}V{n(-h * 0.65)}" stroke="{k.leaf}" stroke-width="{n(w * 0.55)}" fill="none" stroke-linecap="round"/>',
        f'<path d="M{n(w / 2)} {n(-h * 0.5)}H{n(w * 1.3)}V{n(-h * 0.72)}" stroke="{k.leaf}" stroke-width="{n(w * 0.55)}" fill="none" stroke-linecap="round"/>',
        f'<path d="M0 {n(-h * 0.85)}V{n(-h * 0.05)}" stroke="{k.dark}" stroke-width="{n(h * 0.015)}"/>',
    ]
    if k.blooming:
        parts.append(_flower(0, -h * 0.92, h * 0.08, k.flower))
    return "".join(parts)


def _bamboo(h: float, k: Look) -> str:
    parts = []
    for x, tall in ((-0.12, 0.85), (0.02, 1.0), (0.15, 0.75)):
        top = -h * tall
        parts.append(
            f'<path d="M{n(x * h)} 0V{n(top)}" stroke="{k.leaf}" stroke-width="{n(h * 0.06)}"/>'
        )
        y = -h * 0.2
        while y > top:
            parts.append(
                f'<path d="M{n(x * h - h * 0.035)} {n(y)}h{n(h * 0.07)}" stroke="{k.dark}" stroke-width="{n(h * 0.015)}"/>'
            )
            y -= h * 0.2
        parts.append(
            f'<path d="M{n(x * h)} {n(top + h * 0.1)}l{n(h * 0.14)} {n(-h * 0.06)}" stroke="{k.dark}" stroke-width="{n(h * 0.03)}" stroke-linecap="round"/>'
        )
    if k.blooming:
        parts.append(_flower(h * 0.02, -h, h * 0.05, k.flower))
    return "".join(parts)


def _oak(h: float, k: Look) -> str:
    parts = [
        f'<path d="M{n(-h * 0.05)} 0L{n(-h * 0.03)} {n(-h * 0.55)}H{n(h * 0.03)}L{n(h * 0.05)} 0Z" fill="#6b4a2b"/>',
        f'<circle cx="{n(-h * 0.18)}" cy="{n(-h * 0.6)}" r="{n(h * 0.22)}" fill="{k.dark}"/>',
        f'<circle cx="{n(h * 0.18)}" cy="{n(-h * 0.62)}" r="{n(h * 0.22)}" fill="{k.dark}"/>',
        f'<circle cy="{n(-h * 0.78)}" r="{n(h * 0.26)}" fill="{k.leaf}"/>',
    ]
    if k.blooming:
        for x, y in ((-0.15, -0.8), (0.1, -0.9), (0.2, -0.65), (-0.22, -0.6), (0, -0.65)):
            parts.append(
                f'<circle cx="{n(x * h)}" cy="{n(y * h)}" r="{n(h * 0.035)}" fill="{k.flower}"/>'
            )
    return "".join(parts)


def _pine(h: float, k: Look) -> str:
    parts = [
        f'<rect x="{n(-h * 0.04)}" y="{n(-h * 0.2)}" width="{n(h * 0.08)}" height="{n(h * 0.2)}" fill="#6b4a2b"/>'
    ]
    for i, (base, width) in enumerate(((0.2, 0.34), (0.45, 0.27), (0.68, 0.19))):
        colour = k.dark if i % 2 == 0 else k.leaf
        parts.append(
            f'<path d="M{n(-h * width)} {n(-h * base)}L0 {n(-h * (base + 0.35))}L{n(h * width)} {n(-h * base)}Z" fill="{colour}"/>'
        )
    if k.blooming:
        for x, y in ((-0.15, -0.25), (0.12, -0.5), (-0.08, -0.72)):
            parts.append(
                f'<circle cx="{n(x * h)}" cy="{n(y * h)}" r="{n(h * 0.03)}" fill="{k.flower}"/>'
            )
    return "".join(parts)


def _rose(h: float, k: Look) -> str:
    parts = [_stem(h * 0.5, k.dark, h * 0.04)]
    for x, y, r in ((-0.18, -0.45, 0.2), (0.18, -0.48, 0.2), (0, -0.65, 0.22)):
        parts.append(
            f'<circle cx="{n(x * h)}" cy="{n(y * h)}" r="{n(r * h)}" fill="{k.leaf if y < -0.6 else k.dark}"/>'
        )
    if k.blooming:
        for x, y in ((-0.2, -0.55), (0.17, -0.6), (0, -0.8)):
            parts.append(_flower(x * h, y * h, h * 0.075, k.flower))
    return "".join(parts)


def _moss(h: float, k: Look) -> str:
    w = h * 0.5
    parts = [
        f'<ellipse cy="{n(-h * 0.12)}" rx="{n(w)}" ry="{n(h * 0.16)}" fill="{k.dark}"/>',
        f'<ellipse cx="{n(-w * 0.3)}" cy="{n(-h * 0.2)}" rx="{n(w * 0.5)}" ry="{n(h * 0.13)}" fill="{k.leaf}"/>',
        f'<ellipse cx="{n(w * 0.35)}" cy="{n(-h * 0.18)}" rx="{n(w * 0.45)}" ry="{n(h * 0.12)}" fill="{k.leaf}"/>',
    ]
    if k.blooming:
        for x in (-0.3, 0, 0.25):
            parts.append(
                f'<path d="M{n(x * h)} {n(-h * 0.25)}V{n(-h * 0.45)}" stroke="{k.dark}" stroke-width="{n(h * 0.015)}"/>'
                f'<circle cx="{n(x * h)}" cy="{n(-h * 0.46)}" r="{n(h * 0.03)}" fill="{k.flower}"/>'
            )
    return "".join(parts)


def _ivy(h: float, k: Look) -> str:
    parts = [
        f'<path d="M0 0C{n(-h * 0.25)} {n(-h * 0.3)} {n(h * 0.25)} {n(-h * 0.6)} 0 {n(-h)}" stroke="{k.dark}" stroke-width="{n(h * 0.03)}" fill="none"/>'
    ]
    for i, (x, y) in enumerate(
        ((-0.12, -0.2), (0.1, -0.38), (-0.05, -0.55), (0.1, -0.72), (0, -0.92))
    ):
        parts.append(
            f'<ellipse cx="{n(x * h)}" cy="{n(y * h)}" rx="{n(h * 0.09)}" ry="{n(h * 0.06)}" fill="{k.leaf if i % 2 else k.dark}"/>'
        )
    if k.blooming:
        for x, y in ((0.16, -0.3), (-0.14, -0.62)):
            parts.append(_flower(x * h, y * h, h * 0.05, k.flower))
    return "".join(parts)


DRAW: dict[str, Callable[[float, Look], str]] = {
    "fern": _fern,
    "lavender": _lavender,
    "sunflower": _sunflower,
    "cactus": _cactus,
    "bamboo": _bamboo,
    "oak": _oak,
    "pine": _pine,
    "rose": _rose,
    "moss": _moss,
    "ivy": _ivy,
}


@functools.lru_cache(maxsize=1024)
def plant(k: Look) -> str:
    """SVG shapes of one plant, base at (0, 0), about ``TALL * k.size`` units high.

    Cached: a garden has far fewer looks than plants.
    """
    h = TALL * k.size
    if k.stage == "seed":
        return (
            f'<ellipse cy="-4" rx="{n(TALL * 0.22)}" ry="9" fill="#8b6b3d"/>'
            f'<ellipse cx="3" cy="-11" rx="6" ry="4.5" fill="#d9b77a"/>'
        )
    if k.stage == "sprout":
        return (
            f'<ellipse cy="-3" rx="{n(TALL * 0.18)}" ry="7" fill="#8b6b3d"/>'
            f'<path d="M0 0V{n(-h)}" stroke="{k.dark}" stroke-width="3"/>'
            f'<ellipse cx="-9" cy="{n(-h)}" rx="10" ry="5" fill="{k.leaf}" transform="rotate(-25 -9 {n(-h)})"/>'
            f'<ellipse cx="9" cy="{n(-h - 2)}" rx="10" ry="5" fill="{k.leaf}" transform="rotate(25 9 {n(-h - 2)})"/>'
        )
    return DRAW[k.species](h, k)


# -- weather ------------------------------------------------------------------


def weather_marks(condition: str, width: float, height: float, animated: bool) -> str:
    """Sun, clouds, rain, snow or fog over a sky of *width* × *height*.

    With *animated*, elements carry the classes the cards' stylesheet moves
    (``drift``, ``fall``, ``flash``, ``glow``); the rasterized previews take
    the same shapes standing still.
    """
    cls = (lambda name: f' class="{name}"') if animated else (lambda name: "")
    marks: list[str] = []
    if condition == "sunny":
        marks.append(
            f'<g{cls("glow")}><circle cx="{n(width * 0.84)}" cy="{n(height * 0.22)}" r="{n(height * 0.11)}" fill="#ffe58a"/>'
            f'<circle cx="{n(width * 0.84)}" cy="{n(height * 0.22)}" r="{n(height * 0.16)}" fill="#fff4c2" opacity=".45"/></g>'
        )
    if condition in {"cloudy", "rainy", "stormy", "snowy"}:
        grey = {"cloudy": "#f4f6f8", "rainy": "#d5dde3", "stormy": "#8996a3", "snowy": "#f8fafc"}[
            condition
        ]
        for i, (x, y, s) in enumerate(((0.18, 0.2, 1.0), (0.55, 0.12, 0.8), (0.8, 0.26, 1.1))):
            cx, cy, r = width * x, height * y, height * 0.07 * s
            marks.append(
                f'<g{cls(f"drift d{i}")} fill="{grey}"><circle cx="{n(cx)}" cy="{n(cy)}" r="{n(r)}"/>'
                f'<circle cx="{n(cx + r)}" cy="{n(cy + r * 0.3)}" r="{n(r * 0.8)}"/>'
                f'<circle cx="{n(cx - r)}" cy="{n(cy + r * 0.35)}" r="{n(r * 0.7)}"/></g>'
            )
    if condition in {"rainy", "stormy"}:
        drops = "".join(
            f"M{n(width * (i * 0.071 % 1))} {n(height * (0.3 + (i * 0.37) % 0.5))}l-4 14"
            for i in range(1, 15)
        )
        marks.append(
            f'<path{cls("fall")} d="{drops}" stroke="#c8d8e8" stroke-width="2" stroke-linecap="round" opacity=".8"/>'
        )
    if condition == "stormy":
        marks.append(
            f'<path{cls("flash")} d="M{n(width * 0.62)} {n(height * 0.25)}l-14 40h12l-10 36 30-48h-13l10-28Z" fill="#fff3a0"/>'
        )
    if condition == "snowy":
        flakes = "".join(
            f'<circle cx="{n(width * (i * 0.083 % 1))}" cy="{n(height * (0.3 + (i * 0.29) % 0.55))}" r="2.5"/>'
            for i in range(1, 16)
        )
        marks.append(f'<g{cls("fall")} fill="#ffffff">{flakes}</g>')
    if condition == "foggy":
        for i, y in enumerate((0.35, 0.5, 0.65)):
            marks.append(
                f'<rect{cls(f"drift d{i}")} x="{n(-width * 0.1)}" y="{n(height * y)}" width="{n(width * 1.2)}" '
                f'height="{n(height * 0.06)}" rx="{n(height * 0.03)}" fill="#ffffff" opacity=".45"/>'
            )
    return "".join(marks)
