"""Deterministic demo activity, so a garden looks alive with no tokens and no network.

The generator writes realistic-looking repositories, daily commits, stars,
releases, issues, visitor attention, music plays and weather into the store,
all with ``source = 'demo'`` so they are never mistaken for real data (the
bundle says ``"demo": true``). The same seed, span and end date always give
the same rows; scaled up (``--projects 1000 --days 1095``) it feeds the
benchmarks.

Each project follows a *profile* that shapes its history — steady, bursty,
fresh, fading, abandoned, archived — assigned in turn so that every stage of
the growth model shows up in the demo garden.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported only when demo rows are (re)generated
    import numpy as np

from greenhouse.config import DemoConfig
from greenhouse.content import Project, slugify
from greenhouse.store import Store

DEMO_OWNER = "greenhouse-demo"
LANGUAGES = (
    "Python",
    "TypeScript",
    "Rust",
    "Go",
    "JavaScript",
    "C",
    "Ruby",
    "Shell",
    "Haskell",
    "Kotlin",
)
TOPICS = (
    "cli",
    "web",
    "data",
    "music",
    "games",
    "visualization",
    "compiler",
    "embedded",
    "api",
    "ml",
)
PROFILES = ("steady", "bursty", "fresh", "fading", "abandoned", "archived", "seedling", "popular")
CONDITIONS = ("sunny", "sunny", "cloudy", "cloudy", "rainy", "foggy", "stormy", "snowy")
EPOCH = date(1970, 1, 1)
# The generator's own source is part of its key: a changed generator regenerates the demo.
_GENERATOR = hashlib.blake2b(Path(__file__).read_bytes(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class DemoRepo:
    """One generated repository and the shape of its history."""

    full_name: str
    name: str
    profile: str
    language: str
    topics: list[str]
    created: date


def _seed(*parts: object) -> int:
    digest = hashlib.blake2b(":".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def demo_repos(projects: Sequence[Project], config: DemoConfig, today: date) -> list[DemoRepo]:
    """The repositories of the demo: content projects with a repo, then synthetic ones."""
    import numpy as np

    names = [
        p.meta.repo for p in projects if p.meta.repo and p.meta.repo.startswith(DEMO_OWNER + "/")
    ]
    names += [f"{DEMO_OWNER}/project-{i:04d}" for i in range(1, config.projects + 1)]
    repos = []
    for index, full_name in enumerate(sorted(set(names), key=str.lower)):
        rng = np.random.default_rng(_seed(config.seed, full_name))
        profile = PROFILES[index % len(PROFILES)]
        if profile == "fresh":
            age = int(rng.integers(20, 60))
        elif profile == "seedling":
            age = int(rng.integers(10, 25))
        else:
            age = int(rng.integers(min(config.days // 2, 300), config.days + 400))
        topics = sorted(
            {TOPICS[int(i)] for i in rng.integers(0, len(TOPICS), size=int(rng.integers(1, 4)))}
        )
        repos.append(
            DemoRepo(
                full_name=full_name,
                name=full_name.split("/", 1)[1],
                profile=profile,
                language=LANGUAGES[int(rng.integers(0, len(LANGUAGES)))],
                topics=topics,
                created=today - timedelta(days=age),
            )
        )
    return repos


def _history(repo: DemoRepo, config: DemoConfig, today: date) -> dict[str, np.ndarray]:
    """Daily commits, stars, releases, issues, views and interactions of one repo."""
    import numpy as np

    days = config.days
    rng = np.random.default_rng(_seed(config.seed, repo.full_name, "history"))
    day_dates = np.arange(days) - (days - 1)  # offsets from today: -(days-1) .. 0
    age = (today - repo.created).days
    alive = day_dates >= -age
    weekday = (np.arange(days) + (today - timedelta(days=days - 1)).weekday()) % 7
    week_factor = np.where(weekday >= 5, 0.35, 1.0)
    rate = {
        "steady": 1.6,
        "bursty": 0.8,
        "fresh": 3.0,
        "fading": 1.2,
        "abandoned": 1.0,
        "archived": 0.9,
        "seedling": 0.5,
        "popular": 2.2,
    }[repo.profile]
    intensity = np.full(days, rate) * week_factor
    if repo.profile == "bursty":
        bursts = rng.random(days) < 0.02
        intensity = intensity * (1 + 12 * np.convolve(bursts, np.ones(10), mode="same"))
    if repo.profile == "fading":
        intensity = intensity * np.exp(day_dates / 120.0)
    if repo.profile in {"abandoned", "archived"}:
        stop = int(rng.integers(200, 400))
        intensity = np.where(day_dates < -stop, intensity, 0.0)
    intensity = np.where(alive, intensity, 0.0)
    commits = rng.poisson(intensity).astype(np.int32)
    star_rate = {"popular": 0.8, "steady": 0.12}.get(repo.profile, 0.04)
    stars = rng.poisson(np.where(alive, star_rate, 0.0), days).astype(np.int32)
    releases = (rng.random(days) < np.where(commits > 0, 0.015, 0.0)).astype(np.int32)
    issues = rng.poisson(intensity * 0.15).astype(np.int32)
    view_rate = np.where(alive, (3.0 if repo.profile == "popular" else 0.8) + 0.3 * commits, 0.0)
    views = rng.poisson(view_rate).astype(np.int32)
    interactions = rng.binomial(views, 0.08).astype(np.int32)
    return {
        "commits": commits,
        "stars": stars,
        "releases": releases,
        "issues": issues,
        "views": views,
        "interactions": interactions,
    }


def generation_key(projects: Sequence[Project], config: DemoConfig, today: date) -> str:
    """What the demo rows depend on; unchanged means nothing to regenerate."""
    repos = sorted(p.meta.repo or "" for p in projects if p.meta.repo)
    return hashlib.blake2b(
        repr(
            (config.seed, config.days, config.projects, today.isoformat(), repos, _GENERATOR)
        ).encode(),
        digest_size=16,
    ).hexdigest()


@dataclass(frozen=True)
class DemoData:
    """Every generated row, column by column: numpy arrays ready for one bulk insert per table.

    Daily rows refer to repositories and plants by index (``repo`` into
    ``repos["full_name"]``, ``plant`` into ``plant_ids``), so a million rows
    carry integers, not a million strings.
    """

    repos: dict[str, np.ndarray]
    activity: dict[str, np.ndarray]
    plant_ids: np.ndarray
    engagement: dict[str, np.ndarray]
    plays: dict[str, np.ndarray]
    weather: dict[str, np.ndarray]


def generate(projects: Sequence[Project], config: DemoConfig, today: date) -> DemoData:
    """The demo rows for the span ending *today* (pure: same inputs, same arrays)."""
    import numpy as np

    repos = demo_repos(projects, config, today)
    start_ordinal = (today - timedelta(days=config.days - 1) - EPOCH).days
    attached = {p.meta.repo.lower(): p.slug for p in projects if p.meta.repo}
    plant_ids = [attached.get(r.full_name.lower(), slugify(r.name)) for r in repos]
    activity: dict[str, list[np.ndarray]] = {
        k: [] for k in ("repo", "day", "commits", "stars", "releases", "issues")
    }
    engagement: dict[str, list[np.ndarray]] = {
        k: [] for k in ("plant", "day", "views", "interactions")
    }
    stars, last_active = [], []
    for row, repo in enumerate(repos):
        history = _history(repo, config, today)
        active = (
            history["commits"] + history["stars"] + history["releases"] + history["issues"]
        ) > 0
        index = np.flatnonzero(active)
        activity["repo"].append(np.full(index.size, row, dtype=np.int32))
        activity["day"].append((start_ordinal + index).astype(np.int32))
        for channel in ("commits", "stars", "releases", "issues"):
            activity[channel].append(history[channel][index])
        seen = np.flatnonzero(history["views"] > 0)
        engagement["plant"].append(np.full(seen.size, row, dtype=np.int32))
        engagement["day"].append((start_ordinal + seen).astype(np.int32))
        engagement["views"].append(history["views"][seen])
        engagement["interactions"].append(history["interactions"][seen])
        stars.append(int(history["stars"].sum()))
        created = (repo.created - EPOCH).days
        last_active.append(start_ordinal + int(index[-1]) if index.size else created)
    star_counts = np.array(stars, dtype=np.int64)
    popular = np.array([r.profile == "popular" for r in repos], dtype=bool)
    return DemoData(
        repos={
            "full_name": _strings([r.full_name for r in repos]),
            "name": _strings([r.name for r in repos]),
            "description": _strings([_description(r) for r in repos]),
            "language": _strings([r.language for r in repos]),
            "topics": _strings([",".join(r.topics) for r in repos]),
            "stars": star_counts + np.where(popular, 40, 0),
            "forks": star_counts // 5,
            "archived": np.array([r.profile == "archived" for r in repos], dtype=bool),
            "created": np.array([(r.created - EPOCH).days for r in repos], dtype=np.int32),
            "pushed": np.array(last_active, dtype=np.int32),
            "language_bytes": np.array(
                [10000 + _seed(r.full_name) % 90000 for r in repos], dtype=np.int64
            ),
        },
        activity=_concatenated(activity),
        plant_ids=_strings(plant_ids),
        engagement=_concatenated(engagement),
        plays=_plays(config, today),
        weather=_weather(config, today),
    )


def seed_demo(store: Store, projects: Sequence[Project], config: DemoConfig, today: date) -> bool:
    """Write the demo rows for the span ending *today*; False when they were already there."""
    from greenhouse.store.demo import replace_demo

    key = generation_key(projects, config, today)
    if store.get_meta("demo_key") == key:
        return False
    replace_demo(store, generate(projects, config, today), key, today)
    return True


def _strings(values: list[str]) -> np.ndarray:
    import numpy as np

    return np.array(values, dtype=object)


def _concatenated(columns: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    import numpy as np

    return {
        name: np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
        for name, parts in columns.items()
    }


def _description(repo: DemoRepo) -> str:
    what = {
        "steady": "a well-tended",
        "bursty": "a weekend-sprint",
        "fresh": "a brand-new",
        "fading": "a once-busy",
        "abandoned": "a resting",
        "archived": "a finished",
        "seedling": "a just-planted",
        "popular": "a much-loved",
    }[repo.profile]
    return f"Demo: {what} {repo.language} project about {', '.join(repo.topics)}."


def _plays(config: DemoConfig, today: date) -> dict[str, np.ndarray]:
    """A few weeks of listening (only recent plays: the APIs never give more)."""
    import numpy as np

    rng = np.random.default_rng(_seed(config.seed, "plays"))
    midnight = np.datetime64(today.isoformat(), "s")
    plays: dict[np.datetime64, tuple[int, float, float]] = {}
    for back in range(min(config.days, 60)):
        day = midnight - np.timedelta64(back, "D")
        for _ in range(int(rng.integers(4, 30))):
            minute = int(rng.integers(7 * 60, 26 * 60)) % (24 * 60)
            at = day + np.timedelta64(minute * 60 + int(rng.integers(60)), "s")
            track = int(rng.integers(1, 400))
            if back % 3 != 0:  # some plays without features, as with new Spotify apps
                features = (round(float(rng.beta(4, 3)), 3), round(float(rng.beta(3, 3)), 3))
            else:
                features = (math.nan, math.nan)  # NaN reaches DuckDB as NULL
            plays[at] = (track, *features)  # one play per second: the last one wins
    times = sorted(plays)
    tracks = np.array([plays[t][0] for t in times], dtype=np.int32)
    return {
        "played_at": np.array(times, dtype="datetime64[us]"),
        "track": tracks,
        "valence": np.array([plays[t][1] for t in times], dtype=np.float64),
        "energy": np.array([plays[t][2] for t in times], dtype=np.float64),
    }


def _weather(config: DemoConfig, today: date) -> dict[str, np.ndarray]:
    """A daily noon observation for the last few months; today is always sunny."""
    import numpy as np

    rng = np.random.default_rng(_seed(config.seed, "weather"))
    noon = np.datetime64(today.isoformat(), "h") + np.timedelta64(12, "h")
    columns: dict[str, list[object]] = {
        "observed_at": [],
        "condition": [],
        "temperature": [],
        "wind_speed": [],
        "cloud_cover": [],
    }
    for back in range(min(config.days, 120), -1, -1):
        condition = CONDITIONS[int(rng.integers(0, len(CONDITIONS)))]
        if back == 0:
            condition = "sunny"  # the demo's own sky comes from its coding rhythm today
        columns["observed_at"].append(noon - np.timedelta64(back, "D"))
        columns["condition"].append(condition)
        columns["temperature"].append(round(float(rng.normal(14, 8)), 1))
        columns["wind_speed"].append(round(float(abs(rng.normal(4, 3))), 1))
        columns["cloud_cover"].append(round(float(rng.uniform(0, 100)), 0))
    return {
        "observed_at": np.array(columns["observed_at"], dtype="datetime64[us]"),
        "condition": np.array(columns["condition"], dtype=object),
        "temperature": np.array(columns["temperature"], dtype=np.float64),
        "wind_speed": np.array(columns["wind_speed"], dtype=np.float64),
        "cloud_cover": np.array(columns["cloud_cover"], dtype=np.float64),
    }
