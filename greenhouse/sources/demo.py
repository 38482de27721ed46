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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
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


def seed_demo(store: Store, projects: Sequence[Project], config: DemoConfig, today: date) -> bool:
    """Write the demo rows for the span ending *today*; False when they were already there."""
    key = generation_key(projects, config, today)
    if store.get_meta("demo_key") == key:
        return False
    import numpy as np

    repos = demo_repos(projects, config, today)
    start = today - timedelta(days=config.days - 1)
    start_ordinal = (start - EPOCH).days
    activity: dict[str, list[np.ndarray]] = {
        k: [] for k in ("name", "day", "commits", "stars", "releases", "issues")
    }
    engagement: dict[str, list[np.ndarray]] = {
        k: [] for k in ("project", "day", "views", "interactions")
    }
    repo_rows = []
    attached = {p.meta.repo.lower(): p.slug for p in projects if p.meta.repo}
    for repo in repos:
        plant_id = attached.get(repo.full_name.lower(), slugify(repo.name))
        history = _history(repo, config, today)
        active = (
            history["commits"] + history["stars"] + history["releases"] + history["issues"]
        ) > 0
        index = np.flatnonzero(active)
        activity["name"].append(np.full(index.size, repo.full_name, dtype=object))
        activity["day"].append((start_ordinal + index).astype(np.int32))
        for channel in ("commits", "stars", "releases", "issues"):
            activity[channel].append(history[channel][index])
        seen = np.flatnonzero(history["views"] > 0)
        engagement["project"].append(np.full(seen.size, plant_id, dtype=object))
        engagement["day"].append((start_ordinal + seen).astype(np.int32))
        engagement["views"].append(history["views"][seen])
        engagement["interactions"].append(history["interactions"][seen])
        last = (start + timedelta(days=int(index[-1]))) if index.size else repo.created
        repo_rows.append(
            (
                repo.full_name,
                repo.name,
                _description(repo),
                None,
                f"https://github.com/{repo.full_name}",
                repo.language,
                repo.topics,
                "MIT",
                int(history["stars"].sum()) + (40 if repo.profile == "popular" else 0),
                int(history["stars"].sum() // 5),
                False,
                repo.profile == "archived",
                False,
                datetime.combine(repo.created, datetime.min.time()),
                datetime.combine(last, datetime.min.time()),
                "ok",
                "demo",
            )
        )
    with store.transaction() as conn:
        for table in ("repos", "activity", "engagement", "plays", "weather_obs", "contributions"):
            conn.execute(f"DELETE FROM {table} WHERE source = 'demo'")
        conn.execute("DELETE FROM repo_languages WHERE full_name LIKE ?", [DEMO_OWNER + "/%"])
        if repo_rows:  # none when there are no synthetic projects and no content repos
            conn.executemany(
                "INSERT OR REPLACE INTO repos (full_name, name, description, homepage, html_url, language, topics, "
                "license, stars, forks, is_fork, is_archived, is_private, created_at, pushed_at, activity_status, "
                "source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                repo_rows,
            )
            conn.executemany(
                "INSERT OR REPLACE INTO repo_languages VALUES (?, ?, ?)",
                [(r.full_name, r.language, 10000 + _seed(r.full_name) % 90000) for r in repos],
            )
        if repos:
            _bulk(
                conn,
                "activity",
                activity,
                "INSERT OR REPLACE INTO activity SELECT name, DATE '1970-01-01' + day, commits, stars, "
                "releases, issues, 'demo' FROM src",
            )
            _bulk(
                conn,
                "engagement",
                engagement,
                "INSERT OR REPLACE INTO engagement SELECT project, DATE '1970-01-01' + day, views, "
                "interactions, views, 'demo' FROM src",
            )
        conn.execute(
            "INSERT OR REPLACE INTO contributions SELECT day, sum(commits)::INTEGER, 'demo' FROM activity "
            "WHERE source = 'demo' GROUP BY day"
        )
        conn.executemany(
            "INSERT OR REPLACE INTO plays VALUES ('demo', ?, ?, ?, ?, ?)", _plays(config, today)
        )
        conn.executemany(
            "INSERT OR REPLACE INTO weather_obs VALUES ('demo', ?, ?, NULL, ?, ?, ?)",
            _weather(config, today),
        )
        conn.execute(
            "INSERT OR REPLACE INTO sync_state VALUES ('demo', ?, ?, 'ok', 'demo data (generated)', NULL)",
            [datetime.combine(today, datetime.min.time())] * 2,
        )
        store.set_meta(conn, "demo_key", key)
    return True


def _bulk(conn: object, name: str, columns: dict[str, list[np.ndarray]], sql: str) -> None:
    import numpy as np

    frame = {k: np.concatenate(v) if v else np.array([]) for k, v in columns.items()}
    conn.register("src", frame)  # type: ignore[attr-defined]
    try:
        conn.execute(sql)  # type: ignore[attr-defined]
    finally:
        conn.unregister("src")  # type: ignore[attr-defined]


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


def _plays(
    config: DemoConfig, today: date
) -> list[tuple[datetime, str, str, float | None, float | None]]:
    """A few weeks of listening (only recent plays: the APIs never give more)."""
    import numpy as np

    rng = np.random.default_rng(_seed(config.seed, "plays"))
    rows = []
    for back in range(min(config.days, 60)):
        day = today - timedelta(days=back)
        for _ in range(int(rng.integers(4, 30))):
            minute = int(rng.integers(7 * 60, 26 * 60)) % (24 * 60)
            at = datetime.combine(day, datetime.min.time()) + timedelta(
                minutes=minute, seconds=int(rng.integers(60))
            )
            track = int(rng.integers(1, 400))
            has_features = back % 3 != 0  # some plays without features, as with new Spotify apps
            rows.append(
                (
                    at,
                    f"Demo track {track}",
                    f"Demo artist {track % 37}",
                    round(float(rng.beta(4, 3)), 3) if has_features else None,
                    round(float(rng.beta(3, 3)), 3) if has_features else None,
                )
            )
    unique = {row[0]: row for row in rows}
    return [unique[k] for k in sorted(unique)]


def _weather(config: DemoConfig, today: date) -> list[tuple[datetime, str, float, float, float]]:
    import numpy as np

    rng = np.random.default_rng(_seed(config.seed, "weather"))
    rows = []
    for back in range(min(config.days, 120), -1, -1):
        day = today - timedelta(days=back)
        condition = CONDITIONS[int(rng.integers(0, len(CONDITIONS)))]
        if back == 0:
            condition = "sunny"  # the demo's own sky comes from its coding rhythm today
        rows.append(
            (
                datetime.combine(day, datetime.min.time()) + timedelta(hours=12),
                condition,
                round(float(rng.normal(14, 8)), 1),
                round(float(abs(rng.normal(4, 3))), 1),
                round(float(rng.uniform(0, 100)), 0),
            )
        )
    return rows
