"""Helpers for driving the theme's pages: waiting, reading the garden element, pixels."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

GARDEN = "document.querySelector('greenhouse-garden')"


def garden_doc(bundle: Path) -> dict[str, Any]:
    return json.loads((bundle / "api/v1/garden/index.json").read_text())


def until(page: Any, expression: str, timeout: float = 10000) -> None:
    """Poll a JS expression from outside (the pages' CSP forbids eval-based waiting)."""
    from playwright.sync_api import Error

    deadline = time.monotonic() + timeout / 1000
    while True:
        try:
            if page.evaluate(expression):
                return
        except Error as exc:  # a reload in between: ask the new page
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)


def wait_for_garden(page: Any, timeout: float = 20000) -> None:
    """Until the garden element has drawn its first frame."""
    until(page, f"!!({GARDEN} && {GARDEN}.state && {GARDEN}.state.firstFrame !== null)", timeout)


def garden_state(page: Any) -> dict[str, Any]:
    """The garden element's state (plants, frames drawn, camera, focus...)."""
    return dict(page.evaluate(f"{GARDEN}.state"))


def frames(page: Any) -> int:
    return int(page.evaluate(f"{GARDEN}.state.frames"))


def visible_area(page: Any, ids: list[str] | None = None, step: int = 2) -> dict[str, int]:
    """Per plant, how many sample points (every `step` px) of its box pick that very plant.

    Picking reads the plant's sprite alpha, front-most plant first, so this is the
    area where a visitor sees the plant itself and can point at it.
    """
    return dict(
        page.evaluate(
            """([ids, step]) => {
              const g = document.querySelector('greenhouse-garden'), out = {};
              for (const id of ids || g.plants.filter(p => p.visible).map(p => p.id)) {
                const b = g.screenOf(id); let n = 0;
                if (b) for (let x = Math.max(0, b.left); x < Math.min(g.W, b.right); x += step)
                  for (let y = Math.max(0, b.top); y < Math.min(g.H, b.bottom); y += step)
                    if (g.plantAt(x, y) === id) n++;
                out[id] = n;
              }
              return out;
            }""",
            [ids, step],
        )
    )


def spot_of(page: Any, plant_id: str, step: int = 2) -> tuple[float, float] | None:
    """A point (element coordinates) where the plant itself is under the pointer."""
    found = page.evaluate(
        """([id, step]) => {
          const g = document.querySelector('greenhouse-garden'), b = g.screenOf(id), hits = [];
          if (!b) return null;
          for (let x = Math.max(0, b.left); x < Math.min(g.W, b.right); x += step)
            for (let y = Math.max(0, b.top); y < Math.min(g.H, b.bottom); y += step)
              if (g.plantAt(x, y) === id) hits.push([x, y]);
          return hits.length ? hits[hits.length >> 1] : null;
        }""",
        [plant_id, step],
    )
    return (float(found[0]), float(found[1])) if found else None


def image(png: bytes) -> Any:
    """A screenshot as an RGB Pillow image."""
    from PIL import Image

    return Image.open(io.BytesIO(png)).convert("RGB")


def pixels(img: Any) -> Any:
    """A picture's pixels as an (n, 3) array of signed ints."""
    import numpy as np

    return np.asarray(img, dtype=np.int32).reshape(-1, 3)


def luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG relative luminance of an sRGB colour."""

    def channel(v: float) -> float:
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG contrast ratio of two colours."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def distinct_colours(img: Any) -> int:
    """How many colours a picture holds (a blank canvas has one or two)."""
    return len(img.getcolors(maxcolors=1 << 20) or [])
