"""What the link-preview images cost a build (issue 14), beside the same build without them.

    pip install -e '.[bench]' && python tests/bench/bench_previews.py [--projects 230] [--repeat 3]

A demo garden of ``--projects`` plants is built once, and a copy of it with the
previews off; then, each the median of ``--repeat`` child processes (the real
CLI, shipped defaults), the three kinds of run taking turns in a rotating order
(run one after another, the runs after the first build's drawing and the
baseline after the redrawing ones met different machines: +31.6 % one hour,
-16.5 % another, for the same code):

* full rebuild (``--force``) with the images taken from the store's image cache;
* full rebuild after emptying the image cache: every preview drawn again (once,
  on a first build or after an upgrade);
* full rebuild with ``[sharing] preview_images = false`` — a tuned run, the
  baseline the images are measured against. Target: cached images add at most 15%.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_build import Run, big_site, greenhouse, median, run  # noqa: E402


def rebuild(site: Path, before: str = "") -> Run:
    """One forced rebuild; *before* is SQL run on the store first."""
    if before:
        import duckdb

        with duckdb.connect(str(site / "build" / "greenhouse.duckdb")) as conn:
            conn.execute(before)
    return run(greenhouse("build", "--offline", "--force"), site)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", type=int, default=230)
    parser.add_argument("--days", type=int, default=1095)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site = big_site(Path(tmp), args.projects, args.days)
        run(greenhouse("build", "--offline"), site)  # demo data and the first pictures
        bare = Path(tmp) / "bare"
        shutil.copytree(site, bare)
        config = bare / "greenhouse.toml"
        config.write_text(config.read_text() + "[sharing]\npreview_images = false\n")
        kinds: dict[str, Callable[[], Run]] = {
            "cached": lambda: rebuild(site),
            "drawn": lambda: rebuild(site, before="DELETE FROM image_cache"),
            "without": lambda: rebuild(bare),
        }
        for kind in kinds.values():  # each site once, untimed: both have published a bundle
            kind()
        runs: dict[str, list[Run]] = {name: [] for name in kinds}
        order = list(kinds)
        for n in range(args.repeat):
            for name in order[n % 3 :] + order[: n % 3]:
                runs[name].append(kinds[name]())
        cached, drawn, without = (median(runs[name]) for name in ("cached", "drawn", "without"))
    print(f"{args.projects} plants, {args.days} days; median of {args.repeat}; wall / CPU seconds")
    rows = [
        ("no preview images (tuned baseline)", without),
        ("images from the cache (default)", cached),
        ("every image drawn (cache emptied)", drawn),
    ]
    for name, r in rows:
        share = (r.wall - without.wall) / without.wall
        print(f"{name:<38}{r.wall:>8.2f}{r.cpu:>8.2f}   {share:+.1%} of the baseline")
    cost = (cached.wall - without.wall) / without.wall
    print(f"cached images: {cost:+.1%} (target <= +15%): {'met' if cost <= 0.15 else 'NOT met'}")


if __name__ == "__main__":
    main()
