"""The demo generator's rows in the store: replaced whole, one bulk insert per table.

Every table is loaded with one ``INSERT … SELECT`` from numpy columns that
DuckDB scans in place. Row-by-row inserts (``executemany``) cost about 10 ms
a row, and on DuckDB 1.4–1.5 each of them pinned a block of its own until
the transaction ran out of the store's 256 MB with a few hundred projects.

Daily activity and attention go to ``demo_activity`` and ``demo_engagement``,
tables without primary keys (see the migration that made them): the
generator writes each (repository or plant, day) once, and the growth model
adds them to the real rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import numpy as np

    from greenhouse.sources.demo import DemoData
    from greenhouse.store import Store


def replace_demo(store: Store, data: DemoData, key: str, today: date) -> None:
    """Replace every demo row with *data* in one transaction and remember its *key*."""
    import numpy as np

    frames = {
        "demo_src_repos": {**data.repos, "row": np.arange(len(data.repos["full_name"]))},
        "demo_src_plants": {"row": np.arange(len(data.plant_ids)), "id": data.plant_ids},
        "demo_src_activity": data.activity,
        "demo_src_engagement": data.engagement,
        "demo_src_plays": data.plays,
        "demo_src_weather": data.weather,
    }
    with store.transaction() as conn, _registered(conn, frames):
        conn.execute(
            "DELETE FROM repo_languages "
            "WHERE full_name IN (SELECT full_name FROM repos WHERE source = 'demo')"
        )
        for table in ("repos", "plays", "weather_obs", "contributions"):
            conn.execute(f"DELETE FROM {table} WHERE source = 'demo'")
        conn.execute("DELETE FROM demo_activity")
        conn.execute("DELETE FROM demo_engagement")
        # OR REPLACE: a real repository synced under the demo's owner name gives way.
        conn.execute(
            """
            INSERT OR REPLACE INTO repos (full_name, name, description, homepage, html_url,
                language, topics, license, stars, forks, is_fork, is_archived, is_private,
                created_at, pushed_at, activity_status, source)
            SELECT full_name, name, description, NULL, 'https://github.com/' || full_name,
                language, CASE WHEN topics = '' THEN []::VARCHAR[] ELSE string_split(topics, ',') END,
                'MIT', stars, forks, false, archived, false,
                (DATE '1970-01-01' + created)::TIMESTAMP, (DATE '1970-01-01' + pushed)::TIMESTAMP,
                'ok', 'demo'
            FROM demo_src_repos ORDER BY row
            """
        )
        conn.execute(
            "INSERT OR REPLACE INTO repo_languages "
            "SELECT full_name, language, language_bytes FROM demo_src_repos ORDER BY row"
        )
        conn.execute(
            """
            INSERT INTO demo_activity
            SELECT r.full_name, DATE '1970-01-01' + a.day, a.commits, a.stars, a.releases, a.issues
            FROM demo_src_activity a JOIN demo_src_repos r ON a.repo = r.row
            """
        )
        conn.execute(
            """
            INSERT INTO demo_engagement
            SELECT p.id, DATE '1970-01-01' + e.day, e.views, e.interactions
            FROM demo_src_engagement e JOIN demo_src_plants p ON e.plant = p.row
            """
        )
        conn.execute(
            "INSERT OR REPLACE INTO contributions "
            "SELECT day, sum(commits)::INTEGER, 'demo' FROM demo_activity GROUP BY day"
        )
        conn.execute(
            "INSERT INTO plays SELECT 'demo', played_at, 'Demo track ' || track, "
            "'Demo artist ' || (track % 37), valence, energy FROM demo_src_plays"
        )
        conn.execute(
            "INSERT INTO weather_obs SELECT 'demo', observed_at, condition, NULL, temperature, "
            "wind_speed, cloud_cover FROM demo_src_weather"
        )
        midnight = datetime.combine(today, datetime.min.time())
        conn.execute(
            "INSERT OR REPLACE INTO sync_state VALUES "
            "('demo', ?, ?, 'ok', 'demo data (generated)', NULL)",
            [midnight, midnight],
        )
        store.set_meta(conn, "demo_key", key)


@contextmanager
def _registered(
    conn: duckdb.DuckDBPyConnection, frames: Mapping[str, Mapping[str, np.ndarray]]
) -> Iterator[None]:
    """Numpy columns visible to SQL as tables, for the span of the block."""
    registered: list[str] = []
    try:
        for name, frame in frames.items():
            conn.register(name, dict(frame))
            registered.append(name)
        yield
    finally:
        for name in registered:
            conn.unregister(name)
