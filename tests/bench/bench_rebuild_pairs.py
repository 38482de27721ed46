"""The forced 1,000-plant rebuild against Pelican's 1,000 pages, in many pairs (issue 15).

    pip install -e '.[bench]' && python tests/bench/bench_rebuild_pairs.py [--pairs 10]

``bench_build.py`` times five forced rebuilds, each the first after a fresh
site's first build (no spare bundle yet: it makes every folder again). This
script times the rebuild people run most, a forced rebuild of a site already
built and rebuilt (its spare is there), and reads the ratio from ``--pairs``
pairs: each forced rebuild (the real CLI, shipped defaults) is followed at once
by Pelican's build of 1,000 pages, so each ratio compares runs seconds apart on
a machine whose speed drifts by tens of percent within minutes. It prints every
pair and the median ratio; target ≤ 0.4 ×.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_build import big_site, greenhouse, pelican, pelican_site, run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--days", type=int, default=1095)
    parser.add_argument("--pairs", type=int, default=10)
    args = parser.parse_args()
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; load average before {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        psite = pelican_site(root, args.projects)
        site = big_site(root / "garden", args.projects, args.days)
        build = greenhouse("build", "--offline", "--root", str(site))
        cmd = [*build, "--force"]
        run(build, site)  # the first build: demo data and pictures
        run(cmd, site)  # the first forced rebuild: now there is a spare
        pelican(psite)
        ratios = []
        for _ in range(args.pairs):
            ours, theirs = run(cmd, site), pelican(psite)
            ratios.append(ours.wall / theirs.wall)
            print(f"  {ours.wall:.2f} / {theirs.wall:.2f} s = {ratios[-1]:.3f} x", flush=True)
    ratio = statistics.median(ratios)
    verdict = "met" if ratio <= 0.4 else "NOT met"
    print(
        f"forced rebuild of {args.projects} plants / Pelican {args.projects} pages, median of "
        f"{args.pairs} pairs: {ratio:.3f} x (spread {min(ratios):.3f}-{max(ratios):.3f}); "
        f"target <= 0.4 x: {verdict}"
    )


if __name__ == "__main__":
    main()
