"""Build benchmark: a 1,000-project garden against Pelican building 1,000 Markdown pages.

    pip install -e '.[bench]' && python tests/bench/bench_build.py [--projects 1000] [--days 1095]

Prints wall time and peak memory (max RSS of the child process) of:
  * the first build (demo data generated into a fresh DuckDB file, then a full build),
  * a full rebuild with --force (simulate + render + publish, the data already stored),
  * a no-change rebuild (must rewrite nothing),
  * Pelican building the same number of Markdown pages, measured in the same run (the baseline),
  * the cost of the link-preview images: a full rebuild with the image cache emptied (every
    preview drawn), and a full rebuild with `[sharing] preview_images = false` (a tuned run,
    the baseline the images are measured against; target: images add at most 15%).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MB) of one child process."""
    started = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout, installed or not
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    output = proc.stdout.read() if proc.stdout else ""
    if proc.stdout:
        proc.stdout.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{output}")
    return wall, usage.ru_maxrss / 1024, output.strip().splitlines()[-1] if output.strip() else ""


def greenhouse_site(root: Path, projects: int, days: int) -> Path:
    site = root / "garden"
    site.mkdir()
    (site / "greenhouse.toml").write_text(
        f'[site]\ntitle = "Bench"\nbase_url = "https://bench.example/garden/"\n'
        f"[demo]\nenabled = true\ndays = {days}\nprojects = {projects}\n"
    )
    return site


def pelican_site(root: Path, pages: int) -> Path:
    site = root / "pelican"
    content = site / "content"
    content.mkdir(parents=True)
    for i in range(pages):
        (content / f"post-{i:04d}.md").write_text(
            f"Title: Project {i}\nDate: 2024-01-{1 + i % 28:02d} 10:00\nCategory: projects\nTags: t{i % 20}\n\n"
            f"# Project {i}\n\nA **demo** project with a [link](https://example.org/{i}).\n\n"
            "- one\n- two\n- three\n\n" + "Lorem ipsum dolor sit amet. " * 20 + "\n"
        )
    (site / "pelicanconf.py").write_text(
        'AUTHOR = "bench"\nSITENAME = "Bench"\nSITEURL = ""\nTIMEZONE = "UTC"\n'
        "FEED_ALL_ATOM = None\nCATEGORY_FEED_ATOM = None\nDEFAULT_PAGINATION = 50\n"
    )
    return site


def simulation_seconds(projects: int, days: int) -> float:
    """The growth simulation alone, in-process, on Poisson activity of the same size (best of 3)."""
    import datetime

    import numpy as np

    sys.path.insert(0, str(REPO))
    from greenhouse.config import GrowthConfig
    from greenhouse.garden.growth import CHANNELS, Activity, simulate

    rng = np.random.default_rng(1)
    channels = [rng.poisson(1.0, (projects, days)).astype(np.uint16) for _ in CHANNELS]
    activity = Activity(datetime.date(2024, 1, 1), *channels)
    planted = rng.integers(0, days, projects)
    archived = rng.random(projects) < 0.05
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        simulate(activity, planted, archived, GrowthConfig())
        best = min(best, time.perf_counter() - started)
    return best


def image_rows(
    garden: Path, cmd: list[str]
) -> tuple[tuple[float, float, str], tuple[float, float, str]]:
    """A full rebuild after emptying the image cache, and one without preview images."""
    import duckdb

    with duckdb.connect(str(garden / "build" / "greenhouse.duckdb")) as conn:
        conn.execute("DELETE FROM image_cache")
    cold = run([*cmd, "--force"], garden)
    config = garden / "greenhouse.toml"
    text = config.read_text()
    config.write_text(text + "[sharing]\npreview_images = false\n")
    try:
        without = run([*cmd, "--force"], garden)
    finally:
        config.write_text(text)
    return cold, without


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--days", type=int, default=1095)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gh-bench-"))
    env_python = sys.executable
    try:
        garden = greenhouse_site(root, args.projects, args.days)
        cmd = [env_python, "-m", "greenhouse", "build", "--offline", "--root", str(garden)]
        first = run(cmd, garden)
        full = run([*cmd, "--force"], garden)
        site = garden / "build" / "site"
        stamps = {p: p.stat().st_mtime_ns for p in site.rglob("*")}
        again = run(cmd, garden)
        rewritten = sum(1 for p, t in stamps.items() if not p.exists() or p.stat().st_mtime_ns != t)
        files = sum(1 for p in site.rglob("*") if p.is_file())
        cold_images, no_images = image_rows(garden, cmd)

        pelican = shutil.which("pelican")
        pel = None
        if pelican:
            psite = pelican_site(root, args.projects)
            pel = run([pelican, "content", "-o", "output", "-s", "pelicanconf.py", "-q"], psite)

        print(
            f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
        )
        print(f"garden: {args.projects} projects x {args.days} days -> {files} files")
        print(f"{'run':<34}{'wall s':>9}{'peak MB':>10}")
        print(f"{'greenhouse first build (+demo)':<34}{first[0]:>9.2f}{first[1]:>10.0f}")
        print(f"{'greenhouse full rebuild (--force)':<34}{full[0]:>9.2f}{full[1]:>10.0f}")
        print(
            f"{'greenhouse no-change rebuild':<34}{again[0]:>9.2f}{again[1]:>10.0f}   files rewritten: {rewritten}"
        )
        print(
            f"{'full rebuild, image cache emptied':<34}{cold_images[0]:>9.2f}{cold_images[1]:>10.0f}"
        )
        print(
            f"{'full rebuild, no preview images *':<34}{no_images[0]:>9.2f}{no_images[1]:>10.0f}"
            "   (* tuned: [sharing] preview_images = false)"
        )
        cost = full[0] - no_images[0]
        print(
            f"{'  preview images, cached':<34}{cost:>9.2f}   ({cost / no_images[0]:+.1%} of the "
            f"build without them; target <= +15%)"
        )
        drawn = cold_images[0] - no_images[0]
        print(
            f"{'  preview images, all drawn':<34}{drawn:>9.2f}   ({drawn / no_images[0]:+.1%}; "
            "once, when the image cache is empty)"
        )
        sim = simulation_seconds(args.projects, args.days)
        print(
            f"{'  of which the simulation alone':<34}{sim:>9.3f}   ({sim / full[0]:.1%} of the full rebuild)"
        )
        if pel:
            print(f"{'pelican, same number of pages':<34}{pel[0]:>9.2f}{pel[1]:>10.0f}")
            print(f"full rebuild / pelican = {full[0] / pel[0]:.2f}  (target <= 1.0, aim 0.5)")
        else:
            print("pelican not installed: pip install -e '.[bench]'")
        print(
            f"no-change rebuild target < 0.5 s: {'met' if again[0] < 0.5 else 'NOT met'}; "
            f"peak memory target < 100 MB: {'met' if full[1] < 100 else 'NOT met'}"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
