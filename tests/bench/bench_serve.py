"""Edit-to-reload benchmark of ``greenhouse serve``, measured in Chromium.

    python tests/bench/bench_serve.py [--projects 1000] [--days 1095] [--edits 5]

Runs the real ``greenhouse serve`` in a subprocess on a copy of the demo site
(``--projects 0``: the 20-plant demo; ``--projects 1000``: the demo with a
thousand generated projects besides its content) and drives Debian's
Chromium (Playwright, headless) on a project page. Times run from just before
the file is written, on the same clock as the browser's:

* **content edit** — a project's Markdown is saved; until the reloaded page's
  ``load`` event (and, for information, until the old page started to
  unload, which is when the reload was triggered);
* **template edit** — a site template overriding the theme's project page is
  saved; until the reloaded page's ``load`` event; the serve log must say
  that the garden was reused (no simulation);
* **stylesheet edit** — ``site_templates/static/garden.css`` is saved; until
  the page's computed style shows it (swapped in place, no reload).

The baseline, in the same run, is what ``serve`` did for every edit before
it kept a cache: a forced full build (``greenhouse build --offline --force``,
without the browser). Each edit is repeated ``--edits`` times; the median and
the worst are printed beside the target.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
TARGETS = {  # seconds: (20 plants, 1,000 plants)
    "content edit -> reloaded": (0.3, 1.0),
    "stylesheet edit -> swapped": (0.2, 0.2),
}
# Installed in every document: when the page starts to unload (the reload was triggered).
UNLOAD_HOOK = (
    "addEventListener('beforeunload', () => sessionStorage.setItem("
    "'gh-unload', String(performance.timeOrigin + performance.now())));"
)
LOADED = (
    "(() => { const n = performance.getEntriesByType('navigation')[0];"
    " return n && n.loadEventEnd > 0 ? performance.timeOrigin + n.loadEventEnd : 0; })()"
)


def child_env() -> dict[str, str]:
    """The environment of every child: this checkout, bytecode cached as after `pip install`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(REPO), "SOURCE_DATE_EPOCH": "1767225600"}


def make_site(root: Path, projects: int, days: int) -> Path:
    site = root / "site"
    site.mkdir()
    shutil.copytree(REPO / "content", site / "content")
    config = (REPO / "greenhouse.toml").read_text()
    if projects:
        config = config.replace("projects = 12", f"projects = {projects}")
        config = config.replace("days = 730", f"days = {days}")
    (site / "greenhouse.toml").write_text(config)
    (site / "site_templates" / "static").mkdir(parents=True)
    return site


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """``greenhouse serve`` in a subprocess, its log collected by a thread."""

    def __init__(self, site: Path):
        self.port = free_port()
        self.log: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "greenhouse", "serve", "--root", str(site)]
            + ["--port", str(self.port)],
            cwd=site,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 600
        while not any(line.startswith("Serving ") for line in self.log):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("serve did not start:\n" + "".join(self.log))
            time.sleep(0.1)
        self.url = f"http://127.0.0.1:{self.port}/"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def poll(page: Any, expression: str, timeout: float = 60.0) -> Any:
    """Evaluate *expression* until it is truthy (the pages' CSP forbids eval-based waiting)."""
    from playwright.sync_api import Error

    deadline = time.monotonic() + timeout
    while True:
        try:
            value = page.evaluate(expression)
            if value:
                return value
        except Error as exc:  # the page is reloading: ask the new one
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {expression}")
        time.sleep(0.005)


def reload_after(page: Any, edit: Callable[[], None], marker: str) -> tuple[float, float]:
    """Seconds from the write to the reload being triggered, and to the new page's load."""
    page.evaluate("sessionStorage.removeItem('gh-unload')")
    started = time.time() * 1000
    edit()
    loaded = poll(
        page,
        f"document.body && document.body.innerHTML.includes({marker!r}) && {LOADED}",
    )
    unloaded = float(page.evaluate("sessionStorage.getItem('gh-unload') || 0"))
    return (unloaded - started) / 1000, (loaded - started) / 1000


def css_after(page: Any, stylesheet: Path, colour: int) -> float:
    """Seconds from the write to the page's computed style showing the new stylesheet."""
    rgb = f"rgb({colour}, 2, 3)"
    page.evaluate("window.__ghSeen = 0")
    page.evaluate(
        "(() => { const look = () => { if (getComputedStyle(document.body).color === "
        f"{rgb!r}) {{ window.__ghSeen = performance.timeOrigin + performance.now(); }}"
        " else { requestAnimationFrame(look); } }; requestAnimationFrame(look); })()"
    )
    started = time.time() * 1000
    stylesheet.write_text(f"body {{ color: {rgb} }}\n")
    seen = poll(page, "window.__ghSeen")
    return (seen - started) / 1000


def forced_build_seconds(site: Path, repeat: int) -> list[float]:
    """The baseline: a forced full build, as serve ran one for every edit before."""
    walls = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "greenhouse", "build", "--offline", "--force"]
            + ["--root", str(site)],
            cwd=site,
            env=child_env(),
            check=True,
            capture_output=True,
        )
        walls.append(time.perf_counter() - started)
    return walls


def row(name: str, values: list[float], baseline: float | None, target: float | None) -> str:
    median, worst = statistics.median(values), max(values)
    cells = f"{name:<32}{median:>9.3f}{worst:>9.3f}"
    cells += f"{baseline:>11.3f}" if baseline is not None else f"{'—':>11}"
    if target is not None:
        cells += f"{target:>9.2f}   {'met' if median <= target else 'NOT met'} (median)"
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", type=int, default=0, help="0: the 20-plant demo")
    parser.add_argument("--days", type=int, default=1095)
    parser.add_argument("--edits", type=int, default=5)
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        raise SystemExit(f"{CHROMIUM} is needed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="gh-bench-serve-"))
    load_before = os.getloadavg()
    try:
        site = make_site(root, args.projects, args.days)
        serve = Serve(site)
        results: dict[str, list[float]] = {}
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page()
                page.add_init_script(UNLOAD_HOOK)
                page.goto(serve.url + "projects/sprig/")
                poll(page, LOADED)
                sprig = site / "content/projects/sprig.md"
                original = sprig.read_text()
                template = site / "site_templates" / "project.html"
                theme = (REPO / "greenhouse/site/theme/templates/project.html").read_text()
                for n in range(1, args.edits + 1):
                    edited = original.replace("Just planted.", f"Just planted, edit {n}.")
                    trigger, loaded = reload_after(
                        page, lambda e=edited: sprig.write_text(e), f"edit {n}."
                    )
                    results.setdefault("content edit -> reload triggered", []).append(trigger)
                    results.setdefault("content edit -> reloaded", []).append(loaded)
                for n in range(1, args.edits + 1):
                    marked = theme.replace(
                        "{% block main %}", f"{{% block main %}}<p>template edit {n}</p>", 1
                    )
                    _, loaded = reload_after(
                        page, lambda m=marked: template.write_text(m), f"template edit {n}<"
                    )
                    results.setdefault("template edit -> reloaded", []).append(loaded)
                stylesheet = site / "site_templates" / "static" / "garden.css"
                for n in range(1, args.edits + 1):
                    results.setdefault("stylesheet edit -> swapped", []).append(
                        css_after(page, stylesheet, 10 + n)
                    )
                browser.close()
        finally:
            serve.stop()
        builds = [line for line in serve.log if line.startswith("built ")]
        template_builds = builds[-args.edits :]
        simulated = [line for line in template_builds if "garden reused" not in line]
        baseline = forced_build_seconds(site, 3)
        plants = next((line.split()[1] for line in builds), "?")
        print(
            f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
            f"Python {platform.python_version()}; load average before "
            f"{load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}"
        )
        print(f"site: {plants} plants; {args.edits} edits of each kind; seconds")
        print(f"{'edit':<32}{'median':>9}{'worst':>9}{'baseline¹':>11}{'target':>9}")
        big = 1 if args.projects >= 1000 else 0
        forced = statistics.median(baseline)
        for name, values in results.items():
            target = TARGETS.get(name)
            base = forced if "stylesheet" not in name else None
            print(row(name, values, base, target[big] if target else None))
        print(
            "template edits that grew the garden again (target 0): "
            f"{len(simulated)} of {len(template_builds)}"
        )
        print("¹ baseline: a forced full build (greenhouse build --offline --force), median of 3")
        print("serve's own log of the last builds:")
        for line in builds[-3:]:
            print("  " + line.rstrip())
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
