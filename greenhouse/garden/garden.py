"""The whole garden at one moment: plants, sky, constellation, history. Pure.

:func:`grow` takes plant specs, their daily activity and the day of the build
and returns plain data for the site to render; it reads no clock and touches
no file, so the same inputs always give the same garden.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from greenhouse.config import Config
from greenhouse.garden import growth as model
from greenhouse.garden.layout import Seedling, place
from greenhouse.garden.plants import PlantSpec
from greenhouse.garden.skills import constellation
from greenhouse.garden.weather import Observation, Play, compute_weather


@dataclass(frozen=True)
class PlantState:
    """One plant as it stands on the day of the build."""

    spec: PlantSpec
    stage: str
    growth: float
    health: float
    height: float
    position: tuple[float, float, float]
    last_activity: date | None
    metrics: dict[str, int]
    why: str
    row: int  # this plant's row in the garden's history arrays


@dataclass
class History:
    """Growth, health and stage of every plant on every snapshot day: ``(plants, snapshots)`` arrays.

    Kept as small arrays, and turned into documents one snapshot at a time, so
    three years of weekly snapshots of a thousand plants cost a few megabytes.
    """

    days: list[date]
    growth: np.ndarray
    health: np.ndarray
    stage: np.ndarray
    planted: np.ndarray  # each plant's planting day, as an index into ``days`` order (day number)
    day_index: np.ndarray  # each snapshot's day index into the activity window
    ids: list[str]
    max_height: float

    def snapshot(self, k: int) -> list[dict[str, object]]:
        """The plants (already planted) on snapshot *k*."""
        column = int(self.day_index[k])
        rows = np.flatnonzero(self.planted <= column)
        growth = _rounded(self.growth[rows, k], 4)
        health = _rounded(self.health[rows, k], 4)
        height = _rounded(self.growth[rows, k].astype(np.float64) * self.max_height, 3)
        stages = self.stage[rows, k].tolist()
        return [
            {
                "id": self.ids[i],
                "stage": model.STAGES[stage],
                "growth": g,
                "health": h,
                "height": t,
            }
            for i, stage, g, h, t in zip(rows.tolist(), stages, growth, health, height, strict=True)
        ]

    def fingerprint(self, k: int) -> str:
        """What snapshot *k* depends on: an unchanged one can reuse an earlier build's document."""
        column = int(self.day_index[k])
        planted = self.planted <= column
        digest = hashlib.blake2b(self._ids_key, digest_size=16)
        digest.update(planted.tobytes())  # which of the plants (ids in order) it holds
        for values in (self.growth, self.health, self.stage):
            digest.update(np.ascontiguousarray(values[planted, k]).tobytes())
        return digest.hexdigest()

    @functools.cached_property
    def _ids_key(self) -> bytes:
        return hashlib.blake2b(repr((self.max_height, self.ids)).encode(), digest_size=16).digest()

    def planted_count(self, k: int) -> int:
        """How many plants snapshot *k* holds."""
        return int(np.count_nonzero(self.planted <= self.day_index[k]))

    def series(self, row: int) -> list[dict[str, object]]:
        """One plant's points on every snapshot day since it was planted."""
        return self.track(row).points()

    def track(self, row: int) -> Track:
        """One plant's history since it was planted, as columns (what :meth:`series` is made of)."""
        # The snapshot days ascend: the plant's are those from the first on or after its
        # planting, a slice (a thousand tracks a build; indexing by the kept days cost twice).
        first = int(np.searchsorted(self.day_index, self.planted[row]))
        stages = _STAGE_NAMES[self.stage[row, first:]].tolist()
        return Track(
            dates=self.dates[first:],
            stages=stages,
            growth=_scaled(self.growth[row, first:], 4).tolist(),
            health=_scaled(self.health[row, first:], 4).tolist(),
        )

    def rows(self, rows: Sequence[int]) -> History:
        """The history of the plants of *rows* alone, in that order (its row ``i`` is ``rows[i]``).

        What a rendering process is sent for the plants it renders
        (:mod:`greenhouse.site.press`): their series, not every plant's.
        """
        index = np.asarray(rows, dtype=np.intp)
        return History(
            days=self.days,
            growth=self.growth[index],
            health=self.health[index],
            stage=self.stage[index],
            planted=self.planted[index],
            day_index=self.day_index,
            ids=[self.ids[row] for row in rows],
            max_height=self.max_height,
        )

    def row_key(self, row: int) -> bytes:
        """Everything :meth:`series` of *row* is made of, as bytes (to tell an unchanged one)."""
        planted = int(self.planted[row]).to_bytes(8, "little", signed=True)
        values = (self.growth[row], self.health[row], self.stage[row])
        return b"".join([planted, self._days_key, *(v.tobytes() for v in values)])

    @functools.cached_property
    def _days_key(self) -> bytes:
        return self.day_index.tobytes() + "|".join(self.dates).encode()

    @functools.cached_property
    def dates(self) -> list[str]:
        """The snapshot days as ISO dates."""
        return [day.isoformat() for day in self.days]


#: Stage names by their index, to look a whole row of stages up at once.
_STAGE_NAMES = np.array(model.STAGES, dtype=object)


def _scaled(values: np.ndarray, digits: int) -> np.ndarray:
    """The whole numbers ``k`` of *values* rounded to *digits* decimals (each is ``k / 10**digits``)."""
    return np.rint(values.astype(np.float64) * 10**digits).astype(np.int64)


def _rounded(values: np.ndarray, digits: int) -> list[float]:
    """Round a whole array at once (the documents carry 3–4 decimals).

    The same floats as ``np.round``, which also scales, rounds half to even and divides.
    """
    return (_scaled(values, digits) / 10**digits).tolist()


@dataclass(frozen=True)
class Track:
    """One plant's history: a snapshot day a point, growth and health in ten-thousandths.

    Whole numbers, so that a page's chart and document can look the printed
    form of each value up instead of formatting a float every point.
    """

    dates: list[str]
    stages: list[str]
    growth: list[int]  # growth rounded to 4 decimals is growth[i] / 10_000
    health: list[int]

    def points(self) -> list[dict[str, object]]:
        """The points as documents and templates see them (:meth:`History.series`)."""
        return [
            {"date": day, "stage": stage, "growth": g / 10_000, "health": h / 10_000}
            for day, stage, g, h in zip(
                self.dates, self.stages, self.growth, self.health, strict=True
            )
        ]


@dataclass(frozen=True)
class Milestone:
    """A stage change worth announcing in the feed."""

    day: date
    plant_id: str
    plant_name: str
    stage: str


@dataclass(frozen=True)
class GardenState:
    """Everything the site renders."""

    today: date
    plants: list[PlantState]
    weather: dict[str, object]
    skills: dict[str, list[dict[str, object]]]
    history: History
    milestones: list[Milestone]


def grow(
    specs: Sequence[PlantSpec],
    activity: model.Activity,
    today: date,
    config: Config,
    declared_skills: Sequence[Mapping[str, object]],
    plays: Sequence[Play] = (),
    observation: Observation | None = None,
    simulated: model.Growth | None = None,
) -> GardenState:
    """Simulate every plant up to *today* and assemble the garden.

    *simulated* is the :func:`~greenhouse.garden.growth.simulate` result of
    these very inputs from an earlier call (a long-running caller keeps it
    while only descriptions change); None simulates.
    """
    plants, days = activity.shape
    planted, archived = simulation_inputs(specs, activity.start)
    result = simulated or model.simulate(activity, planted, archived, config.growth)
    positions = place([Seedling(s.id, s.species, s.planted_on) for s in specs])

    snapshot_days = _snapshot_days(
        activity.start, days, config.history.interval_days, config.history.max_snapshots
    )
    states = _plant_states(specs, activity, result, positions, config)
    now = datetime.combine(today, datetime.min.time())
    daily_total = (
        (activity.commits.sum(axis=0) + activity.releases.sum(axis=0)) if plants else np.zeros(days)
    )
    weather = compute_weather(now, daily_total, list(plays), observation)
    skills = constellation(declared_skills, {s.id: s.skills for s in specs})
    columns = np.array(snapshot_days, dtype=np.int64)
    history = History(
        days=[activity.start + timedelta(days=int(d)) for d in columns],
        growth=result.growth[:, columns],
        health=result.health[:, columns],
        stage=result.stage[:, columns],
        planted=planted,
        day_index=columns,
        ids=[s.id for s in specs],
        max_height=config.growth.max_height,
    )
    return GardenState(
        today=today,
        plants=states,
        weather=weather,
        skills=skills,
        history=history,
        milestones=_milestones(specs, activity, result, planted),
    )


def _snapshot_days(start: date, days: int, interval: int, most: int) -> list[int]:
    """Day indexes of history snapshots: every *interval* days back from the last."""
    last = days - 1
    picks = list(range(last, -1, -interval))[:most]
    return sorted(picks)


def simulation_inputs(specs: Sequence[PlantSpec], start: date) -> tuple[np.ndarray, np.ndarray]:
    """Each plant's planting day (an index from *start*) and whether it is archived."""
    planted = np.array([(s.planted_on - start).days for s in specs], dtype=np.int64)
    archived = np.array([s.archived for s in specs], dtype=bool)
    return planted, archived


def _plant_states(
    specs: Sequence[PlantSpec],
    activity: model.Activity,
    result: model.Growth,
    positions: Mapping[str, tuple[float, float, float]],
    config: Config,
) -> list[PlantState]:
    """Every plant as it stands on the last day (figures computed for all plants at once)."""
    days = activity.shape[1]
    recent = slice(max(0, days - 30), None)
    figures = {
        "commits_30d": activity.commits[:, recent].sum(axis=1),
        "stars_30d": activity.stars[:, recent].sum(axis=1),
        "views_30d": activity.views[:, recent].sum(axis=1),
        "interactions_30d": activity.interactions[:, recent].sum(axis=1),
        "commits_total": activity.commits.sum(axis=1),
        "releases_total": activity.releases.sum(axis=1),
        "idle_days": result.idle_days[:, -1] if days else np.zeros(len(specs)),
    }
    columns = {name: values.tolist() for name, values in figures.items()}
    active = result.units > 0
    # The last active day: the first from the end; -1 for a plant never active.
    last = np.where(active.any(axis=1), days - 1 - np.argmax(active[:, ::-1], axis=1), -1)
    last_days = last.tolist()
    stages = result.stage[:, -1].tolist() if days else [0] * len(specs)
    growths = result.growth[:, -1].tolist() if days else [0.0] * len(specs)
    healths = result.health[:, -1].tolist() if days else [0.0] * len(specs)
    states = []
    for i, spec in enumerate(specs):
        stage = model.STAGES[int(stages[i])]
        metrics = {"stars": spec.stars, "forks": spec.forks}
        metrics.update({name: int(values[i]) for name, values in columns.items()})
        metrics = {key: metrics[key] for key in METRICS}  # the documents' order
        states.append(
            PlantState(
                spec=spec,
                stage=stage,
                growth=round(growths[i], 4),
                health=round(healths[i], 4),
                height=round(growths[i] * config.growth.max_height, 3),
                position=positions[spec.id],
                last_activity=(activity.start + timedelta(days=last_days[i]))
                if last_days[i] >= 0
                else None,
                metrics=metrics,
                why=explain(stage, metrics, spec, config),
                row=i,
            )
        )
    return states


METRICS = (
    "stars",
    "forks",
    "commits_30d",
    "stars_30d",
    "views_30d",
    "interactions_30d",
    "commits_total",
    "releases_total",
    "idle_days",
)


def explain(stage: str, metrics: Mapping[str, int], spec: PlantSpec, config: Config) -> str:
    """Why a plant looks as it does, in one sentence."""
    recent = (
        f"{metrics['commits_30d']} commits in the last 30 days, "
        f"{metrics['stars_30d']} new stars, {metrics['views_30d']} visits"
    )
    if stage == "dormant":
        if spec.archived:
            return "dormant: the repository is archived (it keeps the size it reached)"
        return (
            f"dormant: no activity for {metrics['idle_days']} days "
            f"(after {config.growth.dormant_after_days} a plant rests, keeping its size)"
        )
    return f"{stage}: {recent}"


def _milestones(
    specs: Sequence[PlantSpec], activity: model.Activity, result: model.Growth, planted: np.ndarray
) -> list[Milestone]:
    """Stage changes (and plantings), newest first, at most 100."""
    stage = result.stage
    if stage.size == 0:
        return []
    change = np.zeros_like(stage, dtype=bool)
    change[:, 1:] = stage[:, 1:] != stage[:, :-1]
    rows, cols = np.nonzero(change)
    kept = cols >= planted[rows]
    rows, cols = rows[kept], cols[kept]
    sown = np.flatnonzero((planted >= 0) & (planted < activity.shape[1]))
    # Only the newest 100 are kept: objects are made for the days that can hold them.
    days = np.concatenate([cols, planted[sown]])
    if days.size > MILESTONES:
        newest = np.partition(days, days.size - MILESTONES)[days.size - MILESTONES]
        rows, cols = rows[cols >= newest], cols[cols >= newest]
        sown = sown[planted[sown] >= newest]
    found = [
        Milestone(
            activity.start + timedelta(days=d),
            specs[i].id,
            specs[i].name,
            model.STAGES[int(stage[i, d])],
        )
        for i, d in zip(rows.tolist(), cols.tolist(), strict=True)
    ]
    found += [
        Milestone(specs[i].planted_on, specs[i].id, specs[i].name, "planted") for i in sown.tolist()
    ]
    found.sort(key=lambda m: (m.day, m.plant_id, m.stage), reverse=True)
    return found[:MILESTONES]


MILESTONES = 100
