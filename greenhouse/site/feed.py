"""Compact feeds for drawing the garden: the render feed and the time-lapse deltas.

``api/v1/garden/index.json`` is the complete garden (751 KiB at 1,000 plants);
a canvas needs a fifth of it. The render feed keeps only what is drawn, in
columns (one array per field, so no key is repeated per plant), with growth
and health quantized to whole percents. The time-lapse is cut into chunks;
each chunk opens with a keyframe (every plant already planted) followed by
deltas (only the plants whose stage, growth or health changed by a step of
5 %), so a player downloads what it shows and can start at any chunk.

Pure: documents in, documents out; the renderer writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from greenhouse.garden.garden import History, PlantState
from greenhouse.garden.growth import STAGES

#: Snapshots per time-lapse chunk: one chunk is a few seconds of playback.
CHUNK_SNAPSHOTS = 24
#: Fields of one plant in a keyframe or delta, flattened: row, stage, growth %, health %.
FRAME_FIELDS = ("plant", "stage", "growth", "health")
#: Growth and health in the time-lapse go in steps of this many percent: a week's change
#: smaller than that is not drawn, so it is not sent.
LAPSE_STEP = 5


def percent(values: np.ndarray, step: int = 1) -> np.ndarray:
    """0..1 floats as whole percents, rounded to *step* (what a drawing can tell apart)."""
    scaled = np.asarray(values, dtype=np.float64) * (100 / step)
    return (np.clip(np.rint(scaled), 0, 100 // step) * step).astype(np.int64)


def render_feed(
    ordered: Sequence[PlantState],
    weather: dict[str, Any],
    live_url: str | None,
) -> dict[str, Any]:
    """What the garden canvas draws: plants in columns, the weather, the live URL.

    Plant pages are found at ``projects/<id>/`` beside the API, so the feed
    holds no URL that depends on where the site is served.
    """
    species = sorted({p.spec.species for p in ordered})
    index = {name: i for i, name in enumerate(species)}
    return {
        "weather": {
            "condition": weather["condition"],
            "intensity": weather["intensity"],
            "mood": weather["mood"],
        },
        "live": live_url,
        "species": species,
        "stages": list(STAGES),
        "plants": {
            "id": [p.spec.id for p in ordered],
            "name": [p.spec.name for p in ordered],
            "x": [p.position[0] for p in ordered],
            "z": [p.position[2] for p in ordered],
            "species": [index[p.spec.species] for p in ordered],
            "stage": [STAGES.index(p.stage) for p in ordered],
            "growth": percent(np.array([p.growth for p in ordered])).tolist(),
            "health": percent(np.array([p.health for p in ordered])).tolist(),
            "pinned": [i for i, p in enumerate(ordered) if p.spec.pinned],
        },
    }


@dataclass(frozen=True)
class Timelapse:
    """The time-lapse index and its chunk documents (``chunks[i]`` is chunk file ``i``)."""

    snapshots: list[str]
    chunks: list[dict[str, Any]]


def timelapse(history: History, ordered: Sequence[PlantState], per_chunk: int) -> Timelapse:
    """History as keyframes and deltas, plants numbered as in the render feed."""
    rows = np.array([p.row for p in ordered], dtype=np.int64)
    count = len(history.days)
    if not count or not len(rows):
        return Timelapse(snapshots=history.dates, chunks=[])
    growth = percent(history.growth[rows], LAPSE_STEP)
    health = percent(history.health[rows], LAPSE_STEP)
    stage = np.asarray(history.stage[rows], dtype=np.int64)
    planted = history.planted[rows][:, None] <= history.day_index[None, :]
    chunks = []
    for first in range(0, count, per_chunk):
        frames = []
        for k in range(first, min(count, first + per_chunk)):
            present = planted[:, k]
            if k > first:  # a delta: newly planted, or changed since the snapshot before
                present = present & (
                    ~planted[:, k - 1]
                    | (stage[:, k] != stage[:, k - 1])
                    | (growth[:, k] != growth[:, k - 1])
                    | (health[:, k] != health[:, k - 1])
                )
            which = np.flatnonzero(present)
            flat = np.stack([which, stage[which, k], growth[which, k], health[which, k]], axis=1)
            frames.append({"date": history.dates[k], "plants": flat.ravel().tolist()})
        chunks.append({"first": first, "frames": frames})
    return Timelapse(snapshots=history.dates, chunks=chunks)
