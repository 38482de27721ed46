"""The static build end to end, through the real CLI, a real DuckDB file and real files."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from greenhouse.build import build
from greenhouse.errors import BusyError
from greenhouse.site import api
from greenhouse.store import Store
from tests.conftest import REPO, run_module

SPEC_FILES = [
    "index.html",
    "skills/index.html",
    "404.html",
    "sitemap.xml",
    "feed.xml",
    "robots.txt",
    "api/v1/garden/index.json",
    "api/v1/garden/weather.json",
    "api/v1/garden/health.json",
    "api/v1/garden/history/index.json",
    "api/v1/projects/index.json",
    "api/v1/projects/page/1.json",
    "api/v1/skills/index.json",
]


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_demo_build_writes_every_spec_file(demo_site: Path, cli) -> None:
    result = cli("build", "--offline", "--root", demo_site)
    assert result.exit_code == 0, result.output
    assert "[demo data]" in result.output
    site = demo_site / "build" / "site"
    for name in SPEC_FILES:
        assert (site / name).is_file(), name
    garden = json.loads((site / "api/v1/garden/index.json").read_text())
    assert garden["demo"] is True
    for plant in garden["plants"]:
        assert (site / "projects" / plant["id"] / "index.html").is_file()
        assert (site / "api/v1/projects" / f"{plant['id']}.json").is_file()
    assert {p["stage"] for p in garden["plants"]} == set(api.Stage.__args__)  # type: ignore[attr-defined]


def test_every_document_matches_its_schema(demo_site: Path) -> None:
    build(demo_site, offline=True)
    site = demo_site / "build" / "site"
    checks = {
        "api/v1/garden/index.json": api.GardenDoc,
        "api/v1/garden/weather.json": api.WeatherDoc,
        "api/v1/garden/health.json": api.HealthDoc,
        "api/v1/garden/history/index.json": api.HistoryIndexDoc,
        "api/v1/projects/index.json": api.ProjectsPageDoc,
        "api/v1/skills/index.json": api.SkillsDoc,
    }
    for name, model in checks.items():
        model.model_validate_json((site / name).read_text())
    for path in (site / "api/v1/projects").glob("*.json"):
        if path.name == "index.json":
            continue
        api.ProjectDoc.model_validate_json(path.read_text())
    history = json.loads((site / "api/v1/garden/history/index.json").read_text())
    assert len(history["snapshots"]) > 10
    for item in history["snapshots"][:3]:
        api.SnapshotDoc.model_validate_json(
            (site / "api/v1/garden/history" / f"{item['date']}.json").read_text()
        )
    for name in api.SCHEMAS:
        if name not in {"dashboard", "badge"}:  # the badge keeps shields.io's own format
            schema = json.loads((site / f"api/v1/schema/{name}.schema.json").read_text())
            assert "properties" in schema and "generated_at" in schema["properties"]
    for path in site.rglob("*.json"):
        if "schema" not in path.parts and path.name != "badge.json":
            doc = json.loads(path.read_text())
            assert (
                doc["schema_version"] == api.SCHEMA_VERSION
                and doc["generated_at"] == "2026-01-01T00:00:00Z"
            )


def test_pagination_links(demo_site: Path) -> None:
    config = (demo_site / "greenhouse.toml").read_text().replace("[build]", "")
    (demo_site / "greenhouse.toml").write_text(config + "\n[build]\nper_page = 6\n")
    build(demo_site, offline=True)
    pages = demo_site / "build/site/api/v1/projects/page"
    first = json.loads((pages / "1.json").read_text())
    assert first["per_page"] == 6 and first["prev"] is None
    assert first["pages"] == len(list(pages.glob("*.json"))) == -(-first["total"] // 6)
    last = json.loads((pages / f"{first['pages']}.json").read_text())
    assert last["next"] is None and last["prev"].endswith(f"page/{first['pages'] - 1}.json")
    ids = [
        i["id"]
        for n in range(1, first["pages"] + 1)
        for i in json.loads((pages / f"{n}.json").read_text())["items"]
    ]
    assert len(ids) == len(set(ids)) == first["total"]


def test_links_work_under_a_base_url_with_a_path(demo_site: Path) -> None:
    text = (demo_site / "greenhouse.toml").read_text()
    (demo_site / "greenhouse.toml").write_text(
        text.replace("http://localhost:8000/", "https://me.github.io/garden")
    )
    build(demo_site, offline=True)
    site = demo_site / "build" / "site"
    for page in site.rglob("*.html"):
        html = page.read_text()
        for link in re.findall(r'(?:href|src|data-[a-z]+)="([^"]+)"', html):
            if link.startswith(("http://", "https://", "#", "mailto:")) or not link.startswith("/"):
                continue
            assert link.startswith("/garden/"), (page, link)
            target = site / link.removeprefix("/garden/")
            assert target.exists() or (target / "index.html").exists(), (page, link)
    sitemap = ET.parse(site / "sitemap.xml").getroot()
    locs = [el.text for el in sitemap.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert locs and all(loc.startswith("https://me.github.io/garden/") for loc in locs)
    assert "Sitemap: https://me.github.io/garden/sitemap.xml" in (site / "robots.txt").read_text()
    feed = ET.parse(site / "feed.xml").getroot()
    entries = feed.findall("{http://www.w3.org/2005/Atom}entry")
    assert entries and all(
        e.find("{http://www.w3.org/2005/Atom}link")
        .get("href")
        .startswith("https://me.github.io/garden/")
        for e in entries
    )


def test_no_request_to_another_host(demo_site: Path) -> None:
    build(demo_site, offline=True)
    for page in (demo_site / "build" / "site").rglob("*.html"):
        html = page.read_text()
        # A canonical link names the page's own address; it is not a request.
        assert not re.search(
            r'<(?:script|link(?! rel="canonical")|img|iframe|source)[^>]+(?:src|href)="(?:https?:)?//',
            html,
        ), page
        assert "@import" not in html and "fonts.googleapis" not in html


def test_reproducible_builds_are_byte_identical(demo_site: Path, tmp_path: Path) -> None:
    build(demo_site, offline=True, output=tmp_path / "one", db=tmp_path / "one.duckdb")
    build(demo_site, offline=True, output=tmp_path / "two", db=tmp_path / "two.duckdb")
    one, two = tree_digest(tmp_path / "one"), tree_digest(tmp_path / "two")
    assert one == two and len(one) > 50


def test_no_change_rebuild_rewrites_nothing(demo_site: Path) -> None:
    first = build(demo_site, offline=True)
    site = demo_site / "build" / "site"
    stamps = {p: p.stat().st_mtime_ns for p in site.rglob("*")}
    again = build(demo_site, offline=True)
    assert not first.skipped and again.skipped
    assert {p: p.stat().st_mtime_ns for p in site.rglob("*")} == stamps
    (demo_site / "content/projects/sprig.md").write_text(
        '+++\ntitle = "Sprig 2"\nrepo = "greenhouse-demo/sprig"\n+++\n'
    )
    changed = build(demo_site, offline=True)
    assert not changed.skipped
    assert "Sprig 2" in (site / "projects/sprig/index.html").read_text()


def test_private_repositories_never_reach_the_bundle(demo_site: Path) -> None:
    db = demo_site / "build" / "greenhouse.duckdb"
    build(demo_site, offline=True)
    with Store.open(db) as store, store.transaction() as conn:
        conn.execute(
            "INSERT INTO repos (full_name, name, description, is_private, source) VALUES "
            "('me/secret-plans', 'secret-plans', 'classified roadmap', true, 'github')"
        )
    build(demo_site, offline=True)
    for path in (demo_site / "build" / "site").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"secret-plans" not in data and b"classified roadmap" not in data, path


def test_failed_build_leaves_the_published_bundle_untouched(demo_site: Path, cli) -> None:
    assert cli("build", "--offline", "--root", demo_site).exit_code == 0
    before = tree_digest(demo_site / "build" / "site")
    (demo_site / "site_templates").mkdir()
    (demo_site / "site_templates" / "project.html").write_text(
        "{% extends 'base.html' %}\n{% block main %}\n{{ oops(\n"
    )
    result = cli("build", "--offline", "--root", demo_site)
    assert result.exit_code == 1
    assert "project.html:3" in result.output and "Traceback" not in result.output
    assert tree_digest(demo_site / "build" / "site") == before
    assert not list((demo_site / "build").glob(".site.new-*"))


def test_a_site_template_overrides_the_theme_file_by_file(demo_site: Path) -> None:
    (demo_site / "site_templates").mkdir()
    (demo_site / "site_templates" / "404.html").write_text(
        "{% extends 'base.html' %}{% block main %}<p>Custom lost {{ '<b>' }}</p>{% endblock %}"
    )
    build(demo_site, offline=True)
    page = (demo_site / "build/site/404.html").read_text()
    assert "Custom lost &lt;b&gt;" in page  # autoescape is on in site templates too
    assert "Nothing grows here" in (REPO / "greenhouse/site/theme/templates/404.html").read_text()
    assert "<nav" in page  # the theme's base.html still applies


def test_missing_template_is_a_clear_error(demo_site: Path, cli) -> None:
    (demo_site / "site_templates").mkdir()
    (demo_site / "site_templates" / "index.html").write_text("{% extends 'nowhere.html' %}")
    result = cli("build", "--offline", "--root", demo_site)
    assert result.exit_code == 1 and "template not found: nowhere.html" in result.output


def test_unwritable_output_folder(demo_site: Path, tmp_path: Path) -> None:
    # A path under a regular file: nothing can be created there, whoever runs the build (even root).
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = run_module(
        "build", "--offline", "--root", str(demo_site), "--output", str(blocker / "site")
    )
    assert result.returncode == 1, result.stderr
    assert "a-file" in result.stderr and "Traceback" not in result.stderr


def test_bad_store_file_is_reported_and_kept(demo_site: Path) -> None:
    db = demo_site / "build" / "greenhouse.duckdb"
    db.parent.mkdir(parents=True)
    db.write_text("not a database")
    result = run_module("build", "--offline", "--root", str(demo_site))
    assert result.returncode == 1
    assert "not a DuckDB database" in result.stderr and "Traceback" not in result.stderr
    assert db.read_text() == "not a database"


def test_second_concurrent_build_refuses(demo_site: Path) -> None:
    from greenhouse.site.publish import build_lock

    with (
        build_lock(demo_site / "build" / "site"),
        pytest.raises(BusyError, match="another greenhouse build"),
    ):
        build(demo_site, offline=True)


def test_build_killed_halfway_keeps_the_previous_bundle(demo_site: Path) -> None:
    text = (demo_site / "greenhouse.toml").read_text().replace("projects = 12", "projects = 600")
    # Publishing is under test, not drawing: 600 first-time preview pictures would only slow
    # the first build (their cost is in tests/bench/bench_build.py).
    (demo_site / "greenhouse.toml").write_text(text + "\n[sharing]\npreview_images = false\n")
    assert run_module("build", "--offline", "--root", str(demo_site)).returncode == 0
    site = demo_site / "build" / "site"
    before = tree_digest(site)
    (demo_site / "content/projects/sprig.md").write_text(
        '+++\ntitle = "Changed"\nrepo = "greenhouse-demo/sprig"\n+++\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "greenhouse", "build", "--offline", "--root", str(demo_site)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    staged: list[Path] = []
    while time.monotonic() < deadline:
        staged = list((demo_site / "build").glob(".site.new-*/projects/*"))
        if len(staged) > 50:
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(staged) > 50, "the build never got halfway"
    assert tree_digest(site) == before
    assert run_module("build", "--offline", "--root", str(demo_site)).returncode == 0
    assert not list((demo_site / "build").glob(".site.new-*"))
    assert "Changed" in (site / "projects/sprig/index.html").read_text()


def test_check_reports_every_problem_at_once(demo_site: Path, cli) -> None:
    (demo_site / "greenhouse.toml").write_text('[site]\ntitel = "x"\n')
    (demo_site / "content/projects/broken.md").write_text('+++\ntitle = "never closed"\n')
    (demo_site / "site_templates").mkdir()
    (demo_site / "site_templates" / "index.html").write_text("ok\n{% if %}\n")
    result = cli("check", "--root", demo_site)
    assert result.exit_code == 1
    out = result.output
    assert "3 problems" in out
    assert "greenhouse.toml:2: [site.titel] unknown key 'titel' (did you mean 'title'?)" in out
    assert "broken.md:1:" in out and "index.html:2:" in out
    assert "Traceback" not in out


def test_check_passes_on_the_demo(demo_site: Path, cli) -> None:
    result = cli("check", "--root", demo_site)
    assert result.exit_code == 0 and "OK" in result.output


def test_usage_error_exits_2(cli) -> None:
    assert cli("build", "--no-such-flag").exit_code == 2


def test_xss_in_content_stays_text(demo_site: Path) -> None:
    (demo_site / "content/projects/evil.md").write_text(
        '+++\ntitle = "<img src=x onerror=alert(1)>"\n'
        'description = "</script><script>alert(2)</script> \\" onmouseover=alert(3) x=\\""\n+++\nbody\n'
    )
    build(demo_site, offline=True)
    site = demo_site / "build" / "site"
    for page in [site / "index.html", site / "projects/evil/index.html"]:
        html = page.read_text()
        assert "<img src=x onerror" not in html and "<script>alert(2)" not in html
        assert '" onmouseover=alert(3)' not in html
    garden = json.loads((site / "api/v1/garden/index.json").read_text())
    evil = next(p for p in garden["plants"] if p["id"] == "evil")
    assert evil["name"] == "<img src=x onerror=alert(1)>"


def test_unchanged_history_snapshots_are_reused_byte_for_byte(
    demo_site: Path, tmp_path: Path
) -> None:
    import greenhouse.site.render as render

    reused: list[int] = []
    original = render.Renderer._history

    def spy(self: render.Renderer, garden, bundle) -> None:  # type: ignore[no-untyped-def]
        original(self, garden, bundle)
        reused.append(self.snapshots_reused)

    render.Renderer._history = spy  # type: ignore[method-assign]
    try:
        build(demo_site, offline=True)
        first = tree_digest(demo_site / "build" / "site")
        build(demo_site, offline=True, force=True)
    finally:
        render.Renderer._history = original  # type: ignore[method-assign]
    history = demo_site / "build/site/api/v1/garden/history"
    snapshots = len(list(history.glob("*.json"))) - 1
    assert reused == [0, snapshots] and snapshots > 10
    assert tree_digest(demo_site / "build" / "site") == first
    # and a fresh store (nothing to reuse) gives the same bytes
    build(demo_site, offline=True, output=tmp_path / "fresh", db=tmp_path / "fresh.duckdb")
    assert tree_digest(tmp_path / "fresh") == first


def test_real_visits_add_to_demo_attention_and_survive_demo_regeneration(demo_site: Path) -> None:
    build(demo_site, offline=True)
    garden = demo_site / "build/site/api/v1/garden/index.json"
    before = {p["id"]: p["metrics"]["views_30d"] for p in json.loads(garden.read_text())["plants"]}
    db = demo_site / "build" / "greenhouse.duckdb"
    with Store.open(db) as store, store.transaction() as conn:
        conn.execute(
            "INSERT INTO engagement VALUES ('tidewatch', DATE '2025-12-31', 7, 1, 3, 'visitors')"
        )
        conn.execute("DELETE FROM meta WHERE key = 'demo_key'")  # the demo data is regenerated
    build(demo_site, offline=True)
    after = {p["id"]: p["metrics"]["views_30d"] for p in json.loads(garden.read_text())["plants"]}
    assert after["tidewatch"] == before["tidewatch"] + 7
    assert {k: v for k, v in after.items() if k != "tidewatch"} == {
        k: v for k, v in before.items() if k != "tidewatch"
    }


def test_a_project_page_charts_its_history(demo_site: Path) -> None:
    # The page's two polylines are the plant's JSON history: x the snapshot's index, y
    # 1 - growth (or health), as the history reads them.
    bundle = build(demo_site, offline=True).output
    plants = json.loads((bundle / "api/v1/garden/index.json").read_text())["plants"]
    charted = 0
    for plant in plants:
        history = json.loads((bundle / f"api/v1/projects/{plant['id']}.json").read_text())
        page = (bundle / f"projects/{plant['id']}/index.html").read_text()
        for key in ("growth", "health"):
            found = re.search(rf'<polyline class="{key}"[^>]* points="([^"]*)"', page)
            assert found is not None, (plant["id"], key)
            expected = " ".join(f"{i},{1 - p[key]:.4f}" for i, p in enumerate(history["history"]))
            assert found.group(1) == expected, (plant["id"], key)
            charted += 1
    assert charted == 2 * len(plants) > 0


def test_a_plants_history_is_its_row_in_every_garden_snapshot(demo_site: Path) -> None:
    # Two readings of the same simulation: the plant's own document (its track) and the
    # garden's snapshot documents; every snapshot that holds the plant is one of its points.
    bundle = build(demo_site, offline=True).output
    history = bundle / "api/v1/garden/history"
    snapshots = json.loads((history / "index.json").read_text())["snapshots"]
    rows: dict[str, list[dict[str, object]]] = {}
    for snapshot in snapshots:
        doc = json.loads((history / f"{snapshot['date']}.json").read_text())
        for plant in doc["plants"]:
            point = {k: plant[k] for k in ("growth", "health", "stage")}
            rows.setdefault(plant["id"], []).append({"date": snapshot["date"], **point})
    plants = json.loads((bundle / "api/v1/garden/index.json").read_text())["plants"]
    assert len(rows) == len(plants) > 0
    for plant in plants:
        own = json.loads((bundle / f"api/v1/projects/{plant['id']}.json").read_text())["history"]
        assert own == rows[plant["id"]], plant["id"]
