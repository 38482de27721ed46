"""Link-preview PNGs: the right size, drawn once, cached by content hash in the store."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from greenhouse.build import build
from greenhouse.errors import StoreError
from greenhouse.store import Store
from tests.sharing.conftest import copy_demo


def digests(db: Path) -> set[str]:
    with Store.open(db) as store:
        return {row[0] for row in store.conn.execute("SELECT digest FROM image_cache").fetchall()}


def pngs(bundle: Path) -> dict[str, str]:
    return {
        p.relative_to(bundle).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(bundle.glob("static/*/**/*.png"))
    }


def test_previews_and_icons_are_pngs_of_the_announced_sizes(tmp_path: Path) -> None:
    site = copy_demo(tmp_path / "site")
    result = build(site, offline=True)
    bundle = result.output
    plants = json.loads((bundle / "api/v1/garden/index.json").read_text())["plants"]
    expected = {"static/og/garden.png": (1200, 630)}
    expected |= {f"static/og/projects/{p['id']}.png": (1200, 630) for p in plants}
    expected |= {
        "static/icons/apple-touch-icon.png": (180, 180),
        "static/icons/icon-192.png": (192, 192),
        "static/icons/icon-512.png": (512, 512),
    }
    assert set(pngs(bundle)) == set(expected)
    for path, size in expected.items():
        with Image.open(bundle / path) as image:
            assert image.format == "PNG" and image.size == size, path
            image.load()
            assert len(image.getcolors(256 * 256) or []) > 8, f"{path} is blank"
            assert not image.info.get("exif") and "tIME" not in image.info  # nothing that varies
    assert result.images_drawn == len(expected)


def test_an_unchanged_garden_draws_no_image_and_writes_none(tmp_path: Path) -> None:
    site = copy_demo(tmp_path / "site")
    db = site / "build/greenhouse.duckdb"
    said: list[str] = []
    first = build(site, offline=True, progress=said.append)
    cached, before = digests(db), pngs(first.output)
    assert len(cached) == first.images_drawn == len(before)
    # the wait for them is announced, with their number
    drawing = f"drawing {len(before)} link-preview pictures"
    assert [s for s in said if s.startswith("drawing")] == [drawing + " (kept for later builds)"]
    again = build(site, offline=True)  # nothing changed: the build is skipped
    assert again.skipped and again.images_drawn == 0
    said.clear()
    forced = build(site, offline=True, force=True, progress=said.append)  # everything rendered…
    assert not forced.skipped and forced.images_drawn == 0  # …but every image from the cache
    assert digests(db) == cached and pngs(forced.output) == before
    assert "sharing" in said and not [s for s in said if s.startswith("drawing")]


def test_a_changed_project_redraws_its_own_preview_only(tmp_path: Path) -> None:
    site = copy_demo(tmp_path / "site")
    db = site / "build/greenhouse.duckdb"
    first = build(site, offline=True)
    before = pngs(first.output)
    (site / "content/projects/sprig.md").write_text(
        '+++\ntitle = "Sprig renamed"\nrepo = "greenhouse-demo/sprig"\n+++\n'
    )
    said: list[str] = []
    changed = build(site, offline=True, progress=said.append)
    after = pngs(changed.output)
    assert changed.images_drawn == 1
    assert [s for s in said if s.startswith("drawing")] == [
        "drawing 1 link-preview picture (kept for later builds)"
    ]
    assert {path for path in after if after[path] != before[path]} == {
        "static/og/projects/sprig.png"
    }
    assert len(digests(db)) == len(after)  # the old picture of sprig left the cache


def test_builds_with_the_same_inputs_give_the_same_image_bytes(tmp_path: Path) -> None:
    site = copy_demo(tmp_path / "site")
    one = build(site, offline=True, output=tmp_path / "one", db=tmp_path / "one.duckdb")
    two = build(site, offline=True, output=tmp_path / "two", db=tmp_path / "two.duckdb")
    assert pngs(one.output) == pngs(two.output) and one.images_drawn == two.images_drawn > 0


def test_previews_can_be_turned_off(tmp_path: Path) -> None:
    site = copy_demo(tmp_path / "site")
    build(site, offline=True)
    config = site / "greenhouse.toml"
    config.write_text(config.read_text() + "\n[sharing]\npreview_images = false\n")
    result = build(site, offline=True)
    bundle = result.output
    assert result.images_drawn == 0 and not (bundle / "static/og").exists()
    html = (bundle / "index.html").read_text()
    assert 'name="twitter:card" content="summary"' in html and "og:image" not in html
    assert re.search(r'<link rel="canonical" href="http://localhost:8000/">', html)
    manifest = json.loads((bundle / "manifest.webmanifest").read_text())
    assert [icon["type"] for icon in manifest["icons"]] == ["image/svg+xml"]
    assert digests(site / "build/greenhouse.duckdb") == set()  # the cache keeps only what is shown


def test_any_project_name_draws(tmp_path: Path) -> None:
    site = copy_demo(tmp_path / "site")
    names = {
        "greek": "Ελληνικά κήπος",
        "cyrillic": "Сад",
        "japanese": "日本の庭",
        "long": "x" * 300,
    }
    for slug, name in names.items():
        (site / f"content/projects/{slug}.md").write_text(f"+++\ntitle = {json.dumps(name)}\n+++\n")
    bundle = build(site, offline=True).output
    for slug in names:
        with Image.open(bundle / f"static/og/projects/{slug}.png") as image:
            assert image.size == (1200, 630)


def test_a_change_of_weather_redraws_the_garden_picture_only(tmp_path: Path) -> None:
    site = copy_demo(tmp_path / "site")
    db = site / "build/greenhouse.duckdb"
    first = build(site, offline=True)
    before = pngs(first.output)
    garden = json.loads((first.output / "api/v1/garden/index.json").read_text())
    sky = "foggy" if garden["weather"]["condition"] == "snowy" else "snowy"
    with Store.open(db) as store, store.transaction() as conn:
        conn.execute("DELETE FROM weather_obs")
        conn.execute(
            "INSERT INTO weather_obs VALUES ('test', ?, ?, NULL, NULL, NULL, NULL)",
            [datetime(2025, 12, 31, 23), sky],
        )
    changed = build(site, offline=True)
    garden = json.loads((changed.output / "api/v1/garden/index.json").read_text())
    assert garden["weather"]["condition"] == sky
    after = pngs(changed.output)
    assert {path for path in after if after[path] != before[path]} == {"static/og/garden.png"}
    assert changed.images_drawn == 1


def test_a_very_long_name_is_shortened_measuring_only_what_could_fit() -> None:
    """A 20,000-character name (the fuzz corpus has such) is cut without measuring it whole."""
    from PIL import ImageDraw

    from greenhouse.site import raster

    measured: list[int] = []

    class Counting(ImageDraw.ImageDraw):
        def textlength(self, text: str, *args: object, **kwargs: object) -> float:  # type: ignore[override]
            measured.append(len(text))
            return super().textlength(text, *args, **kwargs)  # type: ignore[arg-type]

    pen = Counting(Image.new("RGB", (10, 10)))
    for name in ("W" * 20_000, "\u0301" * 20_000 + "tail"):  # wide glyphs; zero-width marks
        measured.clear()
        text, face = raster.fit(pen, name, 900, 64, 34, bold=True)
        assert text.endswith("…") and face.size == 34
        assert pen.textlength(text, font=face) <= 900
        assert sum(measured) < 20_000  # the old cut, a character at a time, measured 10**8
    text, face = raster.fit(pen, "Sprig", 900, 64, 34, bold=True)
    assert (text, face.size) == ("Sprig", 64)


def test_an_unreadable_image_cache_fails_the_build_as_a_store_error(tmp_path: Path) -> None:
    # The cache is read on a thread of its own while the garden grows: its failure must reach
    # the user as the one-line store error, with the published bundle left as it was.
    site = copy_demo(tmp_path / "site")
    db = site / "build/greenhouse.duckdb"
    first = build(site, offline=True)
    before = pngs(first.output)
    with Store.open(db) as store:
        store.conn.execute("ALTER TABLE image_cache RENAME COLUMN png TO picture")
    with pytest.raises(StoreError, match="png"):
        build(site, offline=True, force=True)
    assert pngs(first.output) == before
