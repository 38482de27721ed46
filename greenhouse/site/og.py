"""Link-preview images: PNG, 1200×630, drawn at build time and cached by content hash.

Chat apps and social sites show ``og:image`` as a card and do not render
SVG, so the build draws PNGs: the garden under today's sky, and one per
project (its plant, stage and a few figures), plus the touch and manifest
icons from the site's favicon.

Each image is described first as a :class:`Picture`: the bundle path, a
digest of everything that decides its pixels, and a function that draws it.
The build looks the digests up in the store's image cache and draws only the
missing ones, on every core; a rebuild of an unchanged garden draws nothing.

Drawing a 1,200×630 picture from scratch through resvg costs tens of
milliseconds, mostly in filling and encoding the pixels. A project preview
therefore pastes two cached layers, the weather's backdrop and its
(species, stage, health) plant, and letters the figures with Pillow.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw

from greenhouse.site import art, cards, raster
from greenhouse.site.art import n

WIDTH, HEIGHT = 1200, 630
ICON_SIZES = {"apple-touch-icon.png": 180, "icon-192.png": 192, "icon-512.png": 512}
ART_VERSION = "1"  # bump when a drawing changes in a way the inputs below do not show

INK = (31, 42, 31)
MUTED = (77, 91, 77)
PANEL = (560, 40, 1160, 590)
PLANT_BASE = (290, 560)  # where the project's plant stands
PLANT_SCALE = 4.3
SPRITE = (560, 500)  # the canvas a plant is drawn on, base 10 px above its bottom centre


@dataclass(frozen=True)
class Picture:
    """One image of the bundle: where it goes, what decides it, and how to draw it."""

    path: str
    digest: str
    draw: Callable[[], bytes]


def plural(count: int, noun: str) -> str:
    """``1 star``, ``2 stars``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def digest(kind: str, inputs: Any) -> str:
    """Content hash of a picture: its kind, its inputs, the art and the rasterizer."""
    text = json.dumps([kind, ART_VERSION, raster.fingerprint(), inputs], sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


# -- shared layers ------------------------------------------------------------


class Layers:
    """Backdrops and plants drawn once per build and shared by every preview (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: dict[tuple[object, ...], Image.Image] = {}

    def get(self, key: tuple[object, ...], make: Callable[[], Image.Image]) -> Image.Image:
        """The layer under *key*, drawn by *make* the first time."""
        with self._lock:
            found = self._made.get(key)
        if found is None:
            found = make()
            with self._lock:
                found = self._made.setdefault(key, found)
        return found

    def backdrop(self, condition: str) -> Image.Image:
        """Sky, weather, ground and the text panel of a project preview."""
        return self.get(("backdrop", condition), lambda: raster.rasterize(_backdrop_svg(condition)))

    def palette(self, condition: str, k: art.Look) -> Image.Image:
        """The colours of every project preview of this weather and plant look.

        Fitted once to a sample drawn like the real pictures, with placeholder
        text in every face and colour: the palette depends only on what
        decides a picture, and pictures of the same look share it.
        """

        def make() -> Image.Image:
            text = "Sample 0123456789 ★ abcdefghijklmnopqrstuvwxyz"
            return raster.palette_of(_compose(self, condition, k, text, text, [text] * 3, 50))

        return self.get(("palette", condition, k), make)

    def plant(self, species: str, stage: str, health: float) -> tuple[Image.Image, tuple[int, int]]:
        """One plant cropped to its drawing, and where that crop goes on the picture."""

        def make() -> Image.Image:
            canvas = raster.rasterize(_plant_svg(art.look(species, stage, health)))
            box = canvas.getbbox() or (0, 0, 1, 1)
            # Keep only the drawn part (a tenth of the canvas): a garden has a few hundred looks.
            crop = canvas.crop(box)
            crop.info["at"] = (
                PLANT_BASE[0] - SPRITE[0] // 2 + box[0],
                PLANT_BASE[1] + 10 - SPRITE[1] + box[1],
            )
            return crop

        sprite = self.get(("plant", species, stage, health), make)
        return sprite, sprite.info["at"]


def _sky_svg(condition: str, width: int, height: int, horizon: float) -> str:
    sky = art.sky(condition)
    return (
        '<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0" stop-color="{sky.top}"/><stop offset="1" stop-color="{sky.bottom}"/>'
        "</linearGradient></defs>"
        f'<rect width="{width}" height="{height}" fill="url(#sky)"/>'
        + art.weather_marks(condition, width, horizon, animated=False)
        + f'<path fill="{sky.ground}" d="M0 {n(horizon)}Q{n(width / 2)} {n(horizon - 50)} {width} {n(horizon)}V{height}H0Z"/>'
    )


def _backdrop_svg(condition: str) -> str:
    x0, y0, x1, y1 = PANEL
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}">'
        + _sky_svg(condition, WIDTH, HEIGHT, HEIGHT * 0.6)
        + f'<ellipse cx="{PLANT_BASE[0]}" cy="{PLANT_BASE[1] + 8}" rx="190" ry="34" fill="#6b4f33"/>'
        + f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" rx="28" fill="#fffdf7" fill-opacity=".9"/>'
        "</svg>"
    )


def _plant_svg(k: art.Look) -> str:
    width, height = SPRITE
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
        f'<g transform="translate({width // 2} {height - 10}) scale({PLANT_SCALE})">{art.plant(k)}</g></svg>'
    )


# -- the pictures -------------------------------------------------------------


def garden_picture(
    title: str,
    plants: Sequence[Mapping[str, Any]],
    weather: Mapping[str, Any],
    stages: Mapping[str, int],
    day: str,
) -> Picture:
    """``static/og/garden.png``: every plant under today's sky, the title and the counts."""
    condition = str(weather.get("condition", "sunny"))
    horizon = HEIGHT * 0.42
    spots = cards.garden_spots(plants, WIDTH, horizon + 26, HEIGHT - 18)
    drawn = sorted({s.symbol for s in spots})
    ids = {symbol: f"p{i}" for i, symbol in enumerate(drawn)}
    defs = "".join(f'<g id="{ids[s]}">{art.plant(art.look(s[0], s[1]))}</g>' for s in drawn)
    uses = "".join(
        f'<use href="#{ids[s.symbol]}" transform="translate({n(s.x)} {n(s.y)}) scale({s.scale * 1.4:.3f})"/>'
        for s in spots
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{WIDTH}" height="{HEIGHT}">'
        + _sky_svg(condition, WIDTH, HEIGHT, horizon)
        + f"<defs>{defs}</defs>{uses}"
        + f'<rect x="40" y="34" width="{WIDTH - 80}" height="150" rx="26" fill="#fffdf7" fill-opacity=".88"/>'
        + "</svg>"
    )
    counts = ", ".join(f"{count} {stage}" for stage, count in stages.items() if count)
    line = f"{len(plants)} plants under a {condition} sky" + (f" · {counts}" if counts else "")

    def draw() -> bytes:
        image = raster.rasterize(svg)
        pen = ImageDraw.Draw(image)
        text, face = raster.fit(pen, title, WIDTH - 160, 64, 36, bold=True)
        pen.text((80, 62), text, font=face, fill=INK)
        text, face = raster.fit(pen, line, WIDTH - 160 - 190, 30, 20, bold=False)
        pen.text((80, 136), text, font=face, fill=MUTED)
        pen.text((WIDTH - 80, 136), day, font=raster.font(26), fill=MUTED, anchor="ra")
        return raster.encode_png(image)

    return Picture("static/og/garden.png", digest("garden", [svg, title, line, day]), draw)


#: The sky of every project preview. Not the day's weather: a picture that changed with the
#: sky would be redrawn for every project whenever the weather turns, and the plant and its
#: figures are what a project's preview is about.
PROJECT_SKY = "sunny"


def project_picture(site_title: str, plant: Mapping[str, Any], layers: Layers) -> Picture:
    """``static/og/projects/<id>.png``: the plant, its stage and a few figures."""
    condition = PROJECT_SKY
    health = art.health_bucket(float(plant.get("health", 1.0)))
    k = art.look(str(plant["species"]), str(plant["stage"]), health)
    metrics = plant.get("metrics", {})
    growth = round(float(plant.get("growth", 0.0)) * 100)
    lines = [
        f"★ {plural(metrics.get('stars', 0), 'star')}",
        f"{plural(metrics.get('commits_30d', 0), 'commit')} in 30 days",
        f"{plural(metrics.get('views_30d', 0), 'visit')} in 30 days",
    ]
    name = str(plant["name"])
    inputs = [condition, site_title, name, k.species, k.stage, health, lines, growth]

    def draw() -> bytes:
        image = _compose(layers, condition, k, site_title, name, lines, growth)
        return raster.encode_png(image, layers.palette(condition, k))

    return Picture(f"static/og/projects/{plant['id']}.png", digest("project", inputs), draw)


def _compose(
    layers: Layers,
    condition: str,
    k: art.Look,
    site_title: str,
    name: str,
    lines: Sequence[str],
    growth: int,
) -> Image.Image:
    """A project preview: backdrop, plant, and its figures lettered on the panel."""
    image = layers.backdrop(condition).copy()
    sprite, (x, y) = layers.plant(k.species, k.stage, k.health)
    image.alpha_composite(sprite, (x, max(y, 0)), (0, max(-y, 0)))
    pen = ImageDraw.Draw(image)
    left, top, right, _ = PANEL
    width = right - left - 96
    text, face = raster.fit(pen, site_title, width, 26, 20, bold=False)
    pen.text((left + 48, top + 44), text, font=face, fill=MUTED)
    text, face = raster.fit(pen, name, width, 64, 34, bold=True)
    pen.text((left + 48, top + 88), text, font=face, fill=INK)
    stage_colour = art.STAGE_COLORS.get(k.stage, "#2f8f4a")
    pen.rounded_rectangle((left + 48, top + 186, left + 78, top + 216), 15, fill=stage_colour)
    pen.text((left + 92, top + 182), f"{k.stage} {k.species}", font=raster.font(34, True), fill=INK)
    for i, line in enumerate(lines):
        pen.text((left + 48, top + 262 + i * 52), line, font=raster.font(32), fill=INK)
    bar = (left + 48, top + 436, right - 48, top + 456)
    pen.rounded_rectangle(bar, 10, fill=(222, 218, 204))
    filled = bar[0] + round((bar[2] - bar[0]) * growth / 100)
    if filled > bar[0] + 20:
        pen.rounded_rectangle((bar[0], bar[1], filled, bar[3]), 10, fill=stage_colour)
    pen.text((left + 48, top + 472), f"growth {growth}%", font=raster.font(26), fill=MUTED)
    return image


def icon_pictures(favicon: bytes, background: str) -> list[Picture]:
    """The touch icon and the manifest's icons, drawn from the site's ``favicon.svg``."""
    text = favicon.decode("utf-8")
    pictures = []
    for name, size in ICON_SIZES.items():

        def draw(size: int = size) -> bytes:
            mark = raster.rasterize(text, round(size * 0.78), round(size * 0.78))
            image = Image.new("RGBA", (size, size), background)
            image.alpha_composite(mark, ((size - mark.width) // 2, (size - mark.height) // 2))
            return raster.encode_png(image)

        pictures.append(
            Picture(f"static/icons/{name}", digest("icon", [text, size, background]), draw)
        )
    return pictures


# -- drawing what is missing ---------------------------------------------------


@dataclass
class Drawn:
    """The outcome of :func:`develop`: every picture's bytes, and which ones were new."""

    images: dict[str, bytes] = field(default_factory=dict)  # path -> PNG
    new: dict[str, bytes] = field(default_factory=dict)  # digest -> PNG, drawn by this build
    used: set[str] = field(default_factory=set)  # every digest this build shows


def develop(
    pictures: Iterable[Picture],
    cached: Callable[[list[str]], Mapping[str, bytes]],
    workers: int | None = None,
) -> Drawn:
    """Bytes of every picture: from *cached* (digest -> PNG) where it has them, drawn otherwise."""
    pictures = list(pictures)
    found = cached(sorted({p.digest for p in pictures}))
    result = Drawn(used={p.digest for p in pictures})
    missing: dict[str, Picture] = {}
    for picture in pictures:
        if picture.digest not in found:
            missing.setdefault(picture.digest, picture)
    if missing:
        # Pillow encodes without the GIL: one worker per core keeps them all busy.
        count = workers or min(8, os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=count) as pool:
            drawn = dict(zip(missing, pool.map(lambda p: p.draw(), missing.values()), strict=True))
        result.new = drawn
        found = {**found, **drawn}
    result.images = {p.path: found[p.digest] for p in pictures}
    return result
