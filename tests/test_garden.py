"""Properties of the pure garden core (Hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from greenhouse.config import GrowthConfig
from greenhouse.garden import growth
from greenhouse.garden.growth import DORMANT, STAGES, Activity, simulate
from greenhouse.garden.layout import MAX_SHIFT, Seedling, place
from greenhouse.garden.skills import constellation, skill_key
from greenhouse.garden.weather import Observation, compute_weather

PARAMS = GrowthConfig()
DAYS = 200
counts = arrays(np.float32, (DAYS,), elements=st.integers(0, 20).map(float))


def activity_of(*rows: np.ndarray) -> Activity:
    commits = np.stack(rows)
    zeros = np.zeros_like(commits)
    return Activity(date(2024, 1, 1), commits, zeros, zeros, zeros, zeros, zeros)


def run(*rows: np.ndarray, archived: bool = False):
    n = len(rows)
    return simulate(activity_of(*rows), np.zeros(n, dtype=np.int64), np.full(n, archived), PARAMS)


@given(counts, counts)
def test_more_activity_never_makes_a_plant_smaller(base: np.ndarray, extra: np.ndarray) -> None:
    less, more = run(base), run(base + extra)
    assert np.all(more.growth >= less.growth)


@given(counts)
def test_growth_and_health_stay_in_range_and_growth_never_shrinks(commits: np.ndarray) -> None:
    result = run(commits)
    assert np.all((result.growth >= 0) & (result.growth <= 1))
    assert np.all((result.health >= 0) & (result.health <= 1))
    assert np.all(np.diff(result.growth[0]) >= 0)


@given(counts, st.integers(PARAMS.dormant_after_days, DAYS - 1))
def test_no_activity_for_n_days_means_dormant(commits: np.ndarray, quiet: int) -> None:
    commits = commits.copy()
    commits[DAYS - quiet :] = 0
    result = run(commits)
    assert result.stage[0, -1] == DORMANT
    assert result.growth[0, -1] == result.growth[0, DAYS - quiet - 1]  # it keeps its size


@given(counts)
def test_same_inputs_same_outputs(commits: np.ndarray) -> None:
    a, b = run(commits), run(commits.copy())
    for field in ("growth", "health", "stage", "idle_days"):
        assert np.array_equal(getattr(a, field), getattr(b, field))


@given(counts, counts, counts)
def test_one_plant_never_changes_another(
    mine: np.ndarray, other: np.ndarray, changed: np.ndarray
) -> None:
    together = run(mine, other)
    alone = run(mine)
    swapped = run(mine, changed)
    assert np.array_equal(together.growth[0], alone.growth[0])
    assert np.array_equal(together.stage[0], swapped.stage[0])


@pytest.mark.parametrize("threads", [2, 3])
def test_blocks_simulated_on_several_threads_give_the_one_thread_result(
    monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    rng = np.random.default_rng(7)
    plants = growth.BLOCK * 3 + 5  # four blocks, the last one short
    commits = rng.poisson(0.4, (plants, DAYS)).astype(np.float32)
    commits[::7, 50:] = 0  # some plants go quiet long enough to be dormant
    planted = rng.integers(-20, DAYS // 2, plants)
    archived = rng.random(plants) < 0.05
    monkeypatch.setattr(growth, "cores", lambda: 1)
    alone = simulate(activity_of(*commits), planted, archived, PARAMS)
    monkeypatch.setattr(growth, "cores", lambda: threads)
    shared = simulate(activity_of(*commits), planted, archived, PARAMS)
    for field in ("growth", "health", "stage", "idle_days", "units"):
        assert np.array_equal(getattr(alone, field), getattr(shared, field)), field
    assert set(np.unique(alone.stage)) >= {DORMANT, STAGES.index("seed")}


def test_archived_is_dormant_but_keeps_size() -> None:
    commits = np.full(DAYS, 3.0, dtype=np.float32)
    archived, live = run(commits, archived=True), run(commits)
    assert STAGES[archived.stage[0, -1]] == "dormant"
    assert archived.growth[0, -1] == live.growth[0, -1]


def test_stages_follow_activity() -> None:
    silent = np.zeros(DAYS, dtype=np.float32)
    busy = np.full(DAYS, 6.0, dtype=np.float32)
    result = run(silent, busy)
    assert STAGES[result.stage[0, 5]] == "seed"
    assert STAGES[result.stage[1, -1]] == "blooming"


seedlings = st.lists(
    st.tuples(
        st.from_regex(r"[a-z]{1,8}", fullmatch=True),
        st.sampled_from(["fern", "oak", "moss", "rose"]),
        st.integers(0, 2000),
    ),
    min_size=1,
    max_size=120,
    unique_by=lambda t: t[0],
).map(lambda rows: [Seedling(i, bed, date(2020, 1, 1) + timedelta(days=d)) for i, bed, d in rows])


def dist(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    return float(np.linalg.norm(np.subtract(a, b)))


@settings(max_examples=60)
@given(seedlings)
def test_layout_never_overlaps(plants: list[Seedling]) -> None:
    positions = place(plants)
    points = list(positions.values())
    assert len(set(points)) == len(points)
    arr = np.array(points)
    if len(arr) > 1:
        gaps = np.linalg.norm(arr[:, None, :] - arr[None, :, :], axis=-1) + np.eye(len(arr)) * 99
        assert (
            gaps.min() >= 0.99
        )  # one slot apart at least; a plant's footprint stays within half a slot


@settings(max_examples=60)
@given(seedlings, st.sampled_from(["fern", "oak", "cactus"]))
def test_adding_a_new_project_moves_nobody(plants: list[Seedling], bed: str) -> None:
    before = place(plants)
    newest = Seedling("zz-new", bed, date(2030, 1, 1))
    after = place([*plants, newest])
    assert all(after[p.id] == before[p.id] for p in plants)


@settings(max_examples=60)
@given(seedlings, st.data())
def test_removing_a_project_moves_others_by_a_small_bound(
    plants: list[Seedling], data: st.DataObject
) -> None:
    gone = data.draw(st.sampled_from(plants))
    before = place(plants)
    after = place([p for p in plants if p.id != gone.id])
    for plant in plants:
        if plant.id == gone.id:
            continue
        moved = dist(before[plant.id], after[plant.id])
        assert moved <= MAX_SHIFT + 1e-9
        if moved:
            assert plant.bed == gone.bed  # only its own bed can be affected


def test_constellation_weights_co_occurrence() -> None:
    graph = constellation(
        [{"name": "Python", "category": "language", "level": 5}],
        {"a": ["Python", "numpy"], "b": ["Python", "numpy"], "c": ["Python", "cli"]},
    )
    ids = [n["id"] for n in graph["nodes"]]
    assert ids == ["cli", "numpy", "python"]
    edges = {(e["source"], e["target"]): e["weight"] for e in graph["edges"]}
    assert edges[("numpy", "python")] > edges[("cli", "python")]
    python = next(n for n in graph["nodes"] if n["id"] == "python")
    assert python["level"] == 5 and python["projects"] == ["a", "b", "c"]


@settings(max_examples=60)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z]{1,6}", fullmatch=True),
        st.lists(st.sampled_from(["Python", "python", "Rust", "Go", "C++", "SQL", "Web UI"])),
        max_size=12,
    )
)
def test_each_edge_counts_the_plants_that_share_its_two_skills(
    plant_skills: dict[str, list[str]],
) -> None:
    sky = constellation([], plant_skills)
    keys = {p: {skill_key(s) for s in skills} for p, skills in plant_skills.items()}
    expected = {}
    for a in {k for ks in keys.values() for k in ks}:
        for b in {k for ks in keys.values() for k in ks}:
            shared = sum(1 for ks in keys.values() if a in ks and b in ks)
            if a < b and shared:
                expected[a, b] = shared
    assert {(e["source"], e["target"]): e["shared"] for e in sky["edges"]} == expected


def test_weather_follows_rhythm_and_rain_outside() -> None:
    from datetime import datetime

    now = datetime(2024, 6, 1, 12)
    steady = np.full(100, 3.0)
    crunch = steady.copy()
    crunch[-7:] = 20
    silent = steady.copy()
    silent[-7:] = 0
    assert compute_weather(now, steady, [], None)["condition"] == "sunny"
    assert compute_weather(now, crunch, [], None)["condition"] == "stormy"
    assert compute_weather(now, silent, [], None)["condition"] == "foggy"
    rain = Observation(now, "rainy", 12.0, 3.0, 90.0)
    assert compute_weather(now, steady, [], rain)["condition"] == "rainy"
    stale_rain = Observation(now - timedelta(days=3), "rainy")
    assert compute_weather(now, steady, [], stale_rain)["condition"] == "sunny"


def milestones_in_full(specs, start: date, stage: np.ndarray, planted: np.ndarray) -> list:  # type: ignore[no-untyped-def]
    """Every stage change and planting, sorted newest first: the plain definition."""
    from greenhouse.garden.garden import Milestone

    found = []
    for i in range(stage.shape[0]):
        for d in range(1, stage.shape[1]):
            if stage[i, d] != stage[i, d - 1] and d >= planted[i]:
                found.append(
                    Milestone(
                        start + timedelta(days=d), specs[i].id, specs[i].name, STAGES[stage[i, d]]
                    )
                )
        if 0 <= planted[i] < stage.shape[1]:
            found.append(Milestone(specs[i].planted_on, specs[i].id, specs[i].name, "planted"))
    found.sort(key=lambda m: (m.day, m.plant_id, m.stage), reverse=True)
    return found[:100]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 40).flatmap(
        lambda plants: st.tuples(
            arrays(np.int8, (plants, 60), elements=st.integers(0, 5)),
            arrays(np.int64, (plants,), elements=st.integers(-5, 70)),
        )
    )
)
def test_milestones_are_the_newest_hundred_changes(case: tuple[np.ndarray, np.ndarray]) -> None:
    from types import SimpleNamespace

    from greenhouse.garden.garden import _milestones

    stage, planted = case
    start = date(2024, 1, 1)
    specs = [
        SimpleNamespace(id=f"p{i % 7}-{i}", name=f"P{i}", planted_on=start + timedelta(days=int(p)))
        for i, p in enumerate(planted)
    ]
    activity = SimpleNamespace(start=start, shape=stage.shape)
    result = SimpleNamespace(stage=stage)
    got = _milestones(specs, activity, result, planted)  # type: ignore[arg-type]
    assert got == milestones_in_full(specs, start, stage, planted)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.dates(date(2000, 1, 1), date(2100, 1, 1)),
            st.sampled_from(STAGES),
            st.floats(0, 1),
            st.floats(0, 1),
        ),
        max_size=40,
    ),
    st.integers(0, 6),
)
def test_a_plants_history_is_encoded_as_dumps_would(points: list, digits: int) -> None:  # type: ignore[type-arg]
    from greenhouse.site.bundle import dumps, dumps_spliced
    from greenhouse.site.render import series_json

    series = [
        {"date": d.isoformat(), "stage": s, "growth": round(g, digits), "health": round(h, digits)}
        for d, s, g, h in points
    ]
    assert series_json(series) == dumps(series)
    document = {"plant": {"id": "x", "name": 'a "quoted" ñame'}, "schema_version": 1}
    assert dumps_spliced(document, {"history": series_json(series)}) == dumps(
        {**document, "history": series}
    )


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True),
            st.sampled_from(STAGES),
            st.floats(0, 1),
            st.floats(0, 1),
            st.floats(0, 40),
        ),
        max_size=40,
    ),
    st.integers(0, 6),
)
def test_a_snapshot_is_encoded_as_dumps_would(plants: list, digits: int) -> None:  # type: ignore[type-arg]
    from greenhouse.site.bundle import dumps
    from greenhouse.site.render import snapshot_json

    points = [
        {"id": i, "stage": s, "growth": round(g, digits), "health": round(h, digits), "height": t}
        for i, s, g, h, t in plants
    ]
    assert snapshot_json(points) == dumps(points)
