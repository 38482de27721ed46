"""Reads from the store into the plain data the pure garden core takes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta

import duckdb
import numpy as np

from greenhouse.garden.growth import CHANNELS, Activity
from greenhouse.garden.plants import PlantSpec
from greenhouse.garden.weather import Observation, Play
from greenhouse.store import Store
from greenhouse.store.freshness import freshness
from greenhouse.store.repos import load_repos

__all__ = [
    "activity_span", "data_time", "day_range", "freshness", "is_demo", "latest_observation",
    "load_activity", "load_plays", "load_repos",
]  # fmt: skip

EPOCH = date(1970, 1, 1)


def activity_span(store: Store, specs: Sequence[PlantSpec], today: date) -> date:
    """The first day worth simulating: the earliest planting or recorded activity."""
    row = store.one(
        "SELECT min(day) FROM (SELECT min(day) AS day FROM activity "
        "UNION ALL SELECT min(day) FROM demo_activity)"
    )
    first = [s.planted_on for s in specs] + ([row[0]] if row and row[0] else [])
    # A project planted "tomorrow" (a time zone ahead, or a typo) must not empty the span.
    return min([*first, today])


def load_activity(store: Store, specs: Sequence[PlantSpec], start: date, today: date) -> Activity:
    """Daily activity per plant (rows in *specs* order) from *start* to *today* inclusive.

    Rows are matched to plants inside DuckDB, so only integer columns cross
    into Python (a million rows would otherwise be a million strings).
    """
    days = (today - start).days + 1
    activity = Activity.zeros(start, len(specs), days)
    offset = (start - EPOCH).days
    joined = {i: _keys(s) for i, s in enumerate(specs)}
    repo_keys = [(keys[0].lower(), i) for i, keys in joined.items() if len(keys) == 1]
    plant_keys = [(s.id, i) for i, s in enumerate(specs)]
    # Real rows and the demo generator's add up; each table holds one row per
    # (repository or plant, day) once grouped, so its rows are added in one go.
    for table in ("activity", "demo_activity"):
        rows = _matched(
            store,
            repo_keys,
            "SELECT k.row, (a.day - DATE '1970-01-01')::INTEGER AS d, a.commits, a.stars, "
            f"a.releases, a.issues FROM {table} a JOIN keys k ON lower(a.full_name) = k.key "
            "WHERE a.day BETWEEN ? AND ?",
            [start, today],
        )
        _scatter(activity, rows, offset, ("commits", "stars", "releases", "issues"))
    # Plants joining several repositories (mirrors) are real repositories: no demo rows.
    several = [(key.lower(), i) for i, keys in joined.items() if len(keys) > 1 for key in keys]
    _scatter(
        activity,
        _matched(store, several, JOINED_ACTIVITY, [start, today, start, today], " GROUP BY ALL"),
        offset,
        ("commits", "stars", "releases", "issues"),
    )
    seen = _matched(
        store,
        plant_keys,
        "SELECT k.row, (e.day - DATE '1970-01-01')::INTEGER AS d, sum(e.views) AS views, "
        "sum(e.interactions) AS interactions "
        "FROM engagement e JOIN keys k ON e.project = k.key WHERE e.day BETWEEN ? AND ?",
        [start, today],
        " GROUP BY ALL",  # visits of several sources on the same day add up
    )
    _scatter(activity, seen, offset, ("views", "interactions"))
    generated = _matched(
        store,
        plant_keys,
        "SELECT k.row, (e.day - DATE '1970-01-01')::INTEGER AS d, e.views, e.interactions "
        "FROM demo_engagement e JOIN keys k ON e.project = k.key WHERE e.day BETWEEN ? AND ?",
        [start, today],
    )
    _scatter(activity, generated, offset, ("views", "interactions"))
    return activity


def _keys(spec: PlantSpec) -> tuple[str, ...]:
    return spec.repos or ((spec.repo,) if spec.repo else ())


#: Activity of plants that join several repositories (mirrors): stars, releases and
#: issues add up; commits are the day's distinct commit ids where the forges list
#: them, and never fewer than the busiest single repository's count (GitHub's
#: statistics have no ids, so a mirror there can only be matched day by day).
JOINED_ACTIVITY = """
    WITH per_repo AS (
        SELECT k.row, a.day, a.commits, a.stars, a.releases, a.issues
        FROM activity a JOIN keys k ON lower(a.full_name) = k.key
        WHERE a.day BETWEEN ? AND ?
    ), ids AS (
        SELECT k.row, c.day, count(DISTINCT c.sha) AS distinct_commits
        FROM repo_commits c JOIN keys k ON lower(c.repo) = k.key
        WHERE c.day BETWEEN ? AND ? GROUP BY ALL
    )
    SELECT k.row, (k.day - DATE '1970-01-01')::INTEGER AS d,
        greatest(max(k.commits), coalesce(any_value(i.distinct_commits), 0))::INTEGER AS commits,
        sum(k.stars)::INTEGER AS stars, sum(k.releases)::INTEGER AS releases,
        sum(k.issues)::INTEGER AS issues
    FROM per_repo k LEFT JOIN ids i ON i.row = k.row AND i.day = k.day
    WHERE true"""


def _matched(
    store: Store, keys: list[tuple[str, int]], sql: str, params: list[object], tail: str = ""
) -> Iterator[dict[str, np.ndarray]]:
    """Run *sql* against a ``keys`` table (key -> plant row), a block of plants at a time.

    Blocks keep DuckDB's result and the fetched columns small whatever the
    size of the garden.
    """
    if not keys:
        return
    frame = {
        "key": np.array([k for k, _ in keys], dtype=object),
        "row": np.array([i for _, i in keys], dtype=np.int32),
    }
    store.conn.register("keys", frame)
    try:
        rows = max(i for _, i in keys) + 1
        for first in range(0, rows, PLANT_BLOCK):
            yield store.conn.execute(
                sql + " AND k.row >= ? AND k.row < ?" + tail, [*params, first, first + PLANT_BLOCK]
            ).fetchnumpy()
    finally:
        # Closed already when an interrupted build drops this generator: nothing to undo.
        with contextlib.suppress(duckdb.ConnectionException):
            store.conn.unregister("keys")


PLANT_BLOCK = 1000  # ~8 MB of fetched columns per block at three years of daily rows


def _scatter(
    activity: Activity,
    blocks: Iterator[dict[str, np.ndarray]],
    offset: int,
    channels: Sequence[str],
) -> None:
    days = activity.shape[1]
    for rows in blocks:
        if not len(rows["row"]):
            continue
        # One flat index per row, shared by every channel: take() and put() with it
        # cost half of indexing the 2-D array with two.
        at = rows["row"].astype(np.int64) * days + (rows["d"].astype(np.int64) - offset)
        for channel in channels:
            assert channel in CHANNELS
            # (plant, day) pairs are unique within one query's rows, so += adds each once.
            counts = getattr(activity, channel)
            values = counts.take(at) + np.asarray(rows[channel], dtype=np.int64)
            np.put(counts, at, np.clip(values, 0, np.iinfo(np.uint16).max))


def load_plays(store: Store, since: datetime) -> list[Play]:
    """Plays since a moment, oldest first."""
    rows = store.conn.execute(
        "SELECT played_at, valence, energy FROM plays WHERE played_at >= ? ORDER BY played_at",
        [since],
    ).fetchall()
    return [Play(r[0], r[1], r[2]) for r in rows]


def latest_observation(store: Store, until: datetime) -> Observation | None:
    """The most recent weather observation at or before *until*."""
    row = store.one(
        "SELECT observed_at, condition, temperature, wind_speed, cloud_cover FROM weather_obs "
        "WHERE observed_at <= ? ORDER BY observed_at DESC LIMIT 1",
        [until],
    )
    return Observation(*row) if row else None


def data_time(store: Store) -> datetime | None:
    """The moment the data describes: the latest successful sync of any source."""
    return store.data_time()


def is_demo(store: Store) -> bool:
    """Whether any demo rows are in the store."""
    row = store.one("SELECT count(*) FROM repos WHERE source = 'demo'")
    return bool(row and row[0])


def day_range(start: date, days: int) -> list[date]:
    """Dates from *start*, *days* long."""
    return [start + timedelta(days=i) for i in range(days)]
