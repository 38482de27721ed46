"""The default theme in a real browser: Debian's Chromium driven by Playwright.

Real things only: bundles built by the real ``build``, served by a real local
HTTP server; a real websockets server speaking the presence protocol; the real
``greenhouse serve`` in a subprocess. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest

from tests.browser.conftest import build_site, make_site
from tests.browser.pages import frames, garden_doc, garden_state, spot_of, until, wait_for_garden
from tests.conftest import FIXED_EPOCH, REPO

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

ARTIFACTS = REPO / "tests" / "artifacts"
EVIL = "<img src=x onerror=alert(1)>"
EVIL_SCRIPT = "</script><script>alert(2)</script>"


@pytest.fixture(scope="module")
def demo_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_site(make_site(tmp_path_factory.mktemp("demo") / "site"))


@pytest.fixture(scope="module")
def demo_url(demo_bundle: Path, static_server: Any) -> str:
    return static_server(demo_bundle)


# -- the garden -------------------------------------------------------------


def test_garden_draws_every_plant_locally_without_errors(
    browser: Any, demo_bundle: Path, demo_url: str
) -> None:
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(demo_url)
    wait_for_garden(page)
    until(page, "document.querySelector('greenhouse-garden').state.running === false")
    left_alone = frames(page)
    page.wait_for_timeout(500)
    assert frames(page) == left_alone  # nobody is looking: nothing moves, nothing is drawn
    box = page.locator("greenhouse-garden canvas").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 40, box["y"] + 40)  # a visitor points at it: it comes alive
    page.wait_for_timeout(400)
    garden = garden_state(page)
    plants = garden_doc(demo_bundle)["plants"]
    assert garden["plants"] == len(plants) > 0
    assert garden["drawn"] == len(plants)
    drawn = page.evaluate(
        "document.querySelector('greenhouse-garden').plants.filter(p => p.sprite).map(p => p.id)"
    )
    assert set(drawn) == {p["id"] for p in plants}  # every plant from its sprite
    assert garden["frames"] > left_alone + 5 and garden["running"]  # animated, motion welcome
    assert page.locator("greenhouse-garden canvas").get_attribute("aria-hidden") == "true"
    assert page.locator("greenhouse-garden svg.map").is_hidden()  # the fallback gave way
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#scene").screenshot(path=str(ARTIFACTS / "garden.png"))
    (ARTIFACTS / "first-render.json").write_text(json.dumps({"ms": garden["firstFrame"]}))
    print(f"time to first render: {garden['firstFrame']:.0f} ms")
    assert garden["firstFrame"] < 5000

    # the time-lapse drives the scene from keyframes and deltas: the first snapshot has fewer plants
    history = json.loads((demo_bundle / "api/v1/garden/history/index.json").read_text())
    first = history["snapshots"][0]
    page.locator("greenhouse-garden input[type=range]").wait_for()
    page.eval_on_selector(
        "greenhouse-garden >> input[type=range]",
        "el => { el.value = '0'; el.dispatchEvent(new Event('input')); }",
    )
    until(
        page,
        f"document.querySelector('greenhouse-garden').state.snapshot === {json.dumps(first['date'])}",
    )
    until(page, f"document.querySelector('greenhouse-garden').state.drawn === {first['plants']}")
    assert page.locator("greenhouse-garden output").text_content() == first["date"]
    page.locator("greenhouse-garden button").click()
    until(
        page,
        "document.querySelector('greenhouse-garden').state.snapshot !== "
        + json.dumps(first["date"]),
    )
    loaded = [u for u in requests if "/api/v1/garden/" in u]
    assert not any("/history/" in u or u.endswith("garden/index.json") for u in loaded), loaded

    assert errors == []
    hosts = {urlsplit(u).hostname for u in requests if not u.startswith("data:")}
    assert hosts == {"127.0.0.1"}, requests
    page.close()


def test_click_on_a_plant_opens_its_page(browser: Any, demo_url: str) -> None:
    context = browser.new_context(reduced_motion="reduce", viewport={"width": 1000, "height": 700})
    page = context.new_page()
    page.goto(demo_url)
    wait_for_garden(page)
    # a few frames finish the sprites, then no frame at all while nothing moves
    until(page, "document.querySelector('greenhouse-garden').state.running === false")
    drawn = frames(page)
    page.wait_for_timeout(500)
    assert frames(page) == drawn
    ids = page.evaluate("document.querySelector('greenhouse-garden').plants.map(p => p.id)")
    target = ids[0]
    spot = spot_of(page, target)
    assert spot is not None
    box = page.locator("greenhouse-garden canvas").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + spot[0], box["y"] + spot[1])
    until(page, f"document.querySelector('greenhouse-garden').state.hover === {json.dumps(target)}")
    tip = page.locator("greenhouse-garden .tip")
    assert tip.is_visible() and tip.text_content().startswith(
        page.evaluate(
            f"document.querySelector('greenhouse-garden').byId[{json.dumps(target)}].name"
        )
    )
    page.mouse.click(box["x"] + spot[0], box["y"] + spot[1])
    page.wait_for_url(f"**/projects/{target}/")
    assert page.locator("article").get_attribute("data-project") == target
    context.close()


def test_without_javascript_the_map_and_list_work_and_nothing_is_dead(
    browser: Any, demo_bundle: Path, demo_url: str
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(demo_url)
    plants = garden_doc(demo_bundle)["plants"]
    assert page.locator("ul.plants li").count() == len(plants)  # 20 plants: one page
    assert page.locator("greenhouse-garden svg.map circle").count() == len(plants)
    assert page.locator("greenhouse-garden svg.map").is_visible()
    assert page.locator("greenhouse-garden canvas").count() == 0
    for plant in plants:
        assert page.locator(f"ul.plants a[href$='/projects/{plant['id']}/']").count() == 1
    # nothing that does nothing: no button, slider or hidden help takes focus or shows
    assert page.locator("button, input, select, textarea").count() == 0
    assert page.locator("#garden-keys").is_hidden()
    tabbable = page.evaluate(
        """() => [...document.querySelectorAll('a[href], button, input, [tabindex]')]
            .filter(e => e.tabIndex >= 0).map(e => e.tagName)"""
    )
    assert set(tabbable) == {"A"}
    context.close()


def test_hostile_text_stays_text(browser: Any, tmp_path: Path, static_server: Any) -> None:
    site = make_site(tmp_path / "evil")
    (site / "content/projects/evil.md").write_text(
        "+++\n"
        f"title = {json.dumps(EVIL)}\n"
        f"description = {json.dumps(EVIL_SCRIPT + EVIL)}\n"
        'skills = ["<svg onload=alert(3)>"]\n'
        "+++\n"
        f"Body {EVIL} <script>alert(4)</script> [x](javascript:alert(5))\n"
    )
    url = static_server(build_site(site))
    # still plants: a spot measured while sprites are still arriving, or while the plants
    # sway, can be off the plant by the time the pointer gets there (seen once in CI)
    context = browser.new_context(reduced_motion="reduce")
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    wait_for_garden(page)
    assert EVIL in page.locator("ul.plants").inner_text()
    # point at the plant so the canvas tooltip shows its name
    until(page, "document.querySelector('greenhouse-garden').state.running === false")
    spot = spot_of(page, "evil")
    box = page.locator("greenhouse-garden canvas").bounding_box()
    assert spot is not None and box is not None
    page.mouse.move(box["x"] + spot[0], box["y"] + spot[1])
    until(page, "document.querySelector('greenhouse-garden').state.hover === 'evil'")
    assert EVIL in page.locator("greenhouse-garden .tip").inner_text()
    for path in ("projects/evil/", "skills/"):
        page.goto(url + path)
        page.wait_for_load_state("load")
    response = page.goto(url + "projects/evil/")
    assert response is not None
    assert EVIL_SCRIPT not in response.text() and EVIL not in response.text()
    assert EVIL_SCRIPT + EVIL in page.locator(".lede").inner_text()  # shown as text
    assert EVIL in page.locator("h1").inner_text()
    assert page.locator("[onerror], [onload], a[href^=javascript]").count() == 0
    assert page.locator("script").count() == 1  # garden.js only
    assert dialogs == []
    context.close()


# -- live presence ----------------------------------------------------------


class FakeSidecar:
    """A tiny presence server on port 0: welcome on connect, presence after each view."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: Any = None

    async def handler(self, ws: Any) -> None:
        await ws.send(json.dumps({"type": "welcome", "visitors": 1, "projects": {}}))
        async for raw in ws:
            message = json.loads(raw)
            self.received.append(message)
            if message.get("type") == "view" and message.get("project") is None:
                frame = {"type": "presence", "visitors": 2, "projects": {"sprig": 2}}
                await ws.send(json.dumps(frame))

    async def _start(self) -> None:
        from websockets.asyncio.server import serve

        self.server = await serve(self.handler, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    def stop(self) -> None:
        async def close() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def test_presence_appears_and_goes_away_cleanly(
    browser: Any, tmp_path: Path, static_server: Any
) -> None:
    sidecar = FakeSidecar()
    sidecar.start()
    try:
        live = f"ws://127.0.0.1:{sidecar.port}/ws/garden"
        url = static_server(build_site(make_site(tmp_path / "live", f'\n[live]\nurl = "{live}"\n')))
        page = browser.new_page()
        page.goto(url)
        wait_for_garden(page)
        until(page, "document.getElementById('presence').textContent.includes('2 people')")
        assert "2 at Sprig" in page.locator("#presence").text_content()
        until(page, "document.querySelector('greenhouse-garden').state.watched.sprig === 2")
        assert {"type": "view", "project": None} in sidecar.received

        # a project page says which plant it is; the repository link is an interaction
        page.goto(url + "projects/sprig/")
        until(page, "document.getElementById('presence').textContent !== ''")
        page.evaluate("window.addEventListener('click', e => e.preventDefault())")
        page.locator("[data-action=open_repo]").click()
        deadline = time.monotonic() + 5
        wanted = {"type": "interact", "project": "sprig", "action": "open_repo"}
        while wanted not in sidecar.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert wanted in sidecar.received
        assert {"type": "view", "project": "sprig"} in sidecar.received

        # Global Privacy Control: presence is shown, nothing is sent
        private = browser.new_page()
        private.add_init_script(
            "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
        )
        before = len(sidecar.received)
        private.goto(url)
        until(private, "document.getElementById('presence').textContent !== ''")
        private.wait_for_timeout(300)
        assert len(sidecar.received) == before
        private.close()
        page.goto(url)
        wait_for_garden(page)  # drawn is the last frame's count: wait for a frame, not a message
        until(page, "document.querySelector('greenhouse-garden').state.watched.sprig === 2")
    finally:
        sidecar.stop()
    # the sidecar is gone: presence disappears, the garden keeps working
    until(page, "document.getElementById('presence').textContent === ''")
    until(
        page, "Object.keys(document.querySelector('greenhouse-garden').state.watched).length === 0"
    )
    assert garden_state(page)["drawn"] > 0
    page.close()


# -- greenhouse serve -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_reloads_and_shows_build_errors(browser: Any, tmp_path: Path) -> None:
    site = make_site(tmp_path / "served")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "greenhouse", "serve", "--root", str(site), "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "SOURCE_DATE_EPOCH": FIXED_EPOCH},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urlopen(url, timeout=2) as response:
                    assert b"/__greenhouse/reload.js" in response.read()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        # made early: a file written into a folder created a moment before can beat inotify
        styles = site / "site_templates" / "static"
        styles.mkdir(parents=True)
        page = browser.new_page()
        page.goto(url + "projects/sprig/")
        sprig = site / "content/projects/sprig.md"
        good = sprig.read_text()
        started = time.monotonic()
        sprig.write_text(good.replace("A just-planted idea", "A freshly edited idea"))
        until(
            page,
            "(document.querySelector('.lede') || {}).textContent?.includes('freshly edited')",
            timeout=15000,
        )
        print(f"serve: edit to reloaded page in {time.monotonic() - started:.2f}s")

        # a stylesheet alone is swapped in place, without a reload
        page.evaluate("window.__stayed = true")
        (styles / "garden.css").write_text("body{background:rgb(1, 2, 3)}\n")
        until(page, "getComputedStyle(document.body).backgroundColor === 'rgb(1, 2, 3)'")
        assert page.evaluate("window.__stayed === true")

        sprig.write_text("+++\ntitle = \n+++\nbroken\n")
        overlay = page.locator("#greenhouse-error")
        overlay.wait_for(timeout=15000)
        assert "sprig.md:2" in overlay.inner_text()
        assert "title =" in overlay.inner_text()
        assert "freshly edited" in page.locator(".lede").text_content()  # last good site

        sprig.write_text(good)
        overlay.wait_for(state="detached", timeout=15000)
        until(page, "(document.querySelector('.lede') || {}).textContent?.includes('just-planted')")
        page.close()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            print(proc.stdout.read())  # shown when the test fails
            proc.stdout.close()


def test_built_bundle_has_no_reload_script(demo_bundle: Path) -> None:
    for page in demo_bundle.rglob("*.html"):
        assert "__greenhouse" not in page.read_text()
