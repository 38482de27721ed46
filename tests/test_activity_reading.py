"""Reading the store's activity into the simulation's arrays: every row on its plant and day.

A real DuckDB file holds real and demo rows for several plants; the arrays
``load_activity`` returns must hold each row's counts in the cell of its own
plant and day, nothing anywhere else, real and demo rows of one day added up,
and a day's count saturating at the arrays' uint16 ceiling.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np

from greenhouse.garden.growth import CHANNELS
from greenhouse.garden.plants import PlantSpec
from greenhouse.store import Store
from greenhouse.store.queries import load_activity

TODAY = date(2026, 11, 30)
START = TODAY - timedelta(days=99)


def spec(plant_id: str, repo: str) -> PlantSpec:
    return PlantSpec(
        id=plant_id,
        name=plant_id,
        description="",
        species="fern",
        skills=[],
        planted_on=START,
        archived=False,
        pinned=False,
        repo=repo,
        repos=(repo,),
    )


def test_each_stored_row_lands_on_its_plant_and_day(tmp_path: Path) -> None:
    # Plants in an order unlike the rows': the row index and the day index must not swap.
    specs = [spec("gamma", "me/Gamma"), spec("alpha", "me/alpha"), spec("beta", "me/beta")]
    expected = {channel: np.zeros((len(specs), 100), dtype=np.int64) for channel in CHANNELS}
    rng = np.random.default_rng(7)
    activity_rows, demo_rows, seen_rows, demo_seen_rows = [], [], [], []
    for row, s in enumerate(specs):
        repo = str(s.repo)
        for day in sorted(rng.choice(99, size=30, replace=False)):  # today is kept apart
            when = START + timedelta(days=int(day))
            real = [int(v) for v in rng.integers(0, 50, size=4)]
            demo = [int(v) for v in rng.integers(0, 50, size=4)]
            # the store keeps the forge's spelling; plants match it case-blind
            activity_rows.append((repo.upper() if row == 0 else repo, when, *real, "github"))
            demo_rows.append((repo, when, *demo))
            views = [int(v) for v in rng.integers(0, 50, size=2)]
            generated = [int(v) for v in rng.integers(0, 50, size=2)]
            seen_rows.append((s.id, when, *views, 1, "sidecar"))
            demo_seen_rows.append((s.id, when, *generated))
            for i, channel in enumerate(("commits", "stars", "releases", "issues")):
                expected[channel][row, day] = real[i] + demo[i]
            for i, channel in enumerate(("views", "interactions")):
                expected[channel][row, day] = views[i] + generated[i]
    # outside the span, or of no plant: read by nobody
    activity_rows.append(("me/alpha", START - timedelta(days=1), 9, 9, 9, 9, "github"))
    activity_rows.append(("someone/else", TODAY, 9, 9, 9, 9, "github"))
    # a day past the uint16 ceiling saturates there rather than wrapping around
    activity_rows.append(("me/beta", TODAY, 70_000, 0, 0, 0, "github"))
    expected["commits"][2, 99] = 65_535

    with Store.open(tmp_path / "g.duckdb") as store:
        conn = store.conn
        conn.executemany("INSERT INTO activity VALUES (?, ?, ?, ?, ?, ?, ?)", activity_rows)
        conn.executemany("INSERT INTO demo_activity VALUES (?, ?, ?, ?, ?, ?)", demo_rows)
        conn.executemany("INSERT INTO engagement VALUES (?, ?, ?, ?, ?, ?)", seen_rows)
        conn.executemany("INSERT INTO demo_engagement VALUES (?, ?, ?, ?)", demo_seen_rows)
        activity = load_activity(store, specs, START, TODAY)

    assert activity.shape == (3, 100)
    for channel in CHANNELS:
        got = getattr(activity, channel)
        assert got.dtype == np.uint16
        np.testing.assert_array_equal(got, expected[channel], err_msg=channel)
