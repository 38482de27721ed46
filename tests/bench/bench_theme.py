"""Theme benchmark: the garden page at 20, 230 and 1,000 plants, beside the 0.1 theme.

    uv sync --extra test && python tests/bench/bench_theme.py [--sizes 20,230,1000] [--seconds 5]
    # with Lighthouse too: npm ci --prefix tests/bench/tools, then add --lighthouse

Each size is one demo garden (`[demo] projects = N - 8, days = 1095`, the 8 content
projects included), built twice from the same DuckDB file: with the current theme, and
with the 0.1 theme as `site_templates/` (its templates and static files read from git at
the commit 0.1 was released from, BASELINE below). Both bundles are served by a plain
local HTTP server (no compression) and opened in Debian's Chromium, headless, software
rendering (`--disable-gpu`), desktop viewport 1100x800. Measured for each:

* first-load bytes: every response body fetched by the index until the network is idle
  (the time-lapse is not played);
* alone: main-thread ms per second after load, motion allowed, nobody touching the page;
* fps: requestAnimationFrame callbacks per second over --seconds, motion allowed, the
  pointer resting on the garden (the current theme animates while a visitor is with it);
* main-thread and script ms per frame: CDP Performance.getMetrics (TaskDuration,
  ScriptDuration) over the same window, divided by the frames;
* reduced, offscreen: main-thread ms per second with reduced motion once drawn, and
  with motion allowed but the garden scrolled out of view;
* blocking time: Lighthouse-style total blocking time (sum over main-thread tasks of
  their time past 50 ms, from first contentful paint for 10 s), from Chromium's own
  trace, with the CPU slowed 4x as Lighthouse's mobile preset does;
* with --lighthouse: Lighthouse's mobile performance score and TBT (CHROME_PATH=/usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
#: main when this work began: release 0.1.0's theme (templates and static files).
BASELINE = "c8dc956"
THEME = "greenhouse/site/theme"
CHROMIUM = "/usr/bin/chromium"
LIGHTHOUSE = REPO / "tests" / "bench" / "tools" / "node_modules" / ".bin" / "lighthouse"
CURATED = 8  # content/projects/*.md


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(folder: Path) -> tuple[str, ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}/", httpd


def old_theme(into: Path) -> None:
    """The 0.1 theme, from git, as a site's template overrides."""
    listing = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", BASELINE, THEME],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for path in listing:
        data = subprocess.run(
            ["git", "show", f"{BASELINE}:{path}"], cwd=REPO, check=True, capture_output=True
        ).stdout
        inside = Path(path).relative_to(THEME)  # templates/x.html or static/y.js
        target = into / (
            inside.relative_to("templates") if inside.parts[0] == "templates" else inside
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def build(site: Path, output: Path) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1767225600", "PYTHONPATH": str(REPO)}
    subprocess.run(
        [sys.executable, "-m", "greenhouse", "build", "--offline", "--force", "--root", str(site)]
        + ["--output", str(output)],
        check=True,
        env=env,
        capture_output=True,
    )


def gardens(root: Path, size: int) -> dict[str, Path]:
    """The same garden built with the current theme and with 0.1's."""
    site = root / f"site-{size}"
    shutil.copytree(REPO / "content", site / "content")
    (site / "greenhouse.toml").write_text(
        '[site]\ntitle = "Bench garden"\nbase_url = "http://localhost:8000/"\n'
        f"[demo]\nenabled = true\nseed = 7\ndays = 1095\nprojects = {max(0, size - CURATED)}\n"
        '[weather]\nprovider = "none"\n'
    )
    build(site, root / f"new-{size}")
    old_theme(site / "site_templates")
    build(site, root / f"old-{size}")
    return {"0.1": root / f"old-{size}", "now": root / f"new-{size}"}


def metrics(cdp: Any) -> dict[str, float]:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


COUNT_FRAMES = """() => new Promise(done => { let n = 0, t0 = performance.now();
  (function tick(t) { n++; if (t - t0 < %d) requestAnimationFrame(tick); else done(n / ((t - t0) / 1000)); })(t0); })"""


def load(browser: Any, url: str, **context: Any) -> tuple[Any, Any, int]:
    ctx = browser.new_context(viewport={"width": 1100, "height": 800}, **context)
    page = ctx.new_page()
    sizes: list[int] = []
    page.on("requestfinished", lambda r: sizes.append(r.sizes()["responseBodySize"]))
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1000)
    return ctx, page, sum(sizes)


def measure(browser: Any, url: str, seconds: float) -> dict[str, float]:
    ctx, page, first = load(browser, url)
    cdp = ctx.new_cdp_session(page)
    cdp.send("Performance.enable")
    before = metrics(cdp)
    page.wait_for_timeout(2000)  # nobody touches the page
    alone = (metrics(cdp)["TaskDuration"] - before["TaskDuration"]) * 1000 / 2
    box = page.locator("#scene").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 20)  # a visitor points at the garden
    page.wait_for_timeout(300)
    before = metrics(cdp)
    fps = page.evaluate(COUNT_FRAMES % int(seconds * 1000))
    after = metrics(cdp)
    frames = fps * seconds
    task = (after["TaskDuration"] - before["TaskDuration"]) * 1000 / frames
    script = (after["ScriptDuration"] - before["ScriptDuration"]) * 1000 / frames
    # scrolled away: what the page costs per second while the garden is out of view
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_timeout(500)
    before = metrics(cdp)
    page.wait_for_timeout(2000)
    offscreen = (metrics(cdp)["TaskDuration"] - before["TaskDuration"]) * 1000 / 2
    ctx.close()
    ctx, page, _ = load(browser, url, reduced_motion="reduce")
    cdp = ctx.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.wait_for_timeout(1000)
    before = metrics(cdp)
    page.wait_for_timeout(2000)
    still = (metrics(cdp)["TaskDuration"] - before["TaskDuration"]) * 1000 / 2
    ctx.close()
    return {
        "kib": first / 1024,
        "fps": fps,
        "task": task,
        "script": script,
        "still": still,
        "alone": alone,
        "offscreen": offscreen,
        "tbt": blocking_time(browser, url),
    }


def blocking_time(browser: Any, url: str, slowdown: float = 4.0, window: float = 10.0) -> float:
    """Total blocking time from Chromium's trace, CPU slowed as Lighthouse's mobile preset."""
    ctx = browser.new_context(viewport={"width": 412, "height": 823}, device_scale_factor=1.75)
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": slowdown})
    trace = Path(tempfile.mkstemp(suffix=".json")[1])
    browser.start_tracing(
        page=page,
        path=str(trace),
        categories=[
            "toplevel",
            "devtools.timeline",
            "disabled-by-default-devtools.timeline",
            "loading",
        ],
    )
    page.goto(url)
    page.wait_for_timeout(window * 1000 + 1000)
    browser.stop_tracing()
    ctx.close()
    events = json.loads(trace.read_text())
    events = events["traceEvents"] if isinstance(events, dict) else events
    trace.unlink()
    main = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("name") == "thread_name" and e.get("args", {}).get("name") == "CrRendererMain"
    }
    fcp = [e["ts"] for e in events if e.get("name") == "firstContentfulPaint"]
    start = min(fcp) if fcp else min(e["ts"] for e in events if e.get("ts"))
    total = 0.0
    for e in events:
        if e.get("name") != "RunTask" or (e.get("pid"), e.get("tid")) not in main:
            continue
        if e.get("ts", 0) < start or e["ts"] > start + window * 1e6:
            continue
        total += max(0.0, e.get("dur", 0) / 1000 - 50)
    return total


def lighthouse(url: str) -> tuple[float, float] | None:
    """Lighthouse's mobile performance score (0-100) and total blocking time (ms)."""
    if not LIGHTHOUSE.exists():
        return None
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    subprocess.run(
        [str(LIGHTHOUSE), url, "--only-categories=performance", "--output=json"]
        + [f"--output-path={out}", "--quiet", "--chrome-flags=--headless=new --no-sandbox"],
        env={**os.environ, "CHROME_PATH": CHROMIUM},
        check=True,
        capture_output=True,
    )
    report = json.loads(out.read_text())
    out.unlink()
    return (
        report["categories"]["performance"]["score"] * 100,
        report["audits"]["total-blocking-time"]["numericValue"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="20,230,1000")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--lighthouse", action="store_true", help="run Lighthouse too")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="gh-theme-bench-"))
    load_avg = os.getloadavg()
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
        f"load {load_avg[0]:.1f}; Chromium {CHROMIUM} headless, --disable-gpu; baseline 0.1 = {BASELINE}"
    )
    element = (REPO / THEME / "static/greenhouse-garden.js").read_bytes()
    print(
        f"greenhouse-garden.js: {len(element) / 1024:.1f} KiB, "
        f"{len(gzip.compress(element, 9)) / 1024:.1f} KiB gzipped"
    )
    head = (
        f"{'plants':>6} {'theme':>5} {'first KiB':>9} {'fps':>5} {'task ms/f':>9} "
        f"{'script ms/f':>11} {'alone ms/s':>10} {'reduced ms/s':>12} {'offscreen ms/s':>14} {'TBT ms (4x)':>11}"
    )
    if args.lighthouse:
        head += f" {'LH score':>8} {'LH TBT':>7}"
    print(head)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            for size in [int(s) for s in args.sizes.split(",")]:
                for theme, bundle in gardens(root, size).items():
                    url, httpd = serve(bundle)
                    m = measure(browser, url, args.seconds)
                    row = (
                        f"{size:>6} {theme:>5} {m['kib']:>9.0f} {m['fps']:>5.1f} {m['task']:>9.1f} "
                        f"{m['script']:>11.1f} {m['alone']:>10.1f} {m['still']:>12.1f} {m['offscreen']:>14.1f} {m['tbt']:>11.0f}"
                    )
                    if args.lighthouse:
                        lh = lighthouse(url)
                        row += f" {lh[0]:>8.0f} {lh[1]:>7.0f}" if lh else "  (no lighthouse)"
                    print(row, flush=True)
                    httpd.shutdown()
                    httpd.server_close()
            browser.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
