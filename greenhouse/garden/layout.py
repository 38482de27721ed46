"""A stable 3D layout: plants in beds, each plant on its own slot.

Pure and deterministic. Stability is the point: an owner who adds, removes or
grows one project should find every other plant where it was.

* A plant's footprint never exceeds its slot, so **growing moves nothing**.
* Beds (one per species) take cells of a hexagonal bed lattice, and plants
  take slots of a hexagonal lattice inside their bed's cell. Each built-in
  species has a **home cell** near the centre (the first ten cells of the
  spiral), so the garden is only as large as the beds it grows: twenty plants
  make a small garden and a thousand a wide one, and no bed's home depends on
  any other bed. A full bed's further cells, and beds of other species, hash
  to a cell beyond the homes and probe onward; a plant prefers the slot its
  name hashes to and probes onward when that one is taken. Claims are made oldest first (by planting date, then id), so a
  **new project takes a free slot and moves nobody**.
* **Removing** a project can only free its slot for a plant of the same bed
  that had probed past it: that plant moves within its bed's cell, by at
  most the cell's diameter (:data:`MAX_SHIFT`); every other plant stays put.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

SLOT_SPACING = 1.0  # distance between neighbouring plant slots
CELL_RINGS = 4  # a bed cell is a hexagon of 4 rings around its centre slot: 61 slots
BED_SPACING = (2 * CELL_RINGS + 2) * SLOT_SPACING  # centre-to-centre distance of bed cells
BED_CELLS = 61  # cells of the bed lattice (4 rings); beds overflow into further cells
#: The built-in species, each with its home cell (its index in the spiral of cells).
HOME_CELLS = {
    name: i
    for i, name in enumerate(
        ["moss", "fern", "oak", "pine", "rose", "cactus", "sunflower", "lavender", "bamboo", "ivy"]
    )
}
MAX_SHIFT = 2 * CELL_RINGS * SLOT_SPACING  # the most a removal can move another plant


@dataclass(frozen=True)
class Seedling:
    """What the layout needs of a plant."""

    id: str
    bed: str
    planted_on: date


def _hex_spiral(rings: int) -> list[tuple[int, int]]:
    """Axial hex coordinates, centre first, then ring by ring."""
    cells = [(0, 0)]
    directions = [(1, 0), (1, -1), (0, -1), (-1, 0), (-1, 1), (0, 1)]
    for ring in range(1, rings + 1):
        q, r = -ring, ring  # start at direction 4 scaled
        for dq, dr in directions:
            for _ in range(ring):
                cells.append((q, r))
                q, r = q + dq, r + dr
    return cells


SLOTS = _hex_spiral(CELL_RINGS)
CELLS = _hex_spiral(4)


def _to_plane(q: int, r: int, spacing: float) -> tuple[float, float]:
    return spacing * (q + r / 2.0), spacing * (r * math.sqrt(3) / 2.0)


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def place(seedlings: Sequence[Seedling]) -> dict[str, tuple[float, float, float]]:
    """Positions ``(x, y, z)`` for every plant: x/z on the ground, y = 0 (ground level)."""
    order = sorted(seedlings, key=lambda s: (s.planted_on, s.id))
    bed_cells: dict[str, list[int]] = {}
    taken_cells: set[int] = set()
    taken_slots: dict[int, set[int]] = {}
    positions: dict[str, tuple[float, float, float]] = {}
    for seedling in order:
        cells = bed_cells.setdefault(seedling.bed, [])
        slot: int | None = None
        cell = -1
        for cell in cells:
            slot = _claim(_hash(seedling.id), taken_slots[cell], len(SLOTS))
            if slot is not None:
                break
        if slot is None:  # a new bed, or its cells are full: claim another cell
            home = HOME_CELLS.get(seedling.bed) if not cells else None
            claimed = (
                home
                if home is not None
                else _claim(_hash(f"{seedling.bed}#{len(cells)}"), taken_cells, None)
            )
            assert claimed is not None
            taken_cells.add(claimed)
            cell = claimed
            cells.append(cell)
            taken_slots[cell] = set()
            slot = _claim(_hash(seedling.id), taken_slots[cell], len(SLOTS))
            assert slot is not None
        cx, cz = _cell_centre(cell)
        sx, sz = _to_plane(*SLOTS[slot], SLOT_SPACING)
        positions[seedling.id] = (round(cx + sx, 3), 0.0, round(cz + sz, 3))
    return positions


def _claim(preferred: int, taken: set[int], size: int | None) -> int | None:
    """Linear probing from the preferred index; ``size`` None means unbounded."""
    if size is None:  # a bed cell: past the home cells, which are never claimed this way
        start = len(HOME_CELLS) + preferred % len(HOME_CELLS)  # near the homes
        index = start
        while index in taken:
            index += 1
        taken.add(index)
        return index
    if len(taken) >= size:
        return None
    start = preferred % size
    for step in range(size):
        index = (start + step) % size
        if index not in taken:
            taken.add(index)
            return index
    return None


def _cell_centre(cell: int) -> tuple[float, float]:
    if cell < len(CELLS):
        return _to_plane(*CELLS[cell], BED_SPACING)
    # Far beyond the lattice (huge gardens): continue on an outer spiral of cells.
    ring = 5 + (cell - len(CELLS)) // 36
    angle = 2 * math.pi * ((cell - len(CELLS)) % 36) / 36
    return BED_SPACING * ring * math.cos(angle), BED_SPACING * ring * math.sin(angle)
