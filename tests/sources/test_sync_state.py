"""State that outlives a sync: one freshness rule, and the migration that added the rest."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from greenhouse.store import SCHEMA_VERSION, Store
from greenhouse.store.freshness import STALE_AFTER, freshness, is_stale
from greenhouse.store.migrations import MIGRATIONS
from tests.conftest import FIXED_EPOCH


def test_health_json_and_stats_share_one_definition_of_stale(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    now = datetime.fromtimestamp(int(FIXED_EPOCH), UTC).replace(tzinfo=None)
    with Store.open(tmp_path / "build" / "greenhouse.duckdb") as store, store.transaction() as c:
        for source, status, age in [
            ("github", "ok", timedelta(hours=1)),
            ("spotify", "partial", timedelta(hours=1)),  # stopped early: stale
            ("lastfm", "ok", STALE_AFTER + timedelta(hours=1)),  # too old: stale
            ("weather", "failed", None),  # never succeeded: stale
            ("visitors", "ok", STALE_AFTER - timedelta(hours=1)),
        ]:
            c.execute(
                "INSERT INTO sync_state (source, last_attempt, last_success, status) "
                "VALUES (?, ?, ?, ?)",
                [source, now - timedelta(minutes=5), now - age if age else None, status],
            )
    built = cli("build", "--offline", "--root", tmp_path)
    assert built.exit_code == 0, built.output
    health = json.loads((tmp_path / "build/site/api/v1/garden/health.json").read_text())
    stale_in_health = sorted(n for n, s in health["sources"].items() if s["stale"])

    shown = cli("stats", "--json", "--root", tmp_path)
    assert shown.exit_code == 0, shown.output
    stats = json.loads(shown.output)

    assert stale_in_health == stats["stale"] == ["lastfm", "spotify", "weather"]
    assert health["sources"]["github"]["age_hours"] == 1.0


def test_the_rule_itself() -> None:
    hours = 3600.0
    assert not is_stale("ok", 47 * hours)
    assert is_stale("ok", 49 * hours)
    assert is_stale("partial", 1.0) and is_stale("failed", 1.0) and is_stale("ok", None)


def test_a_version_6_store_migrates_its_sync_state(tmp_path: Path) -> None:
    path = tmp_path / "v6.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, note VARCHAR)")
    for version, (note, sql) in enumerate(MIGRATIONS[:6], start=1):
        conn.execute(sql)
        conn.execute("INSERT INTO schema_version VALUES (?, ?)", [version, note])
    pushed = datetime(2026, 11, 1, 10)
    conn.execute(
        "INSERT INTO repos (full_name, name, source, pushed_at, fetched_at) VALUES "
        "('me/settled', 'settled', 'github', ?, ?), ('me/hasty', 'hasty', 'github', ?, ?), "
        "('me/never', 'never', 'github', ?, NULL)",
        [pushed, pushed + timedelta(days=2), pushed, pushed + timedelta(hours=1), pushed],
    )
    conn.execute(
        "INSERT INTO http_cache (url, etag, body) VALUES "
        "('https://api.github.com/users/me/repos?per_page=100', 'W/\"1\"', "
        '\'[{"full_name": "me/private-plans", "private": true}]\'), '
        "('https://api.github.com/repos/me/settled/languages', 'W/\"2\"', '{}')"
    )
    conn.close()

    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        details = dict(store.conn.execute("SELECT name, details_pushed_at FROM repos").fetchall())
        # Fetched a day after the push: its details count it. Sooner, or never: fetched again.
        assert details == {"settled": pushed, "hasty": None, "never": None}
        urls = [r[0] for r in store.conn.execute("SELECT url FROM http_cache").fetchall()]
        assert urls == ["https://api.github.com/repos/me/settled/languages"]
        for table in ("rate_limits", "credentials", "repo_lookups"):
            assert store.conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
        assert freshness(store, datetime(2026, 11, 2)) == {}
