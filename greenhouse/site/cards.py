"""README cards: self-contained animated SVGs of the garden and of each plant. Pure.

GitHub shows README images through its image proxy as ``<img>``, where no
script runs and nothing outside the file loads. So a card is one SVG file
with its own ``<style>``: CSS animation only, no script, no ``on*``
attribute, no external reference (not even a font: text uses the viewer's
system sans-serif), light and dark through ``prefers-color-scheme`` and
still under ``prefers-reduced-motion``.

The garden card draws each (species, stage) once in ``<defs>`` and places
every plant with a ``<use>``: about 80 bytes a plant, so 230 plants stay far
under 100 KB and 1,000 stay readable (plants shrink, text does not).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape as _escape
from typing import Any

from greenhouse.site import art
from greenhouse.site.art import n


def escape(text: str) -> str:
    """*text* with ``&``, ``<`` and ``>`` escaped, for SVG text (never put in an attribute).

    ``html.escape`` without its quotes: what ``xml.sax.saxutils.escape`` does,
    without importing ``urllib.request`` and ``ssl`` into every drawing process.
    """
    return _escape(text, quote=False)


FONT = "system-ui,-apple-system,'Segoe UI',Ubuntu,'DejaVu Sans',sans-serif"

GARDEN_SIZE = (800, 400)
PLANT_SIZE = (480, 200)

#: Light and dark text and panel colours (the theme's --ink, --muted, --card).
LIGHT = {"ink": "#1f2a1f", "muted": "#4d5b4d", "panel": "#fffdf7"}
DARK = {"ink": "#e8eee6", "muted": "#aab6a8", "panel": "#1c241d"}


@dataclass(frozen=True)
class Spot:
    """Where one plant stands on a card, and how big it is drawn."""

    x: float
    y: float
    scale: float
    symbol: tuple[str, str]  # species, stage
    sway: int  # which of the three sway rhythms it follows


def _style(condition: str) -> str:
    sky = art.sky(condition)
    light = (
        f".t{{stop-color:{sky.top}}}.b{{stop-color:{sky.bottom}}}.g{{fill:{sky.ground}}}"
        f".ink{{fill:{LIGHT['ink']}}}.mut{{fill:{LIGHT['muted']}}}.pan{{fill:{LIGHT['panel']};fill-opacity:.82}}"
    )
    dark = (
        f".t{{stop-color:{sky.night_top}}}.b{{stop-color:{sky.night_bottom}}}.g{{fill:{sky.night_ground}}}"
        f".ink{{fill:{DARK['ink']}}}.mut{{fill:{DARK['muted']}}}.pan{{fill:{DARK['panel']};fill-opacity:.82}}"
    )
    motion = (
        "@keyframes sway{from{transform:rotate(-2.5deg)}to{transform:rotate(2.5deg)}}"
        ".w0{animation:sway 3.1s ease-in-out infinite alternate}"
        ".w1{animation:sway 3.7s ease-in-out -1.3s infinite alternate}"
        ".w2{animation:sway 4.3s ease-in-out -2.1s infinite alternate}"
        "@keyframes drift{to{transform:translateX(36px)}}"
        ".drift{animation:drift 23s ease-in-out infinite alternate}.d1{animation-duration:31s}.d2{animation-duration:17s}"
        "@keyframes fall{from{transform:translateY(-24px)}to{transform:translateY(24px)}}"
        ".fall{animation:fall 1.1s linear infinite}"
        "@keyframes flash{0%,90%,100%{opacity:0}92%,95%{opacity:1}}.flash{animation:flash 6s infinite}"
        "@keyframes glow{to{opacity:.75}}.glow{animation:glow 5s ease-in-out infinite alternate}"
    )
    return (
        f"<style>text{{font-family:{FONT}}}{light}{motion}"
        f"@media (prefers-color-scheme:dark){{{dark}}}"
        "@media (prefers-reduced-motion:reduce){*{animation:none!important}}</style>"
    )


@functools.lru_cache(maxsize=64)  # every plant card of a build has the same sky
def _backdrop(condition: str, width: int, height: int, horizon: float) -> str:
    """Sky gradient, weather marks and the ground (colours from the stylesheet)."""
    return (
        '<linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">'
        '<stop offset="0" class="t"/><stop offset="1" class="b"/></linearGradient>'
        f'<rect width="{width}" height="{height}" fill="url(#sky)"/>'
        + art.weather_marks(condition, width, horizon, animated=True)
        + f'<path class="g" d="M0 {n(horizon)}Q{n(width / 2)} {n(horizon - 30)} {width} {n(horizon)}V{height}H0Z"/>'
    )


def _clip(text: str, chars: int) -> str:
    """Shorten to *chars* characters with an ellipsis (cards have no text layout engine)."""
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def garden_spots(
    plants: Sequence[Mapping[str, Any]], width: float, top: float, bottom: float
) -> list[Spot]:
    """Place every plant of the garden map on a card, far ones first (painter's order).

    Plants keep their map positions (x across, z into the picture); their size
    follows the room each has, so the card reads the same at 12 or 1,000.
    """
    if not plants:
        return []
    xs = [float(p["position"]["x"]) for p in plants]
    zs = [float(p["position"]["z"]) for p in plants]
    minx, spanx = min(xs), (max(xs) - min(xs)) or 1.0
    minz, spanz = min(zs), (max(zs) - min(zs)) or 1.0
    margin = width * 0.06
    room = math.sqrt((width - 2 * margin) * (bottom - top) / len(plants))
    tall = min(max(1.7 * room, 14.0), 72.0)
    spots = []
    for p, x, z in zip(plants, xs, zs, strict=True):
        depth = (z - minz) / spanz
        growth = float(p.get("growth", 0.5))
        scale = tall / art.TALL * (0.7 + 0.3 * depth) * (0.75 + 0.25 * growth)
        spots.append(
            Spot(
                x=margin + (x - minx) / spanx * (width - 2 * margin),
                y=top + depth * (bottom - top),
                scale=scale,
                symbol=(str(p["species"]), str(p["stage"])),
                sway=sum(map(ord, str(p["id"]))) % 3,
            )
        )
    spots.sort(key=lambda s: (s.y, s.x))
    return spots


def garden_card(
    title: str,
    plants: Sequence[Mapping[str, Any]],
    weather: Mapping[str, Any],
    stages: Mapping[str, int],
    day: str,
) -> str:
    """``garden.svg``: the whole garden under today's sky, with a title and the counts."""
    width, height = GARDEN_SIZE
    condition = str(weather.get("condition", "sunny"))
    horizon = height * 0.36
    spots = garden_spots(plants, width, horizon + 18, height - 12)
    ids: dict[tuple[str, str], str] = {}
    defs = []
    for spot in spots:
        if spot.symbol not in ids:
            ids[spot.symbol] = f"p{len(ids)}"
            species, stage = spot.symbol
            defs.append(f'<g id="{ids[spot.symbol]}">{art.plant(art.look(species, stage))}</g>')
    uses = "".join(
        f'<g transform="translate({n(s.x)} {n(s.y)}) scale({s.scale:.3f})">'
        f'<use href="#{ids[s.symbol]}" class="w{s.sway}"/></g>'
        for s in spots
    )
    counts = ", ".join(f"{count} {stage}" for stage, count in stages.items() if count)
    summary = f"{len(plants)} plants" + (f": {counts}" if counts else "")
    heading = escape(_clip(title, 48))
    line = escape(f"{condition} sky · {summary}")
    label = escape(f"{title}: a garden of {summary}, under a {condition} sky, on {day}.")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="title desc">'
        f'<title id="title">{escape(title)}</title><desc id="desc">{label}</desc>'
        + _style(condition)
        + f"<defs>{''.join(defs)}</defs>"
        + _backdrop(condition, width, height, horizon)
        + uses
        + f'<rect class="pan" x="16" y="14" width="{width - 32}" height="62" rx="10"/>'
        f'<text class="ink" x="32" y="42" font-size="22" font-weight="700">{heading}</text>'
        f'<text class="mut" x="32" y="64" font-size="14">{escape(_clip(line, 96))}</text>'
        f'<text class="mut" x="{width - 32}" y="42" font-size="13" text-anchor="end">{escape(day)}</text>'
        "</svg>\n"
    )


def plant_card(plant: Mapping[str, Any], weather: Mapping[str, Any]) -> str:
    """``projects/<id>/plant.svg``: one plant, its stage and a few figures."""
    width, height = PLANT_SIZE
    condition = str(weather.get("condition", "sunny"))
    health = art.health_bucket(float(plant.get("health", 1.0)))
    k = art.look(str(plant["species"]), str(plant["stage"]), health)
    metrics = plant.get("metrics", {})
    scale = 1.35
    figures = (
        f"★ {metrics.get('stars', 0)} · {metrics.get('commits_30d', 0)} commits "
        f"· {metrics.get('views_30d', 0)} visits (30 days)"
    )
    growth = float(plant.get("growth", 0.0))
    name = str(plant["name"])
    label = escape(f"{name}: a {k.stage} {k.species}. {figures}. Growth {round(growth * 100)}%.")
    bar = 250 * growth
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="title desc">'
        f'<title id="title">{escape(name)}</title><desc id="desc">{label}</desc>'
        + _style(condition)
        + _backdrop(condition, width, height, height * 0.62)
        + f'<g transform="translate(90 {height - 22}) scale({scale})"><g class="w1">{art.plant(k)}</g></g>'
        + f'<rect class="pan" x="178" y="20" width="{width - 196}" height="{height - 40}" rx="10"/>'
        f'<text class="ink" x="196" y="56" font-size="22" font-weight="700">{escape(_clip(name, 24))}</text>'
        f'<text class="mut" x="196" y="82" font-size="14">{escape(f"{k.stage} {k.species}")}</text>'
        f'<text class="ink" x="196" y="114" font-size="13">{escape(figures)}</text>'
        f'<rect x="196" y="134" width="250" height="10" rx="5" fill="#8a8577" fill-opacity=".35"/>'
        f'<rect x="196" y="134" width="{n(bar)}" height="10" rx="5" fill="{art.STAGE_COLORS.get(k.stage, "#2f8f4a")}"/>'
        f'<text class="mut" x="196" y="164" font-size="13">growth {round(growth * 100)}% · '
        f"health {round(float(plant.get('health', 0.0)) * 100)}%</text>"
        "</svg>\n"
    )
