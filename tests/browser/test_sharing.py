"""Sharing surfaces in a real browser: link-preview tags and images, README cards.

The bundle is built with its base URL on a local port *with a path*
(``/garden/``), served by a real HTTP server, and read by Debian's Chromium
through Playwright: every page's head, every image it names, and the README
cards shown as ``<img>`` the way GitHub shows them, compared with the stored
frames in ``tests/browser/expected/``. After an intended change to the
cards' drawing, redraw those with
``GREENHOUSE_UPDATE_EXPECTED=1 pytest tests/browser/test_sharing.py -k expectation``
and look at them before committing.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import struct
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image, ImageChops

from greenhouse.build import build
from greenhouse.site import cards
from tests.conftest import FIXED_EPOCH, REPO, need_in_ci

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
EXPECTED = Path(__file__).parent / "expected"
ARTIFACTS = REPO / "tests" / "artifacts"
UPDATE = bool(os.environ.get("GREENHOUSE_UPDATE_EXPECTED"))


class Quiet(SimpleHTTPRequestHandler):
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".webmanifest": "application/manifest+json",
    }

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A browser dropping a connection is not a failure worth a traceback."""


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    need_in_ci(os.path.exists(CHROMIUM), "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Any]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def still_browser(playwright: Any) -> Iterator[Any]:
    """Chromium whose user prefers reduced motion.

    Playwright's ``reduced_motion`` reaches only the page's own media queries;
    an SVG shown as ``<img>`` reads the browser's real preference, as it does
    for a visitor who asked their system for less motion.
    """
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, args=[*ARGS, "--force-prefers-reduced-motion"]
    )
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The demo site built for http://127.0.0.1:<port>/garden/ and served there."""
    root = tmp_path_factory.mktemp("sharing")
    site = root / "site"
    site.mkdir()
    (site / "greenhouse.toml").write_text((REPO / "greenhouse.toml").read_text())
    (site / "content").symlink_to(REPO / "content")
    www = root / "www"
    www.mkdir()
    httpd = LocalServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(www)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/garden/"
    old = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = FIXED_EPOCH
    try:
        build(site, offline=True, output=www / "garden", base_url=base)
    finally:
        if old is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = old
    yield base, www / "garden"
    httpd.shutdown()
    httpd.server_close()


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (after checking the signature)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def head_of(page: Any) -> dict[str, list[str]]:
    """Every meta (by property or name) and link (by rel) of the page's head, as lists."""
    found: dict[str, list[str]] = page.evaluate(
        """() => {
        const out = {};
        const add = (k, v) => { (out[k] = out[k] || []).push(v); };
        for (const m of document.head.querySelectorAll('meta[property], meta[name]'))
          add(m.getAttribute('property') || m.getAttribute('name'), m.getAttribute('content'));
        for (const l of document.head.querySelectorAll('link[rel]'))
          add('link:' + l.getAttribute('rel'), l.href);
        return out;
      }"""
    )
    return found


def test_every_page_carries_preview_tags_and_its_images_resolve(
    browser: Any, served: tuple[str, Path]
) -> None:
    base, bundle = served
    pages = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*.html"))
    assert "index.html" in pages and "404.html" in pages and len(pages) > 10
    context = browser.new_context()
    page = context.new_page()
    checked_images: dict[str, tuple[int, int]] = {}
    for relative in pages:
        url = base + relative.removesuffix("index.html")
        response = page.goto(url)
        assert response is not None and response.ok, url
        head = head_of(page)
        title = page.title()
        description = page.locator("meta[name=description]").get_attribute("content")
        for key in (
            "og:title",
            "og:description",
            "og:url",
            "og:image",
            "og:image:width",
            "og:image:height",
            "og:image:alt",
            "twitter:card",
            "link:canonical",
            "link:manifest",
            "link:apple-touch-icon",
            "theme-color",
        ):
            assert head.get(key), f"{relative}: no {key}"
        assert head["og:title"] == [title]
        assert head["og:description"] == [description]
        assert head["twitter:card"] == ["summary_large_image"]
        assert (head["og:image:width"], head["og:image:height"]) == (["1200"], ["630"])
        assert head["og:image:alt"][0].strip()
        assert len(head["theme-color"]) == 2  # light and dark
        canonical = head["link:canonical"][0]
        assert head["og:url"] == [canonical]
        if relative == "404.html":
            assert canonical == base + "404.html" and head["robots"] == ["noindex"]
        else:
            assert canonical == url, (relative, canonical)
        for absolute in (canonical, head["og:image"][0]):
            assert absolute.startswith(base), (
                relative,
                absolute,
            )  # absolute, under base_url's path
        if relative.startswith("projects/"):
            plant = relative.split("/")[1]
            assert head["og:image"] == [f"{base}static/og/projects/{plant}.png"]
            assert (
                plant in head["og:image:alt"][0]
                or page.locator("h1").inner_text() in head["og:image:alt"][0]
            )
        else:
            assert head["og:image"] == [f"{base}static/og/garden.png"]
        images = {head["og:image"][0]: (1200, 630), head["link:apple-touch-icon"][0]: (180, 180)}
        for image, size in images.items():
            if image not in checked_images:
                got = page.request.get(image)
                assert got.ok and got.headers["content-type"] == "image/png", image
                checked_images[image] = png_size(got.body())
            assert checked_images[image] == size, image
        manifest = page.request.get(head["link:manifest"][0])
        assert manifest.ok
    # The manifest's icons resolve too, at the sizes it claims.
    doc = json.loads(page.request.get(base + "manifest.webmanifest").text())
    assert doc["start_url"] == urlsplit(base).path and doc["icons"]
    for icon in doc["icons"]:
        got = page.request.get(urlsplit(base)._replace(path=icon["src"]).geturl())
        assert got.ok, icon
        if icon["type"] == "image/png":
            width, height = png_size(got.body())
            assert f"{width}x{height}" == icon["sizes"]
    assert len(checked_images) == len([p for p in pages if p.startswith("projects/")]) + 2
    context.close()


# -- README cards ---------------------------------------------------------------


def fixed_garden(count: int) -> list[dict[str, Any]]:
    """A garden that never changes with the growth model: the card is what is tested."""
    species = [
        "fern",
        "oak",
        "rose",
        "cactus",
        "pine",
        "sunflower",
        "bamboo",
        "lavender",
        "ivy",
        "moss",
    ]
    stages = ["seed", "sprout", "sapling", "blooming", "mature", "dormant"]
    return [
        {
            "id": f"plant-{i}",
            "name": f"Plant {i}",
            "species": species[i % len(species)],
            "stage": stages[(i * 7) % len(stages)],
            "growth": (i * 37 % 100) / 100,
            "health": (i * 53 % 100) / 100,
            "position": {"x": (i * 13) % 29, "y": 0, "z": (i * 7) % 17},
            "metrics": {"stars": i * 3, "commits_30d": i, "views_30d": i * 2},
        }
        for i in range(count)
    ]


def card_frame(browser: Any, svg: str, scheme: str, motion: str = "reduce") -> Image.Image:
    """The card as an ``<img>`` on a page, the way GitHub shows it; returns one frame."""
    context = browser.new_context(
        color_scheme=scheme, reduced_motion=motion, viewport={"width": 900, "height": 500}
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    source = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    page.set_content(f'<body style="margin:0"><img id="card" src="{source}"></body>')
    page.wait_for_function("document.getElementById('card').complete")
    size = page.evaluate(
        "[document.getElementById('card').naturalWidth, document.getElementById('card').naturalHeight]"
    )
    frame = Image.open(io.BytesIO(page.locator("#card").screenshot())).convert("RGB")
    context.close()
    assert errors == []
    assert size[0] > 0 and size[1] > 0, "the card did not render"
    return frame


def compare(frame: Image.Image, name: str) -> None:
    """Within a tolerance of the stored expectation (fonts and anti-aliasing may differ a little)."""
    ARTIFACTS.mkdir(exist_ok=True)
    frame.save(ARTIFACTS / name)
    expected_path = EXPECTED / name
    if UPDATE or not expected_path.exists():
        if os.environ.get("CI") and not UPDATE:
            pytest.fail(f"{expected_path} is missing")
        EXPECTED.mkdir(exist_ok=True)
        frame.save(expected_path, optimize=True)
    expected = Image.open(expected_path).convert("RGB")
    assert frame.size == expected.size
    # The largest difference of any channel, per pixel: a colour change shows even where the
    # brightness barely moves. Rendering on the same kind of machine gives 0 almost everywhere;
    # the tolerance is for anti-aliasing and font hinting, not for a changed drawing.
    channels = ImageChops.difference(frame, expected).split()
    diff = functools.reduce(ImageChops.lighter, channels)
    histogram = diff.histogram()
    pixels = frame.width * frame.height
    mean = sum(i * c for i, c in enumerate(histogram)) / pixels
    far = sum(histogram[48:]) / pixels
    assert mean < 1.5 and far < 0.002, (
        f"{name}: mean difference {mean:.2f}, {far:.2%} of pixels far off"
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_garden_card_renders_as_an_image_like_its_expectation(
    still_browser: Any, scheme: str
) -> None:
    plants = fixed_garden(60)
    stages: dict[str, int] = {}
    for plant in plants:
        stages[plant["stage"]] = stages.get(plant["stage"], 0) + 1
    svg = cards.garden_card("A fixed garden", plants, {"condition": "rainy"}, stages, "2026-01-01")
    frame = card_frame(still_browser, svg, scheme)
    assert frame.size == cards.GARDEN_SIZE
    compare(frame, f"garden-card-{scheme}.png")


def test_plant_card_renders_as_an_image_like_its_expectation(still_browser: Any) -> None:
    plant = fixed_garden(4)[3]
    svg = cards.plant_card(plant, {"condition": "sunny"})
    frame = card_frame(still_browser, svg, "light")
    assert frame.size == cards.PLANT_SIZE
    compare(frame, "plant-card-light.png")


def test_cards_move_unless_motion_is_reduced(
    browser: Any, still_browser: Any, served: tuple[str, Path]
) -> None:
    _, bundle = served
    svg = (bundle / "garden.svg").read_text()
    context = browser.new_context(viewport={"width": 900, "height": 500})
    page = context.new_page()
    source = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    page.set_content(f'<body style="margin:0"><img id="card" src="{source}"></body>')
    page.wait_for_function("document.getElementById('card').complete")
    first = Image.open(io.BytesIO(page.locator("#card").screenshot())).convert("RGB")
    page.wait_for_timeout(900)
    second = Image.open(io.BytesIO(page.locator("#card").screenshot())).convert("RGB")
    context.close()
    assert ImageChops.difference(first, second).getbbox() is not None, "the card does not move"
    still = []
    for _ in range(2):
        still.append(card_frame(still_browser, svg, "light"))
        time.sleep(0.5)
    assert ImageChops.difference(still[0], still[1]).getbbox() is None, "reduced motion still moves"
