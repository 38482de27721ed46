"""<greenhouse-garden> on someone else's page: a second local origin, CORS, the real sidecar."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from greenhouse.site import THEME
from tests.browser.conftest import build_site, make_site
from tests.browser.pages import distinct_colours, image, until
from tests.sidecar.helpers import UA, Process

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

ELEMENT = THEME / "static" / "greenhouse-garden.js"
#: The element's size budget (docs/embed.md): what a host page pays for the garden's code.
BUDGET_GZIP, BUDGET_RAW = 16 * 1024, 56 * 1024
EMBED = "document.querySelector('greenhouse-garden')"


def host_page(folder: Path, garden: str) -> Path:
    """A plain HTML page of another site that embeds the garden (no theme CSS, no CSP of ours)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.html").write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>My blog</title><link rel='icon' href='data:,'></head>\n"
        "<body><main><h1>My blog</h1><p>Here is my garden:</p>\n"
        f"<greenhouse-garden src='{garden}api/v1/' style='height:360px'>"
        f"<a href='{garden}'>My project garden</a></greenhouse-garden>\n"
        f"<script src='{garden}static/greenhouse-garden.js' defer></script>\n"
        "</main></body></html>\n"
    )
    return folder


def test_element_stays_within_its_size_budget() -> None:
    source = ELEMENT.read_bytes()
    print(f"greenhouse-garden.js: {len(source)} bytes, {len(gzip.compress(source, 9))} gzipped")
    assert len(gzip.compress(source, 9)) <= BUDGET_GZIP
    assert len(source) <= BUDGET_RAW


def test_embedded_on_another_origin_draws_with_live_presence(
    browser: Any, tmp_path: Path, static_server: Any
) -> None:
    # the garden's site on one origin (sending CORS headers), the host page on another
    site = make_site(tmp_path / "garden")
    bundle = build_site(site)
    garden = static_server(bundle, cors=True)
    host = static_server(host_page(tmp_path / "host", garden))
    origin = host.rstrip("/")
    config = site / "greenhouse.toml"
    config.write_text(
        config.read_text() + f'\n[live]\nallowed_origins = ["{origin}", "{garden.rstrip("/")}"]\n'
    )
    with Process(site, tmp_path / "sidecar.log") as sidecar:
        live = f"ws://127.0.0.1:{sidecar.port}/ws/garden"
        text = config.read_text().replace("[live]\n", f'[live]\nurl = "{live}"\n')
        config.write_text(text)
        build_site(site)  # the render feed now names the sidecar

        # a person's browser: the sidecar leaves HeadlessChrome out of presence as a bot
        people = browser.new_context(user_agent=UA, viewport={"width": 900, "height": 700})
        page = people.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(host)
        until(page, f"!!({EMBED}.state && {EMBED}.state.firstFrame !== null)", timeout=20000)
        state = page.evaluate(f"{EMBED}.state")
        plants = json.loads((bundle / "api/v1/garden/render.json").read_text())["plants"]["id"]
        assert state["plants"] == len(plants) and state["drawn"] == len(plants)
        shot = image(page.locator("greenhouse-garden").screenshot())
        assert distinct_colours(shot) > 200
        # no globals beyond the element's definition, and the host page's own content untouched
        assert page.evaluate("Object.keys(window).filter(k => /garden|greenhouse/i.test(k))") == []
        assert page.locator("h1").text_content() == "My blog"
        assert page.evaluate(f"{EMBED}.getAttribute('role')") == "application"

        # someone reads a plant's page on the garden's own site: the embed shows it watched
        reader = people.new_page()
        reader.goto(garden + "projects/sprig/")
        until(page, f"{EMBED}.state.watched.sprig >= 1", timeout=15000)
        reader.close()

        # clicking a plant opens its page on the garden's site
        spot = page.evaluate(
            f"""(() => {{ const g = {EMBED}, id = g.plants[0].id, b = g.screenOf(id);
              for (let x = b.left; x < b.right; x++) for (let y = b.top; y < b.bottom; y++)
                if (g.plantAt(x, y) === id) return [x, y, id]; return null; }})()"""
        )
        assert spot is not None
        box = page.locator("greenhouse-garden canvas").bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + spot[0], box["y"] + spot[1])
        page.wait_for_url(f"{garden}projects/{spot[2]}/")
        assert errors == [], errors
        people.close()


def test_without_cors_headers_the_fallback_stays(
    browser: Any, tmp_path: Path, static_server: Any
) -> None:
    bundle = build_site(make_site(tmp_path / "garden"))
    garden = static_server(bundle)  # a host that sends no Access-Control-Allow-Origin
    host = static_server(host_page(tmp_path / "host", garden))
    page = browser.new_page()
    page.goto(host)
    until(page, f"!!({EMBED}.state && {EMBED}.state.error)")
    assert page.locator("greenhouse-garden [role=status]").text_content() == (
        "The garden could not be loaded."
    )
    assert page.locator("greenhouse-garden > a").is_visible()  # the host's fallback link shows
    page.close()
