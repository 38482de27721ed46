"""README cards: safe behind GitHub's image proxy, small at 230 plants, readable at 1,000."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from greenhouse.build import build
from greenhouse.site import art, cards
from tests.sharing.conftest import copy_demo, demo_garden
from tests.sharing.svg_rules import SVG, problems

HOSTILE = '"><svg onload=alert(1)><script>alert(2)</script>&amp;</svg>'


@pytest.fixture(scope="module")
def hostile_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = copy_demo(tmp_path_factory.mktemp("hostile") / "site")
    (site / "content/projects/evil.md").write_text(
        f"+++\ntitle = {json.dumps(HOSTILE)}\ndescription = {json.dumps(HOSTILE)}\n+++\nBody\n"
    )
    (site / "greenhouse.toml").write_text(
        (site / "greenhouse.toml")
        .read_text()
        .replace('title = "The greenhouse demo garden"', f"title = {json.dumps('Mine ' + HOSTILE)}")
    )
    return build(site, offline=True).output


def text_sizes(svg: str) -> list[float]:
    root = ET.fromstring(svg)
    return [float(t.get("font-size", "0")) for t in root.iter(f"{SVG}text")]


def test_every_card_of_the_bundle_passes_the_sanitizer_rules(hostile_bundle: Path) -> None:
    cards_found = [hostile_bundle / "garden.svg", *hostile_bundle.glob("projects/*/plant.svg")]
    plants = json.loads((hostile_bundle / "api/v1/garden/index.json").read_text())["plants"]
    assert len(cards_found) == len(plants) + 1
    for card in cards_found:
        text = card.read_text()
        assert problems(text) == [], card
    evil = (hostile_bundle / "projects/evil/plant.svg").read_text()
    root = ET.fromstring(evil)
    assert root.find(f"{SVG}title").text == HOSTILE  # the name is text, not markup
    assert "<script" not in evil and "onload=" not in evil.replace("onload=alert", "")


def test_cards_change_colours_with_the_colour_scheme_and_still_under_reduced_motion(
    hostile_bundle: Path,
) -> None:
    text = (hostile_bundle / "garden.svg").read_text()
    style = ET.fromstring(text).find(f"{SVG}style").text
    assert "@keyframes" in style and "animation:" in style
    dark = re.search(r"@media \(prefers-color-scheme:dark\)\{(.*?)\}\}", style)
    assert dark and ".t{stop-color:" in dark.group(1) and ".ink{fill:" in dark.group(1)
    assert "@media (prefers-reduced-motion:reduce){*{animation:none!important}}" in style


@pytest.mark.parametrize(
    ("svg", "complaint"),
    [
        ('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "<script>"),
        ('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "event handler"),
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><use href="https://x.org/a.svg#p"/></svg>',
            "refers to",
        ),
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(https://x.org/a.css);</style></svg>',
            "@import",
        ),
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><style>@font-face{font-family:x;src:url(data:font/woff2;base64,AA)}</style></svg>',
            "@font-face",
        ),
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><rect fill="url(https://x.org/#g)"/></svg>',
            "url(",
        ),
        ('<svg xmlns="http://www.w3.org/2000/svg"><foreignObject/></svg>', "<foreignObject>"),
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><image href="data:image/png;base64,AA"/></svg>',
            "<image>",
        ),
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><rect><animate attributeName="x"/></rect></svg>',
            "<animate>",
        ),
        ('<svg xmlns="http://www.w3.org/2000/svg"><a href="javascript:alert(1)"/></svg>', "<a>"),
        ('<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg"/>', "DOCTYPE"),
        ('<svg xmlns="http://www.w3.org/2000/svg"><rect', "well-formed"),
    ],
)
def test_the_sanitizer_rules_catch_what_the_proxy_would_strip(svg: str, complaint: str) -> None:
    found = problems(svg)
    assert any(complaint in p for p in found), found


def test_a_230_plant_garden_card_stays_under_100_kb(tmp_path: Path) -> None:
    bundle = demo_garden(tmp_path / "site", 230, previews=False)
    card = (bundle / "garden.svg").read_bytes()
    print(f"garden.svg at 230 plants: {len(card)} bytes")
    assert len(card) <= 100_000
    assert problems(card.decode()) == []
    root = ET.fromstring(card)
    assert len(root.findall(f"{SVG}g/{SVG}use")) == 230  # every plant is drawn
    assert "230 plants" in "".join(root.itertext())
    for plant_card in list(bundle.glob("projects/*/plant.svg"))[:20]:
        assert len(plant_card.read_bytes()) <= 12_000


def test_a_1000_plant_garden_card_stays_legible(tmp_path: Path) -> None:
    bundle = demo_garden(tmp_path / "site", 1000, previews=False)
    card = (bundle / "garden.svg").read_text()
    plants = json.loads((bundle / "api/v1/garden/index.json").read_text())["plants"]
    assert problems(card) == []
    root = ET.fromstring(card)
    assert (root.get("width"), root.get("height")) == ("800", "400")  # the card does not grow
    assert min(text_sizes(card)) >= 13  # text keeps its size whatever the count
    assert "1000 plants" in "".join(root.itertext())
    spots = cards.garden_spots(plants, 800, 400 * 0.36 + 18, 400 - 12)
    assert len(spots) == 1000
    # The smallest fully grown plant still stands at least 10 px tall at the card's own size…
    assert min(s.scale for s in spots) * art.TALL >= 10
    # …and every plant stays inside the card.
    assert all(0 <= s.x <= 800 and 0 <= s.y <= 400 for s in spots)
    assert len(card.encode()) < 200_000
