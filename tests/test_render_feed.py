"""The compact feeds the garden canvas reads, the paginated plant list, the constellation's stars."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from greenhouse.build import build
from greenhouse.garden.layout import HOME_CELLS, Seedling, place
from greenhouse.site import api
from greenhouse.site.constellation import MAX_RADIUS, MIN_RADIUS, label_box, star_chart
from greenhouse.site.feed import LAPSE_STEP
from greenhouse.site.render import plant_pages


def built(site: Path, extra: str = "") -> Path:
    config = site / "greenhouse.toml"
    config.write_text(config.read_text() + extra)
    return build(site, offline=True).output


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    from tests.conftest import REPO

    site = tmp_path_factory.mktemp("feed") / "site"
    site.mkdir()
    shutil.copy(REPO / "greenhouse.toml", site / "greenhouse.toml")
    shutil.copytree(REPO / "content", site / "content")
    text = (site / "greenhouse.toml").read_text().replace("projects = 12", "projects = 52")
    (site / "greenhouse.toml").write_text(text)
    return built(site, "\n[build]\nper_page = 25\n")


def load(bundle: Path, path: str) -> Any:
    return json.loads((bundle / path).read_text())


def test_render_feed_holds_what_the_canvas_draws_and_no_more(bundle: Path) -> None:
    garden = load(bundle, "api/v1/garden/index.json")
    feed = load(bundle, "api/v1/garden/render.json")
    api.RenderDoc.model_validate(feed)
    plants = feed["plants"]
    assert plants["id"] == [p["id"] for p in garden["plants"]]  # the same order (pinned first)
    for i, plant in enumerate(garden["plants"]):
        assert plants["name"][i] == plant["name"]
        assert (plants["x"][i], plants["z"][i]) == (plant["position"]["x"], plant["position"]["z"])
        assert feed["species"][plants["species"][i]] == plant["species"]
        assert feed["stages"][plants["stage"][i]] == plant["stage"]
        assert plants["growth"][i] == round(plant["growth"] * 100)
        assert plants["health"][i] == round(plant["health"] * 100)
    assert [plants["id"][i] for i in plants["pinned"]] == [
        p["id"] for p in garden["plants"] if p["pinned"]
    ]
    assert feed["weather"]["condition"] == garden["weather"]["condition"]
    size = (bundle / "api/v1/garden/render.json").stat().st_size
    assert size * 5 < (bundle / "api/v1/garden/index.json").stat().st_size


def test_timelapse_keyframes_and_deltas_rebuild_every_snapshot(bundle: Path) -> None:
    feed = load(bundle, "api/v1/garden/render.json")
    index = load(bundle, "api/v1/garden/timelapse/index.json")
    api.TimelapseIndexDoc.model_validate(index)
    history = load(bundle, "api/v1/garden/history/index.json")
    assert index["snapshots"] == [s["date"] for s in history["snapshots"]]
    assert index["fields"] == ["plant", "stage", "growth", "health"]
    ids, stages = feed["plants"]["id"], feed["stages"]
    k = 0
    full = partial = 0
    for item in index["chunks"]:
        chunk = load(bundle, "api/v1/garden/timelapse/" + item["url"])
        api.TimelapseChunkDoc.model_validate(chunk)
        assert chunk["first"] == item["first"] == k and len(chunk["frames"]) == item["count"]
        state: dict[str, tuple[str, int, int]] = {}
        for n, frame in enumerate(chunk["frames"]):
            if n == 0:
                state = {}  # a keyframe: the whole garden of that day
            flat = frame["plants"]
            assert len(flat) % 4 == 0
            for j in range(0, len(flat), 4):
                state[ids[flat[j]]] = (stages[flat[j + 1]], flat[j + 2], flat[j + 3])
            snapshot = load(bundle, f"api/v1/garden/history/{frame['date']}.json")
            expected = {p["id"]: p for p in snapshot["plants"]}
            assert state.keys() == expected.keys(), frame["date"]
            for pid, (stage, growth, health) in state.items():
                plant = expected[
                    pid
                ]  # percents of the unrounded values: within one of the document's
                assert stage == plant["stage"]
                assert abs(growth - plant["growth"] * 100) <= LAPSE_STEP / 2 + 0.01
                assert abs(health - plant["health"] * 100) <= LAPSE_STEP / 2 + 0.01
            full += len(expected)
            partial += len(flat) // 4
            k += 1
    assert k == len(index["snapshots"])
    assert partial < full / 2  # deltas: most plants change little from one week to the next


def test_time_lapse_downloads_a_fraction_of_the_history(bundle: Path) -> None:
    lapse = sum(p.stat().st_size for p in (bundle / "api/v1/garden/timelapse").iterdir())
    history = sum(p.stat().st_size for p in (bundle / "api/v1/garden/history").iterdir())
    assert lapse * 4 < history


def test_index_lists_one_page_of_plants_and_links_the_others(bundle: Path) -> None:
    garden = load(bundle, "api/v1/garden/index.json")
    total = len(garden["plants"])
    assert total == 60
    index = (bundle / "index.html").read_text()
    assert index.count('<li class="card') == 25
    assert index.count("<circle") == total  # the map still shows the whole garden
    assert 'href="/plants/2/"' in index and 'href="/plants/3/"' in index
    third = (bundle / "plants/3/index.html").read_text()
    assert third.count('<li class="card') == 10
    assert 'aria-current="page">3<' in third and 'rel="prev"' in third and 'rel="next"' not in third
    assert "<greenhouse-garden" not in third
    sitemap = (bundle / "sitemap.xml").read_text()
    assert "plants/2/" in sitemap and "plants/3/" in sitemap and "plants/4/" not in sitemap
    for name in ("render", "timelapse-index", "timelapse-chunk"):
        assert (bundle / f"api/v1/schema/{name}.schema.json").is_file()


def test_plant_pages_cover_every_plant_once() -> None:
    assert [(p.start, p.stop) for p in plant_pages(0, 50)] == [(0, 0)]
    pages = plant_pages(1000, 50)
    assert len(pages) == 20 and pages[0].url == "" and pages[1].url == "plants/2/"
    assert [i for p in pages for i in range(p.start, p.stop)] == list(range(1000))
    assert {p.count for p in pages} == {20} and pages[-1].path == "plants/20/index.html"


def sky(uses: dict[str, int]) -> dict[str, Any]:
    nodes = []
    for n, (name, count) in enumerate(sorted(uses.items())):
        angle = n * 2.4
        nodes.append(
            {
                "id": name,
                "name": name,
                "uses": count,
                "position": {"x": 6 * math.cos(angle), "y": 3.0, "z": 6 * math.sin(angle) * 0.3},
            }
        )
    return {"nodes": nodes, "edges": []}


def test_star_sizes_stay_bounded_however_many_projects() -> None:
    for most in (5, 200, 5000):
        stars = star_chart(sky({f"skill-{i}": most // (i + 1) for i in range(30)}))
        radii = [s.r for s in stars.values()]
        assert min(radii) >= MIN_RADIUS and max(radii) == MAX_RADIUS


def test_shown_labels_never_overlap_and_the_most_used_is_named() -> None:
    uses = {f"a-long-skill-name-{i}": 300 - i for i in range(30)}
    stars = star_chart(sky(uses))
    shown = [label_box(s.x, s.y, s.r, s.id) for s in stars.values() if s.label]
    assert 0 < len(shown) < 30  # crowded: some wait for hover
    for i, a in enumerate(shown):
        for b in shown[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])
    # and none was hidden for nothing: a hidden label would cover a shown one or another star
    for star in stars.values():
        if star.label:
            continue
        box = label_box(star.x, star.y, star.r, star.id)
        blocked = any(
            box[0] < o[2] and o[0] < box[2] and box[1] < o[3] and o[1] < box[3] for o in shown
        ) or any(
            other.id != star.id
            and box[0] < other.x + other.r
            and other.x - other.r < box[2]
            and box[1] < other.y + other.r
            and other.y - other.r < box[3]
            for other in stars.values()
        )
        assert blocked, star


def test_garden_area_grows_with_the_plant_count() -> None:
    species = list(HOME_CELLS)

    def radius(count: int) -> float:
        seedlings = [
            Seedling(f"p{i}", species[i % len(species)], date(2020, 1, 1) + timedelta(days=i))
            for i in range(count)
        ]
        spots = place(seedlings).values()
        return max(math.hypot(x, z) for x, _, z in spots)

    small, medium, large = radius(20), radius(230), radius(1000)
    assert small < medium < large
    assert large < 50  # compact: the beds of ten species, overflowing into nearby cells
    one_bed = place([Seedling("only", "oak", date(2020, 1, 1))])
    assert max(abs(v) for v in one_bed["only"]) <= 10  # a lone oak bed sits by the centre
