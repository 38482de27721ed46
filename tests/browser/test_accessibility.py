"""Accessibility of every page type: axe-core (vendored from npm), the keyboard, focus, dark mode.

axe-core runs from ``tests/tools/node_modules`` (``npm ci --prefix tests/tools``),
injected into each page; the pages' CSP forbids inline scripts, so these
contexts bypass CSP for the injection only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.browser.conftest import AXE, build_site, make_site, without
from tests.browser.pages import (
    GARDEN,
    contrast,
    distinct_colours,
    frames,
    image,
    luminance,
    pixels,
    until,
    wait_for_garden,
)
from tests.conftest import need_in_ci

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

#: A garden of 30 plants, 6 to a page: the index and a second page of the plant list.
PAGED = (
    "\n[build]\nper_page = 6\n[analytics]\npublish = true\n[demo]\nenabled = true\nprojects = 22\n"
)


@pytest.fixture(scope="module")
def paged_url(tmp_path_factory: pytest.TempPathFactory, static_server: Any) -> str:
    site = make_site(tmp_path_factory.mktemp("paged") / "site")
    (site / "greenhouse.toml").write_text(without(site, "demo", "analytics") + PAGED)
    return static_server(build_site(site))


PAGES = ["", "plants/2/", "projects/sprig/", "skills/", "analytics/", "404.html"]


@pytest.fixture(scope="module")
def axe_source() -> str:
    need_in_ci(AXE.exists(), "axe-core (npm ci --prefix tests/tools)")
    return AXE.read_text()


def axe(page: Any, source: str) -> list[dict[str, Any]]:
    """Violations axe-core finds on the page as it stands (WCAG 2.2 A and AA, best practices)."""
    result = page.evaluate(
        """async (source) => {
          new Function(source).call(window);
          const r = await window.axe.run(document, {resultTypes: ['violations']});
          return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
        }""",
        source,
    )
    return list(result)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_axe_finds_nothing_on_any_page(
    browser: Any, paged_url: str, axe_source: str, scheme: str, javascript: bool
) -> None:
    context = browser.new_context(color_scheme=scheme, bypass_csp=True, reduced_motion="reduce")
    if not javascript:
        # The page as a visitor without JavaScript gets it: the theme's scripts never run, and
        # <noscript> content is part of the document. (axe itself needs JavaScript, so scripting
        # stays on for it; the document is served with its <noscript> tags unwrapped.)
        def no_js(route: Any) -> None:
            request = route.request
            if request.resource_type == "script":
                route.abort()
            elif request.resource_type == "document":
                response = route.fetch()
                html = response.text().replace("<noscript>", "").replace("</noscript>", "")
                route.fulfill(response=response, body=html)
            else:
                route.continue_()

        context.route("**/*", no_js)
    page = context.new_page()
    found = {}
    for path in PAGES:
        page.goto(paged_url + path)
        if javascript and path == "":
            wait_for_garden(page)
        elif javascript:
            page.wait_for_load_state("load")
        violations = axe(page, axe_source)
        if violations:
            found[path or "index"] = violations
    assert found == {}, json.dumps(found, indent=1)
    context.close()


def test_keyboard_orbits_zooms_and_focus_never_blanks_the_garden(
    browser: Any, paged_url: str
) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 800}, reduced_motion="reduce")
    page = context.new_page()
    page.goto(paged_url)
    wait_for_garden(page)
    until(page, f"{GARDEN}.state.running === false")
    scene = page.locator("#scene")
    before = image(scene.screenshot())
    assert distinct_colours(before) > 200

    # Tab from the top of the page: skip links, header, then the garden itself (one Tab stop)
    stops = []
    for _ in range(12):
        page.keyboard.press("Tab")
        stops.append(
            page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()")
        )
        if stops[-1] == "scene":
            break
    assert "Skip the garden" in stops and stops[-1] == "scene", stops
    box_scroll = page.evaluate(
        "[document.querySelector('#scene').scrollTop, document.querySelector('#scene').scrollLeft]"
    )
    assert box_scroll == [0, 0]
    focused = image(scene.screenshot())
    assert distinct_colours(focused) > 200  # the canvas is drawn, not blank
    changed = int((pixels(before) != pixels(focused)).any(axis=1).sum())
    assert changed < before.width * before.height * 0.05  # only the focus outline appeared

    # on through the garden's own stops (the time-lapse) to the plant list: nothing inside the
    # garden's box scrolls it (0.1 scrolled its canvas away, link by link), the canvas stays drawn
    where = """() => { const s = document.querySelector('#scene'), v = s.shadowRoot.querySelector('.view');
      return [s.scrollTop, s.scrollLeft, v.scrollTop, Math.round(v.getBoundingClientRect().top - s.getBoundingClientRect().top)]; }"""
    resting = page.evaluate(where)
    scrolls = []
    for _ in range(10):
        page.keyboard.press("Tab")
        scrolls.append(page.evaluate(where))
        if page.evaluate("!!document.activeElement.closest('ul.plants')"):
            break
    assert page.evaluate("!!document.activeElement.closest('ul.plants')"), (
        "Tab never left the garden"
    )
    assert resting[:3] == [0, 0, 0] and all(s == resting for s in scrolls), scrolls
    page.evaluate("window.scrollTo(0, 0)")
    after = image(scene.screenshot())
    assert distinct_colours(after) > 200
    changed = int((pixels(before) != pixels(after)).any(axis=1).sum())
    assert changed < before.width * before.height * 0.05, changed
    scene.focus()

    # N steps to the first plant: it is lit, ringed and named, and the camera comes to it
    page.keyboard.press("n")
    until(page, f"{GARDEN}.state.focus !== null && {GARDEN}.state.running === false")
    first = page.evaluate(f"{GARDEN}.plants[0].id")
    assert page.evaluate(f"{GARDEN}.state.focus") == first
    status = page.locator("greenhouse-garden [role=status]").text_content()
    assert page.evaluate(f"{GARDEN}.plants[0].name") in status
    ringed = image(scene.screenshot())
    assert distinct_colours(ringed) > 200
    ring = (0x8A, 0x3B, 0x5C)  # the focus ring's colour, drawn in the canvas
    spot = page.evaluate(f"{GARDEN}.screenOf({json.dumps(first)})")
    left, top = int(spot["left"]), int(spot["top"])
    area = ringed.crop((max(0, left - 30), max(0, top - 30), left + 80, top + 90))
    assert (abs(pixels(area) - np.array(ring)).max(axis=1) < 40).any()
    assert page.evaluate("[document.querySelector('#scene').scrollTop, window.scrollY]")[0] == 0

    # arrows orbit, + and - zoom, 0 goes home; each redraws the garden differently
    camera = page.evaluate(f"{GARDEN}.state.camera")
    page.keyboard.press("ArrowLeft")
    until(page, f"{GARDEN}.state.camera.yaw !== {camera['yaw']}")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("+")
    until(page, f"{GARDEN}.state.running === false")
    moved = page.evaluate(f"{GARDEN}.state.camera")
    assert moved["yaw"] > camera["yaw"] and moved["pitch"] > camera["pitch"]
    assert moved["dist"] < camera["dist"]
    turned = image(scene.screenshot())
    assert distinct_colours(turned) > 200 and turned.tobytes() != ringed.tobytes()
    # the page did not scroll under the arrow keys
    assert page.evaluate("window.scrollY") == 0

    # Enter opens the focused plant
    page.keyboard.press("n")
    until(page, f"{GARDEN}.state.focus !== {json.dumps(first)}")
    second = page.evaluate(f"{GARDEN}.state.focus")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/projects/{second}/")
    context.close()


def test_tab_stops_stay_bounded_and_pages_link_up(browser: Any, paged_url: str) -> None:
    context = browser.new_context(reduced_motion="reduce")
    page = context.new_page()
    page.goto(paged_url)
    wait_for_garden(page)
    tabbable = page.evaluate(
        """() => [...document.querySelectorAll('a[href], button, input, [tabindex]')].filter(e => e.tabIndex >= 0 && e.offsetParent !== null).length"""
    )
    # header, skip links, the garden, its time-lapse (in its shadow), 6 plant cards, the pager
    assert tabbable <= 25
    assert page.locator("ul.plants li").count() == 6
    assert page.locator("nav.pager a[aria-current=page]").text_content() == "1"
    page.locator("nav.pager a[rel=next]").click()
    page.wait_for_url("**/plants/2/")
    assert page.locator("ul.plants li").count() == 6
    assert page.locator("nav.pager a[aria-current=page]").text_content() == "2"
    context.close()


@pytest.fixture
def dark_page(browser: Any, paged_url: str) -> Iterator[Any]:
    context = browser.new_context(color_scheme="dark", reduced_motion="reduce")
    page = context.new_page()
    yield page
    context.close()


def rgb_of(css: str) -> tuple[int, int, int]:
    parts = css[css.index("(") + 1 : css.index(")")].split(",")
    r, g, b = (int(float(v)) for v in parts[:3])
    return (r, g, b)


def test_dark_mode_everywhere(dark_page: Any, browser: Any, paged_url: str) -> None:
    page = dark_page
    page.goto(paged_url)
    wait_for_garden(page)
    until(page, f"{GARDEN}.state.running === false")
    assert page.evaluate("getComputedStyle(document.documentElement).colorScheme") == "light dark"
    banner = page.locator(".demo-banner")
    assert luminance(rgb_of(banner.evaluate("e => getComputedStyle(e).backgroundColor"))) < 0.1
    # the canvas: a night sky above, dark ground below
    shot = image(page.locator("greenhouse-garden canvas").screenshot())
    sky = shot.getpixel((5, 5))
    ground = shot.getpixel((shot.width // 2, int(shot.height * 0.8)))
    assert luminance(sky) < 0.06 and luminance(ground) < 0.1, (sky, ground)
    # every badge reads at 4.5:1 or better, in both schemes
    light = browser.new_context(color_scheme="light").new_page()
    for p in (page, light):
        p.goto(paged_url)
        badges = p.evaluate(
            """() => [...document.querySelectorAll('.badge')].map(e => {
              const s = getComputedStyle(e); return [s.color, s.backgroundColor, e.className]; })"""
        )
        assert any("pin" in b[2] for b in badges)
        for color, background, name in badges:
            assert contrast(rgb_of(color), rgb_of(background)) >= 4.5, (name, color, background)
    # and the light scheme's canvas stays a day sky
    light.goto(paged_url)
    wait_for_garden(light)
    day = image(light.locator("greenhouse-garden canvas").screenshot())
    assert luminance(day.getpixel((5, 5))) > luminance(sky) * 2
    light.context.close()


def test_skills_constellation_turns_only_on_screen_and_its_labels_never_collide(
    browser: Any, garden_of: Any, static_server: Any
) -> None:
    url = static_server(garden_of(1000))
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.goto(url + "skills/")
    assert page.locator("script[src$='static/garden.js']").count() == 1
    until(page, "!!(document.querySelector('svg.constellation').__turn)")
    until(page, "document.querySelector('svg.constellation').__turn.frames > 5")
    radii = page.evaluate(
        "[...document.querySelectorAll('svg.constellation circle')].map(c => +c.getAttribute('r'))"
    )
    assert max(radii) <= 0.55 and min(radii) >= 0.16
    page.wait_for_timeout(600)  # labels are re-placed as the sky turns

    boxes = page.evaluate(
        """() => [...document.querySelectorAll('svg.constellation g.star')]
            .filter(g => getComputedStyle(g.querySelector('text')).display !== 'none')
            .map(g => { const b = g.querySelector('text').getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; })"""
    )
    assert len(boxes) >= 5
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            overlap = (
                min(a[2], b[2]) - max(a[0], b[0]) > 0.02
                and min(a[3], b[3]) - max(a[1], b[1]) > 0.02
            )
            assert not overlap, (a, b)
    # a hidden label shows on demand: point at a star whose label is hidden
    spot = page.evaluate(
        """() => { for (const g of document.querySelectorAll('svg.constellation g.star:not(.named)')) {
            const r = g.querySelector('circle').getBoundingClientRect(), x = r.x + r.width / 2, y = r.y + r.height / 2;
            if (document.elementFromPoint(x, y) === g.querySelector('circle')) return [x, y, g.dataset.id]; } return null; }"""
    )
    assert spot is not None
    page.mouse.move(spot[0], spot[1])
    shown = page.evaluate(
        f"getComputedStyle(document.querySelector('g.star[data-id=\"{spot[2]}\"] text')).display"
    )
    assert shown != "none"

    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    until(page, "document.querySelector('svg.constellation').__turn.running === false")
    still = page.evaluate("document.querySelector('svg.constellation').__turn.frames")
    page.wait_for_timeout(500)
    assert page.evaluate("document.querySelector('svg.constellation').__turn.frames") == still
    page.close()


def test_reduced_motion_draws_no_frame_after_settling(browser: Any, paged_url: str) -> None:
    context = browser.new_context(reduced_motion="reduce")
    page = context.new_page()
    page.goto(paged_url)
    wait_for_garden(page)
    until(page, f"{GARDEN}.state.running === false")
    settled = frames(page)
    page.mouse.move(1, 1)
    page.wait_for_timeout(800)
    assert frames(page) == settled
    context.close()


def test_built_index_has_one_garden_element_and_a_skip_link(tmp_path: Path) -> None:
    bundle = build_site(make_site(tmp_path / "site"))
    html = (bundle / "index.html").read_text()
    assert html.count("<greenhouse-garden") == 1
    assert 'href="#plants-title"' in html
    assert "<a " not in html.split("<greenhouse-garden", 1)[1].split("</greenhouse-garden>")[0]
