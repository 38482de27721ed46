"""Repositories from forges (GitLab, Forgejo, plugins): the SQL that stores them.

A forge's source talks HTTP and hands plain rows to these functions, inside
its own checkpoint transactions. The tables are the ones the GitHub source
fills (``repos``, ``repo_languages``, ``activity``) plus ``repo_commits``,
where commit ids make mirrored repositories countable once.

Repository keys carry their forge: ``gitlab:group/project``,
``forgejo:owner/name``. GitHub's keep the plain ``owner/name`` they always
had (see :func:`repo_key`), so stores made before forges existed still match.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import duckdb

from greenhouse.content import repo_key
from greenhouse.sources.run import insert_many

__all__ = [
    "Commits", "ForgeRepo", "KnownRepo", "forget_repos", "known_repos", "mark_fetched",
    "recent_shas", "repo_key", "save_commits", "save_contributions", "save_languages",
    "save_repos",
]  # fmt: skip


@dataclass(frozen=True)
class ForgeRepo:
    """A public repository, as a forge source hands it to the store."""

    key: str
    name: str
    description: str | None = None
    homepage: str | None = None
    html_url: str | None = None
    language: str | None = None
    #: A tuple, so that two rows compare equal when they hold the same topics.
    topics: tuple[str, ...] = ()
    license: str | None = None
    stars: int = 0
    forks: int = 0
    is_fork: bool = False
    is_archived: bool = False
    created_at: datetime | None = None
    #: The forge's "last activity" time; a repository whose value changed needs its details again.
    pushed_at: datetime | None = None


@dataclass(frozen=True)
class KnownRepo:
    """What the store already holds about a repository."""

    stars: int
    pushed_at: datetime | None
    fetched_at: datetime | None
    status: str | None
    language: str | None = None
    #: The newest day with a stored commit id, if any.
    newest_commit_day: date | None = None
    #: The stored row itself, to tell an unchanged listing from a changed one.
    row: ForgeRepo | None = None

    def stale(self, repo: ForgeRepo) -> bool:
        """Whether *repo* (as listed now) needs its languages and commits fetched again."""
        if self.fetched_at is None or self.status == "partial":
            return True
        return self.pushed_at != repo.pushed_at


@dataclass
class Commits:
    """Commit ids of one repository read by a sync: (sha, author day), newest first."""

    key: str
    ids: list[tuple[str, date]] = field(default_factory=list)


def known_repos(conn: duckdb.DuckDBPyConnection, source: str) -> dict[str, KnownRepo]:
    """Every stored repository of *source*, by key."""
    rows = conn.execute(
        """
        SELECT r.full_name, r.name, r.description, r.homepage, r.html_url, r.language, r.topics,
            r.license, r.stars, r.forks, r.is_fork, r.is_archived, r.created_at, r.pushed_at,
            r.fetched_at, r.activity_status,
            (SELECT max(day) FROM repo_commits c WHERE c.repo = r.full_name)
        FROM repos r WHERE r.source = ?
        """,
        [source],
    ).fetchall()
    known = {}
    for r in rows:
        row = ForgeRepo(
            key=r[0], name=r[1], description=r[2], homepage=r[3], html_url=r[4], language=r[5],
            topics=tuple(r[6] or ()), license=r[7], stars=r[8], forks=r[9], is_fork=r[10],
            is_archived=r[11], created_at=r[12], pushed_at=r[13],
        )  # fmt: skip
        known[r[0]] = KnownRepo(r[8], r[13], r[14], r[15], r[5], r[16], row)
    return known


def recent_shas(conn: duckdb.DuckDBPyConnection, key: str, since: date) -> set[str]:
    """The stored commit ids of *key* from *since* on: where a newest-first walk can stop."""
    rows = conn.execute(
        "SELECT sha FROM repo_commits WHERE repo = ? AND day >= ?", [key, since]
    ).fetchall()
    return {r[0] for r in rows}


def save_repos(
    conn: duckdb.DuckDBPyConnection,
    source: str,
    repos: Sequence[ForgeRepo],
    today: date,
    known: Mapping[str, KnownRepo],
) -> None:
    """Insert or update *repos*; stars gained since the last sync land on today's activity.

    A listing without languages (GitLab's) keeps the language learnt earlier.
    """
    from greenhouse.store.repos import write_repos

    rows = [
        (
            r.key, r.name, r.description, r.homepage, r.html_url,
            r.language or (known[r.key].language if r.key in known else None),
            list(r.topics), r.stars, r.forks, r.is_fork, r.is_archived, False,
            r.created_at, r.pushed_at, source, r.license,
        )
        for r in repos
    ]  # fmt: skip
    gains: list[tuple[object, ...]] = [
        (r.key, today, r.stars - known[r.key].stars, source)
        for r in repos
        if r.key in known and r.stars > known[r.key].stars
    ]
    write_repos(conn, rows, gains)


def save_languages(
    conn: duckdb.DuckDBPyConnection, languages: Mapping[str, Mapping[str, int]]
) -> None:
    """Replace the language sizes of each repository key; the largest also becomes its ``language``."""
    keys = list(languages)
    if not keys:
        return
    conn.execute("DELETE FROM repo_languages WHERE list_contains(?, full_name)", [keys])
    insert_many(
        conn,
        "INSERT INTO repo_languages",
        [(key, name, size) for key, sizes in languages.items() for name, size in sizes.items()],
    )
    top = [
        (key, max(sorted(sizes), key=lambda name: sizes[name]))
        for key, sizes in languages.items()
        if sizes
    ]
    insert_many(
        conn,
        "UPDATE repos SET language = v.language FROM (",
        top,
        ") AS v(full_name, language) WHERE repos.full_name = v.full_name",
    )


def save_commits(conn: duckdb.DuckDBPyConnection, source: str, batch: Sequence[Commits]) -> int:
    """Store new commit ids and recount ``activity.commits`` on the days they touch.

    Returns how many ids were new (ids already stored are skipped: re-reading
    an overlap, or a mirror read twice, stores nothing twice).
    """
    ids = sorted({(c.key, sha, day) for c in batch for sha, day in c.ids})
    if not ids:
        return 0
    before = _count(conn, [c.key for c in batch])
    insert_many(conn, "INSERT INTO repo_commits (repo, sha, day)", ids, "ON CONFLICT DO NOTHING")
    touched = sorted({(key, day, source) for key, _, day in ids})
    insert_many(
        conn,
        "INSERT INTO activity (full_name, day, commits, source) "
        "SELECT v.repo, v.day, count(*)::INTEGER, any_value(v.source) FROM repo_commits c JOIN (",
        touched,
        ") AS v(repo, day, source) ON c.repo = v.repo AND c.day = v.day GROUP BY v.repo, v.day "
        "ON CONFLICT (full_name, day) DO UPDATE SET commits = excluded.commits",
    )
    return _count(conn, [c.key for c in batch]) - before


def _count(conn: duckdb.DuckDBPyConnection, keys: list[str]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM repo_commits WHERE list_contains(?, repo)", [keys]
    ).fetchone()
    return int(row[0]) if row else 0


def mark_fetched(
    conn: duckdb.DuckDBPyConnection, statuses: Iterable[tuple[str, str]], when: datetime
) -> None:
    """Record that these repositories' details were fetched (status ``ok``, ``empty``, ``partial``)."""
    insert_many(
        conn,
        "UPDATE repos SET activity_status = v.status, fetched_at = v.fetched FROM (",
        [(key, status, when) for key, status in statuses],
        ") AS v(full_name, status, fetched) WHERE repos.full_name = v.full_name",
    )


def forget_repos(conn: duckdb.DuckDBPyConnection, source: str, keys: Iterable[str]) -> int:
    """Remove repositories a complete listing no longer shows (made private, deleted, excluded)."""
    gone = list(keys)
    for key in gone:
        conn.execute("DELETE FROM repo_languages WHERE full_name = ?", [key])
        conn.execute("DELETE FROM repo_commits WHERE repo = ?", [key])
        conn.execute("DELETE FROM activity WHERE full_name = ? AND source = ?", [key, source])
        conn.execute("DELETE FROM repos WHERE full_name = ? AND source = ?", [key, source])
    return len(gone)


def save_contributions(
    conn: duckdb.DuckDBPyConnection, source: str, days: Mapping[date, int]
) -> None:
    """Replace the owner's daily contribution counts of *source* on these days."""
    insert_many(
        conn,
        "INSERT INTO forge_contributions (source, day, count)",
        [(source, day, count) for day, count in sorted(days.items())],
        "ON CONFLICT (source, day) DO UPDATE SET count = excluded.count",
    )
