"""The demo generator's rows in a real store: bulk-loaded, replaced whole, migrated."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from greenhouse.build import build
from greenhouse.config import load_site
from greenhouse.content import load_content
from greenhouse.sources.demo import generate, generation_key, seed_demo
from greenhouse.store import Store
from greenhouse.store.migrations import MIGRATIONS
from tests.conftest import run_module
from tests.test_build import tree_digest

TODAY = date(2026, 1, 1)  # the suite's SOURCE_DATE_EPOCH
DEMO_TABLES = next(
    n for n, (note, _) in enumerate(MIGRATIONS, 1) if note.startswith("generated demo activity")
)


def counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
            for table in ("repos", "demo_activity", "demo_engagement", "plays", "weather_obs")
        }


def test_every_generated_row_is_stored_once(demo_site: Path, tmp_path: Path) -> None:
    site = load_site(demo_site)
    projects = load_content(demo_site).projects
    data = generate(projects, site.config.demo, TODAY)
    db = tmp_path / "g.duckdb"
    with Store.open(db) as store:
        assert seed_demo(store, projects, site.config.demo, TODAY)
        assert not seed_demo(store, projects, site.config.demo, TODAY)  # nothing to redo
        stored = store.conn.execute(
            "SELECT sum(commits), sum(stars), count(*) FROM demo_activity"
        ).fetchone()
        languages = store.conn.execute("SELECT count(*) FROM repo_languages").fetchone()
        topics = store.conn.execute(
            "SELECT topics FROM repos WHERE full_name = ?", [data.repos["full_name"][0]]
        ).fetchone()
    assert stored == (
        int(data.activity["commits"].sum()),
        int(data.activity["stars"].sum()),
        len(data.activity["day"]),
    )
    assert languages == (len(data.repos["full_name"]),)
    assert topics == (data.repos["topics"][0].split(","),)
    assert counts(db) == {
        "repos": len(data.repos["full_name"]),
        "demo_activity": len(data.activity["day"]),
        "demo_engagement": len(data.engagement["day"]),
        "plays": len(data.plays["played_at"]),
        "weather_obs": len(data.weather["observed_at"]),
    }


def test_regenerating_replaces_the_demo_and_keeps_real_rows(demo_site: Path) -> None:
    build(demo_site, offline=True)
    db = demo_site / "build" / "greenhouse.duckdb"
    with Store.open(db) as store, store.transaction() as conn:
        conn.execute(
            "INSERT INTO activity VALUES ('me/real', DATE '2025-12-01', 3, 0, 0, 0, 'github')"
        )
    before = counts(db)
    config = demo_site / "greenhouse.toml"
    config.write_text(config.read_text().replace("projects = 12", "projects = 4"))
    build(demo_site, offline=True)
    after = counts(db)
    assert after["repos"] == before["repos"] - 8
    assert 0 < after["demo_activity"] < before["demo_activity"]
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM activity").fetchone() == (1,)
        ids = {
            r[0] for r in conn.execute("SELECT DISTINCT full_name FROM demo_activity").fetchall()
        }
    assert "greenhouse-demo/project-0005" not in ids and "greenhouse-demo/project-0004" in ids


def test_a_store_with_demo_rows_of_the_old_layout_builds_the_same_bundle(
    demo_site: Path, tmp_path: Path
) -> None:
    # A store as greenhouse left it before the demo had tables of its own: the
    # generator's rows in activity and engagement, labelled 'demo'.
    old = tmp_path / "old.duckdb"
    conn = duckdb.connect(str(old))
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, note VARCHAR)")
    for version, (note, sql) in enumerate(MIGRATIONS[: DEMO_TABLES - 1], 1):
        conn.execute(sql)
        conn.execute("INSERT INTO schema_version VALUES (?, ?)", [version, note])
    current = tmp_path / "current.duckdb"
    site = load_site(demo_site)
    projects = load_content(demo_site).projects
    with Store.open(current) as store:
        seed_demo(store, projects, site.config.demo, TODAY)
    conn.execute(f"ATTACH '{current}' AS cur (READ_ONLY)")
    for table, columns in {
        "repos": "full_name, name, description, homepage, html_url, language, topics, license, "
        "stars, forks, is_fork, is_archived, is_private, created_at, pushed_at, "
        "activity_status, source",
        "repo_languages": "full_name, language, bytes",
        "plays": "source, played_at, track, artist, valence, energy",
        "weather_obs": "source, observed_at, condition, code, temperature, wind_speed, cloud_cover",
        "contributions": "day, count, source",
        "sync_state": "source, last_attempt, last_success, status, message, cursor",
    }.items():
        conn.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM cur.{table}")
    conn.execute("INSERT INTO activity SELECT *, 'demo' FROM cur.demo_activity")
    conn.execute(
        "INSERT INTO engagement SELECT project, day, views, interactions, views, 'demo' "
        "FROM cur.demo_engagement"
    )
    conn.execute(
        "INSERT INTO meta VALUES ('demo_key', ?)",
        [generation_key(projects, site.config.demo, TODAY)],
    )
    conn.close()

    build(demo_site, offline=True, output=tmp_path / "migrated", db=old)
    with duckdb.connect(str(old), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM activity").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM engagement").fetchone() == (0,)
        moved = conn.execute("SELECT count(*) FROM demo_activity").fetchone()
    assert moved == (counts(current)["demo_activity"],)
    build(demo_site, offline=True, output=tmp_path / "fresh", db=tmp_path / "fresh.duckdb")
    assert tree_digest(tmp_path / "migrated") == tree_digest(tmp_path / "fresh")


def test_a_duckdb_failure_is_one_line_and_changes_nothing(demo_site: Path) -> None:
    assert run_module("build", "--offline", "--root", str(demo_site)).returncode == 0
    site = demo_site / "build" / "site"
    before = tree_digest(site)
    db = demo_site / "build" / "greenhouse.duckdb"
    with duckdb.connect(str(db)) as conn:  # a store damaged by hand
        conn.execute("DROP TABLE snapshots")
        repos = conn.execute("SELECT count(*) FROM repos").fetchone()
    (demo_site / "content/projects/sprig.md").write_text(
        '+++\ntitle = "Changed"\nrepo = "greenhouse-demo/sprig"\n+++\n'
    )
    result = run_module("build", "--offline", "--root", str(demo_site))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {db}: the data store failed"), lines
    assert "snapshots" in lines[0]
    assert tree_digest(site) == before
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM repos").fetchone() == repos
