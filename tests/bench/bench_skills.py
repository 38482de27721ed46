"""Benchmark: the skills constellation at its bounds, next to a realistic garden.

    python tests/bench/bench_skills.py            # add --old for the pre-0.2 pair dictionary

Each row runs ``greenhouse.garden.skills.constellation`` on synthetic plants
(seeded) and prints wall time and the peak of Python allocations
(tracemalloc, measured in a second run so it does not slow the timed one):

- ``realistic``: 1,000 plants of 5 skills from 60 (the baseline: what a real
  garden of that size looks like);
- ``bound``: 1,000 plants of 50 skills (the most a content file may list)
  from 2,000 distinct skills: the storm the bounds are for;
- ``one plant, 2,000 skills``: the evaluation's case (87 s, 2.2 GB in 0.1;
  a content file is now refused, and upstream topics are cut to 50);
- ``--old``: the exact pair dictionary of 0.1 on the ``bound`` input, for
  comparison (slow: tens of seconds).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from itertools import combinations
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from greenhouse.garden.skills import constellation, skill_key  # noqa: E402

Plants = dict[str, list[str]]


def garden(plants: int, per_plant: int, pool: int, seed: int = 16) -> Plants:
    rng = random.Random(seed)
    names = [f"skill-{n:04d}" for n in range(pool)]
    return {f"p{n:04d}": rng.sample(names, per_plant) for n in range(plants)}


def old_pairs(plants: Plants) -> int:
    """0.1's edge count: every pair of every plant's skills in one dictionary."""
    uses: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for plant_id in sorted(plants):
        keys = sorted({skill_key(s) for s in plants[plant_id]})
        uses.update(keys)
        pairs.update(combinations(keys, 2))
    edges = [n / math.sqrt(uses[a] * uses[b]) for (a, b), n in sorted(pairs.items())]
    return len(edges)


def measure(run: Callable[[], object]) -> tuple[float, float, object]:
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return seconds, peak, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", action="store_true", help="also time 0.1's pair dictionary")
    args = parser.parse_args()
    rows: list[tuple[str, Callable[[], object]]] = []
    realistic = garden(1000, 5, 60)
    bound = garden(1000, 50, 2000)
    one = {"everything": [f"skill {n}" for n in range(2000)]}
    rows.append(
        (
            "realistic: 1,000 plants x 5 of 60 skills (baseline)",
            lambda: constellation([], realistic),
        )
    )
    rows.append(("bound: 1,000 plants x 50 of 2,000 skills", lambda: constellation([], bound)))
    rows.append(("one plant, 2,000 skills", lambda: constellation([], one)))
    if args.old:
        rows.append(("0.1 pair dictionary on the bound input", lambda: old_pairs(bound)))
    print(f"{'run':58} {'wall s':>8} {'peak MB':>8} {'nodes':>6} {'edges':>8}")
    baseline = None
    for name, run in rows:
        seconds, peak, result = measure(run)
        if isinstance(result, dict):
            nodes, edges = len(result["nodes"]), len(result["edges"])
        else:
            nodes, edges = 0, int(result)  # type: ignore[call-overload]
        baseline = baseline or seconds
        print(
            f"{name:58} {seconds:8.3f} {peak:8.1f} {nodes:6} {edges:8}  ({seconds / baseline:.1f}x)"
        )


if __name__ == "__main__":
    main()
