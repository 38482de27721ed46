"""Repositories in the store: the one :class:`Repo` type, and the SQL of the ``repos`` table.

Sources hand :class:`Repo` rows to :func:`save_repos`; the garden reads them
back with :func:`load_repos`. Private repositories are never written by the
sources (each checks every privacy signal first), and the garden filters again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from greenhouse.store.rows import insert_many

if TYPE_CHECKING:
    import duckdb

    from greenhouse.store import Store


@dataclass(frozen=True)
class Repo:
    """One repository as its forge lists it (and as the ``repos`` table keeps it)."""

    full_name: str
    name: str
    description: str | None = None
    homepage: str | None = None
    html_url: str | None = None
    language: str | None = None
    topics: list[str] = field(default_factory=list)
    stars: int = 0
    forks: int = 0
    is_fork: bool = False
    is_archived: bool = False
    is_private: bool = False
    created_at: datetime | None = None
    pushed_at: datetime | None = None
    source: str = "github"
    license: str | None = None


@dataclass(frozen=True)
class Known:
    """What the store already knows about a repository a source lists again."""

    stars: int
    status: str | None
    #: The ``pushed_at`` whose details are stored (None: never fetched completely).
    details_pushed_at: datetime | None
    last_commit_day: date | None = None


_COLUMNS = (
    "full_name, name, description, homepage, html_url, language, topics, stars, forks, "
    "is_fork, is_archived, is_private, created_at, pushed_at, source, license"
)


def load_repos(store: Store) -> list[Repo]:
    """Every stored repository, by name (private ones included: the garden filters them)."""
    rows = store.conn.execute(f"SELECT {_COLUMNS} FROM repos ORDER BY full_name").fetchall()
    return [
        Repo(
            full_name=r[0], name=r[1], description=r[2], homepage=r[3], html_url=r[4],
            language=r[5], topics=list(r[6] or []), stars=int(r[7] or 0), forks=int(r[8] or 0),
            is_fork=bool(r[9]), is_archived=bool(r[10]), is_private=bool(r[11]),
            created_at=r[12], pushed_at=r[13], source=r[14], license=r[15],
        )
        for r in rows
    ]  # fmt: skip


def load_known(store: Store, source: str) -> dict[str, Known]:
    """Per stored repository of *source*: stars, details status and pushed_at, last commit day."""
    rows = store.conn.execute(
        """
        SELECT r.full_name, r.stars, r.activity_status, r.details_pushed_at,
            (SELECT max(day) FROM activity a WHERE a.full_name = r.full_name AND a.commits > 0)
        FROM repos r WHERE r.source = ?
        """,
        [source],
    ).fetchall()
    return {r[0]: Known(r[1], r[2], r[3], r[4]) for r in rows}


def count_repos(store: Store, source: str) -> int:
    """How many repositories of *source* are stored."""
    row = store.one("SELECT count(*) FROM repos WHERE source = ?", [source])
    return int(row[0]) if row else 0


def save_repos(
    conn: duckdb.DuckDBPyConnection,
    repos: Sequence[Repo],
    known: dict[str, Known],
    today: date,
) -> None:
    """Insert or update listed repositories; stars gained since the last sync land on *today*."""
    rows = [
        (
            r.full_name, r.name, r.description, r.homepage, r.html_url, r.language,
            r.topics, r.stars, r.forks, r.is_fork, r.is_archived, False,
            r.created_at, r.pushed_at, r.source, r.license,
        )
        for r in repos
    ]  # fmt: skip
    gains = []
    for repo in repos:
        before = known.get(repo.full_name)
        if before is not None and repo.stars > before.stars:
            gains.append((repo.full_name, today, repo.stars - before.stars, repo.source))
    write_repos(conn, rows, gains)


def write_repos(
    conn: duckdb.DuckDBPyConnection,
    rows: Sequence[tuple[object, ...]],
    gains: Sequence[tuple[object, ...]],
) -> None:
    """Insert or update public repositories' *rows* (in ``_COLUMNS``' order), then add *gains*.

    A gain is ``(full_name, day, stars, source)``: stars won since the last
    sync, added to that day's activity. Every source's listing ends here.
    """
    insert_many(
        conn,
        f"INSERT INTO repos ({_COLUMNS})",
        list(rows),
        """
        ON CONFLICT (full_name) DO UPDATE SET name = excluded.name,
            description = excluded.description, homepage = excluded.homepage,
            html_url = excluded.html_url, language = excluded.language,
            topics = excluded.topics, license = excluded.license, stars = excluded.stars,
            forks = excluded.forks, is_fork = excluded.is_fork,
            is_archived = excluded.is_archived, is_private = false,
            created_at = excluded.created_at, pushed_at = excluded.pushed_at,
            source = excluded.source
        """,
    )  # fmt: skip
    insert_many(
        conn,
        "INSERT INTO activity (full_name, day, stars, source)",
        list(gains),
        "ON CONFLICT (full_name, day) DO UPDATE SET stars = activity.stars + excluded.stars",
    )


def forget_repos(
    conn: duckdb.DuckDBPyConnection, source: str, names: Sequence[str], cache_prefix: str
) -> None:
    """Remove repositories (and their rows and cached answers) a listing no longer shows."""
    for name in names:
        conn.execute("DELETE FROM repo_languages WHERE full_name = ?", [name])
        conn.execute("DELETE FROM activity WHERE full_name = ? AND source = ?", [name, source])
        conn.execute("DELETE FROM repos WHERE full_name = ? AND source = ?", [name, source])
        # Their cached answers too: a repository that comes back is fetched afresh.
        conn.execute(
            "DELETE FROM http_cache WHERE starts_with(url, ?)", [f"{cache_prefix}/repos/{name}/"]
        )
