"""Build benchmark: greenhouse beside Pelican building the same number of pages, same run.

    pip install -e '.[bench]' && python tests/bench/bench_build.py [--projects 1000] [--days 1095] [--repeat 3]

Every command runs in a child process (the real CLI, this checkout first on
the path), with Python's bytecode cache on, as after ``pip install`` (one
untimed warm-up of each tool writes it). Each figure is the median of
``--repeat`` runs; wall time, CPU time (user + system), system time and peak
memory (max RSS) of the child are printed beside the baseline measured in the
same run and the target:

* fresh clone: ``greenhouse build --offline`` on a copy of this repository's
  demo site (20 plants, no build folder yet) — target ≤ 1.0 s wall; Pelican
  building 10 pages is shown for scale, and the target scaled by it (the
  issue set 1.0 s when those 10 pages took 0.36 s: the demo within 2.8 ×
  them);
* first build: demo data for ``--projects`` × ``--days`` generated into a new
  store, then a full build — target ≤ 1.0 × Pelican building as many pages;
* (both start without what builds keep beside the installed package, the
  compiled theme and the API schemas: a new installation has only the
  bytecode ``pip`` compiles, which the untimed warm-up writes here);
* both again with ``[sharing] preview_images = false`` (tuned rows, labelled):
  what the link-preview PNGs, drawn only by a first build, add to them; and
  the first build's pictures drawn alone in one process (their CPU over the
  cores is the least they add to a first build, whatever else overlaps);
* the demo's floor: a child that only starts Python, imports the libraries
  the build's own process needs and makes a new DuckDB file, plus its
  pictures' CPU over the cores (they can begin only once the garden is known);
  the first build's: when its garden is known (``build()`` in a child, a
  first build without previews, whose drawing processes would only compete),
  plus its pictures' CPU over the cores;
* full rebuild: ``--force`` with the data stored — target ≤ 0.4 × Pelican
  (Pelican's 1,000 pages are built right after each forced rebuild, and the
  first build's and the rebuild's ratios are the medians of those pairs: on a
  shared machine the minutes between two far-apart runs move either by a
  third);
  the plants' pages render in a second process on another core
  (:mod:`greenhouse.site.press`); a tuned row pins the build to one core,
  which renders them all in the build's own process, and the CPU of the
  build's own process (its critical path on an idle machine) is shown apart,
  and when each stage of a forced rebuild begins (``build()`` in a child);
* no-change rebuild — target ≤ 0.2 s and no file written;
* start-up: ``greenhouse --version``, and in one process what typer's
  parameter coercion costs on its own and once greenhouse's config models
  are imported (every command but ``--version`` needs them, and pydantic).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: Pelican's 10 pages, in seconds, on the machine where issue 15 set the demo's 1.0 s target.
#: The same machine has since run them in 0.37-1.76 s: the demo's wall over Pelican's in the
#: same run, against 1.0 / this, is the target at whatever pace the machine has that day.
ISSUE_PELICAN_10 = 0.36


@dataclass(frozen=True)
class Run:
    """One child process."""

    wall: float
    cpu: float
    sys: float
    peak_mb: float
    output: str
    #: CPU seconds of the build's own process, without its drawing and rendering processes
    #: (its critical path on an idle machine); None where /proc cannot tell.
    own: float | None = None


def env() -> dict[str, str]:
    """This checkout first on the path; bytecode cached, as an installed package has it."""
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**base, "PYTHONPATH": str(REPO)}


def one_core() -> None:
    """Pin the child to one core (its rendering and drawing then stay in its own process)."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def run(cmd: list[str], cwd: Path, pinned: bool = False) -> Run:
    """Wall, CPU and system seconds and peak RSS (MB) of one child process (and its children)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=one_core if pinned else None,
    )
    output = proc.stdout.read() if proc.stdout else ""
    own = own_cpu(proc.pid)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    # wait4's usage covers the child and the processes it waited for (its drawing and
    # rendering processes); peak memory is the largest single process's.
    if proc.stdout:
        proc.stdout.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{output}")
    last = output.strip().splitlines()[-1] if output.strip() else ""
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, cpu, usage.ru_stime, usage.ru_maxrss / 1024, last, own)


def own_cpu(pid: int) -> float | None:
    """The CPU seconds of process *pid* alone, read once it has exited but before it is reaped."""
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (AttributeError, OSError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (not its children's)


def median(runs: list[Run]) -> Run:
    """The run of median wall time (its other figures with it), peak memory the largest."""
    ordered = sorted(runs, key=lambda r: r.wall)
    middle = ordered[len(ordered) // 2]
    return Run(
        middle.wall,
        statistics.median(r.cpu for r in runs),
        statistics.median(r.sys for r in runs),
        max(r.peak_mb for r in runs),
        middle.output,
        statistics.median(r.own for r in runs if r.own is not None)
        if middle.own is not None
        else None,
    )


#: A forced rebuild through the library, printing when each stage begins (seconds since the
#: parent started the process): where the time before any page can render goes.
STAGE_MARKS = """
import os, sys, time
started = float(os.environ["BENCH_STARTED"])
from greenhouse.build import build
marks = [("imported", time.time() - started)]
build(".", offline=True, force=sys.argv[1] == "force", progress=lambda s: marks.append((s, time.time() - started)))
marks.append(("done", time.time() - started))
print(" ".join(f"{stage.replace(' ', '-')}={at:.3f}" for stage, at in marks))
"""


def stage_marks(site: Path | Callable[[], Path], repeat: int) -> dict[str, float]:
    """Median seconds from process start to each stage of a forced rebuild of *site*.

    With a function instead, a first build of the new site it makes each time.
    """
    first = not isinstance(site, Path)
    seen: dict[str, list[float]] = {}
    for _ in range(repeat):
        if isinstance(site, Path):
            where = site
        else:
            where = site()
            fresh_installation()  # as the first builds timed above
        environ = {**env(), "BENCH_STARTED": repr(time.time())}
        out = subprocess.run(
            [sys.executable, "-c", STAGE_MARKS, "first" if first else "force"],
            cwd=where,
            env=environ,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for field in out.split():
            stage, at = field.split("=")
            seen.setdefault(stage, []).append(float(at))
    return {stage: statistics.median(times) for stage, times in seen.items()}


def greenhouse(*args: str) -> list[str]:
    return [sys.executable, "-m", "greenhouse", *args]


def fresh_installation() -> None:
    """Forget what builds keep beside the installed package: compiled theme, API schemas.

    ``pip install`` compiles the package's bytecode (the warm-up stands in for
    it) but not these: a new user's first build makes them, so every timed
    first build here starts without them.
    """
    # greenhouse.site.render.THEME_COMPILED of the checkout the builds run from.
    for kept in (REPO / "greenhouse" / "site" / "__pycache__").glob("*"):
        if kept.suffix == ".jinja" or kept.name.startswith("api-schemas."):
            kept.unlink()


def demo_site(root: Path) -> Path:
    """A fresh clone's demo site: this repository's config and content, no build folder."""
    site = root / "clone"
    site.mkdir()
    shutil.copy(REPO / "greenhouse.toml", site / "greenhouse.toml")
    shutil.copytree(REPO / "content", site / "content")
    return site


def big_site(root: Path, projects: int, days: int) -> Path:
    site = root / "garden"
    site.mkdir(parents=True)
    (site / "greenhouse.toml").write_text(
        f'[site]\ntitle = "Bench"\nbase_url = "https://bench.example/garden/"\n'
        f"[demo]\nenabled = true\ndays = {days}\nprojects = {projects}\n"
    )
    return site


def without_previews(site: Path) -> Path:
    """*site* with ``[sharing] preview_images = false``: the tuned rows' build, no PNG drawn."""
    config = site / "greenhouse.toml"
    config.write_text(config.read_text() + "\n[sharing]\npreview_images = false\n")
    return site


def pelican_site(root: Path, pages: int) -> Path:
    site = root / f"pelican-{pages}"
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


def pelican(site: Path) -> Run:
    exe = shutil.which("pelican")
    if exe is None:
        raise SystemExit("pelican is not installed: pip install -e '.[bench]'")
    return run([exe, "content", "-o", "output", "-s", "pelicanconf.py", "-q"], site)


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


#: Every picture a first build draws, drawn in one process a task at a time (as a drawing
#: process draws them): its CPU seconds, and the count.
PICTURES = """
import json, sys, time
from pathlib import Path
import duckdb
from greenhouse.config import load_site
from greenhouse.garden.growth import STAGES
from greenhouse.site import og, sharing
site = Path(sys.argv[1])
bundle = site / "build" / "site"
doc = json.loads((bundle / "api/v1/garden/index.json").read_text())
doc["stages"] = {stage: doc["stages"][stage] for stage in STAGES}  # the build's order, not JSON's
favicon = (bundle / "static/favicon.svg").read_bytes()
pictures = sharing.pictures(load_site(site).config, doc, doc["plants"], favicon)
with duckdb.connect(str(site / "build" / "greenhouse.duckdb"), read_only=True) as db:
    stored = {row[0] for row in db.execute("SELECT digest FROM image_cache").fetchall()}
assert {p.digest for p in pictures} == stored, "not the pictures the build drew"
started = time.process_time()
for task in og.batches(pictures):
    og.draw_all([p.job for p in task])
print(time.process_time() - started, len(pictures))
"""


#: The least any fresh-clone build does before its garden is known: start Python, import
#: the libraries its own process needs and make a new DuckDB file with one table. No
#: content is read, no demo data made, no garden grown, no page written; Pillow and resvg
#: are left out (the drawing processes import them on the other cores): a lower bound.
START_FLOOR = """
import duckdb, jinja2, markdown_it, nh3, numpy, pydantic
import sys
with duckdb.connect(sys.argv[1]) as db:
    db.execute("CREATE TABLE t (day DATE, n INTEGER)")
    db.execute("CHECKPOINT")
"""


def start_floor(root: Path, repeat: int) -> Run:
    """The median wall of :data:`START_FLOOR` in a child process (a new store each time)."""
    runs = []
    for n in range(repeat + 1):  # one untimed run first, as every timed command has
        store = root / f"floor{n}.duckdb"
        runs.append(run([sys.executable, "-c", START_FLOOR, str(store)], root))
        store.unlink()
    return median(runs[1:])


def pictures_seconds(site: Path) -> tuple[float, int]:
    """CPU seconds of drawing every picture of *site*'s bundle in one process, and how many."""
    out = subprocess.run(
        [sys.executable, "-c", PICTURES, str(site)],
        env=env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]), int(out[1])


COERCION = """
import time
import typer  # the CLI itself, imported in every case
started = time.perf_counter()
{before}
ready = time.perf_counter()
from pathlib import Path
from typer import _adapters
from typer.models import OptionInfo
for annotation in (Path, Path | None, Path | None, str | None):  # build's non-flag options
    _adapters.try_build_adapter(annotation, OptionInfo())
print(ready - started, time.perf_counter() - ready)
"""


def coercion_seconds(repeat: int) -> tuple[float, float, float] | None:
    """typer's coercion on its own; greenhouse's config (pydantic) imported first; after that."""
    try:
        import typer._adapters  # noqa: F401  (typer 0.29+ coerces through pydantic)
    except ImportError:
        return None
    alone, pydantic_import, after = [], [], []
    for _ in range(repeat):
        for before, into in (("", alone), ("import greenhouse.config", after)):
            out = subprocess.run(
                [sys.executable, "-c", COERCION.format(before=before)],
                env=env(),
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            into.append(float(out[1]))
            if before:
                pydantic_import.append(float(out[0]))
    return (
        statistics.median(alone),
        statistics.median(pydantic_import),
        statistics.median(after),
    )


def paired(runs: list[Run], baselines: list[Run]) -> float:
    """The median of each run's wall time over its own baseline's, measured just after it."""
    return statistics.median(r.wall / b.wall for r, b in zip(runs, baselines, strict=True))


def files_written(site: Path, before: dict[Path, tuple[int, int]]) -> int:
    """Files new or changed since *before* (inode and modification time)."""
    now = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in site.rglob("*") if p.is_file()}
    return sum(1 for p, ident in now.items() if before.get(p) != ident)


def line(name: str, r: Run, baseline: str = "", verdict: str = "") -> str:
    return (
        f"{name:<34}{r.wall:>8.2f}{r.cpu:>8.2f}{r.sys:>7.2f}{r.peak_mb:>8.0f}"
        f"  {baseline:<24}{verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--days", type=int, default=1095)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gh-bench-"))
    load_before = os.getloadavg()
    try:
        # Warm-up (untimed): bytecode of greenhouse, its dependencies and Pelican.
        run(greenhouse("build", "--offline", "--root", str(demo_site(root))), root)
        pelican(pelican_site(root / "warm", 1))
        shutil.rmtree(root / "clone")

        clone = []
        for n in range(args.repeat):
            site = demo_site(root)
            fresh_installation()
            clone.append(run(greenhouse("build", "--offline", "--root", str(site)), site))
            if n < args.repeat - 1:
                shutil.rmtree(site)
        clone_run = median(clone)
        demo_drawing, demo_drawn = pictures_seconds(site)
        shutil.rmtree(site)
        bare_clone = []  # tuned: no preview pictures, the rest of the build alone
        for _ in range(args.repeat):
            site = without_previews(demo_site(root))
            fresh_installation()
            bare_clone.append(run(greenhouse("build", "--offline", "--root", str(site)), site))
            shutil.rmtree(site)
        bare_clone_run = median(bare_clone)
        floor = start_floor(root, args.repeat)
        small = pelican_site(root, 10)
        pelican_10 = median([pelican(small) for _ in range(args.repeat)])

        psite = pelican_site(root, args.projects)
        first, full, full_one_core, unchanged, written, pel_runs = [], [], [], [], [], []
        for n in range(args.repeat):
            site = big_site(root / f"r{n}", args.projects, args.days)
            cmd = greenhouse("build", "--offline", "--root", str(site))
            fresh_installation()
            first.append(run(cmd, site))
            full.append(run([*cmd, "--force"], site))
            # Pelican right after: each ratio compares runs seconds apart, whatever the
            # machine does over the minutes a whole benchmark takes.
            pel_runs.append(pelican(psite))
            full_one_core.append(run([*cmd, "--force"], site, pinned=True))
            bundle = site / "build" / "site"
            stamps = {
                p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in bundle.rglob("*") if p.is_file()
            }
            unchanged.append(run(cmd, site))
            written.append(files_written(bundle, stamps))
            if n < args.repeat - 1:
                shutil.rmtree(site)
        marks = stage_marks(site, args.repeat)
        drawing, drawn = pictures_seconds(site)
        files = sum(1 for p in (site / "build" / "site").rglob("*") if p.is_file())
        bare_first = []  # tuned: the first build without its preview pictures
        for n in range(args.repeat):
            bare = without_previews(big_site(root / f"bare{n}", args.projects, args.days))
            fresh_installation()
            bare_first.append(run(greenhouse("build", "--offline", "--root", str(bare)), bare))
            shutil.rmtree(bare)
        bare_first_run = median(bare_first)
        n_marked = 0

        def marked_site() -> Path:  # a new first build's site, without previews, each time
            nonlocal n_marked
            n_marked += 1
            site = big_site(root / f"marked{n_marked}", args.projects, args.days)
            return without_previews(site)

        first_marks = stage_marks(marked_site, args.repeat)
        pel = median(pel_runs)
        version = median([run(greenhouse("--version"), root) for _ in range(args.repeat)])
        python = median([run([sys.executable, "-c", "pass"], root) for _ in range(args.repeat)])
        coercion = coercion_seconds(args.repeat)
        first_run, full_run, same_run = median(first), median(full), median(unchanged)

        print(
            f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
            f"Python {platform.python_version()}; load average before {load_before[0]:.1f}, "
            f"after {os.getloadavg()[0]:.1f}; medians of {args.repeat} runs"
        )
        print(f"garden: {args.projects} projects x {args.days} days -> {files} files")
        print(
            f"{'run':<34}{'wall s':>8}{'cpu s':>8}{'sys s':>7}{'peak MB':>8}  "
            f"{'baseline (same run)':<24}target"
        )

        def verdict(ok: bool, text: str) -> str:
            return f"{text}: {'met' if ok else 'NOT met'}"

        print(
            line(
                "fresh clone, demo (20 plants)",
                clone_run,
                f"pelican 10 pages {pelican_10.wall:.2f}",
                verdict(clone_run.wall <= 1.0, "<= 1.0 s wall"),
            )
        )
        pace = clone_run.wall / pelican_10.wall
        print(
            f"  at the machine's pace: {pace:.2f} x pelican's 10 pages of this run; the 1.0 s "
            f"target was set when they took {ISSUE_PELICAN_10} s ({1.0 / ISSUE_PELICAN_10:.2f} x): "
            + verdict(pace <= 1.0 / ISSUE_PELICAN_10, "scaled target")
        )
        print(
            line(
                "  tuned: previews off",
                bare_clone_run,
                f"previews cost {clone_run.wall - bare_clone_run.wall:+.2f} s wall",
            )
        )
        from greenhouse.machine import cores as machine_cores

        cores = machine_cores()  # the cores a build's helper processes are sized by
        print(
            f"  its {demo_drawn} pictures alone: {demo_drawing:.2f} s of CPU in one process "
            f"(at least {demo_drawing / cores:.2f} s on {cores} cores)"
        )
        least = floor.wall + demo_drawing / cores
        print(
            f"  floor: Python started, the build's libraries imported and a new DuckDB file "
            f"made {floor.wall:.2f} s, then its pictures on {cores} cores: {least:.2f} s "
            f"({'above' if least > 1.0 else 'within'} the 1.0 s target)"
        )
        ratio = paired(first, pel_runs)
        print(
            line(
                "first build (+demo data)",
                first_run,
                f"{ratio:.2f} x pelican",
                verdict(ratio <= 1.0, "<= 1.0 x"),
            )
        )
        print(
            line(
                "  tuned: previews off",
                bare_first_run,
                f"{bare_first_run.wall / pel.wall:.2f} x pelican",
            )
        )
        print(
            f"  its {drawn} pictures alone: {drawing:.2f} s of CPU in one process, at least "
            f"{drawing / cores:.2f} s on {cores} cores = {drawing / cores / pel.wall:.2f} x pelican"
        )
        known = first_marks["api"]
        least = known + drawing / cores
        print(
            f"  floor: the garden known {known:.2f} s after start (a first build without previews,"
            f" in-process, median), then its pictures on {cores} cores: {least:.2f} s = "
            f"{least / pel.wall:.2f} x pelican ({'above' if least > pel.wall else 'within'}"
            " the 1.0 x target)"
        )
        ratio = paired(full, pel_runs)
        print(
            line(
                "full rebuild (--force)",
                full_run,
                f"{ratio:.2f} x pelican",
                verdict(ratio <= 0.4, "<= 0.4 x"),
            )
        )
        print(
            "  each pair (rebuild / pelican, s): "
            + ", ".join(f"{f.wall:.2f} / {p.wall:.2f}" for f, p in zip(full, pel_runs, strict=True))
            + f"; ratio of the medians {full_run.wall / pel.wall:.2f} x"
        )
        if full_run.own is not None:
            print(
                f"{'  of which the build process':<34}{'':>8}{full_run.own:>8.2f}"
                f"  {'(without its rendering process)':<24}"
            )
        print(
            "  its stages (in-process build(), seconds from process start, median): "
            + ", ".join(f"{stage} {at:.2f}" for stage, at in marks.items())
        )
        print(
            "  ('simulate': the store is read and the garden grown; 'api': the garden is known,"
            " its plants handed to the rendering process)"
        )
        print(
            line(
                "  tuned: one core",
                median(full_one_core),
                f"{median(full_one_core).wall / pel.wall:.2f} x pelican",
            )
        )
        print(
            line(
                "no-change rebuild",
                same_run,
                f"files written: {max(written)}",
                verdict(same_run.wall <= 0.2 and max(written) == 0, "<= 0.2 s, 0 files"),
            )
        )
        print(line(f"pelican, {args.projects} pages", pel, "(the baseline)"))
        print(line("pelican, 10 pages", pelican_10, "(for scale)"))
        sim = simulation_seconds(args.projects, args.days)
        print(f"{'  the growth simulation alone':<34}{sim:>8.3f}   (in-process, best of 3)")
        print(line("greenhouse --version", version, f"python -c pass {python.wall:.2f}"))
        if coercion is not None:
            alone, pydantic_import, after = coercion
            print(
                f"typer coercion of build's options: {alone:.3f} s on its own (mostly importing "
                f"pydantic); {after:.3f} s once greenhouse's config models are imported "
                f"(which takes {pydantic_import:.3f} s, pydantic included)"
            )
        print(
            f"system time: full rebuild {full_run.sys:.2f} s, pelican {pel.sys:.2f} s; "
            f"first build {first_run.sys:.2f} s"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
