"""The GitHub source's SQL: per-repository details, the contribution calendar, look-ups.

:mod:`greenhouse.sources.github` talks HTTP and hands plain rows here; every
function writes inside the caller's transaction, so a checkpoint stores the
rows together with the cache validators and cursor they belong to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from greenhouse.store.rows import insert_many

if TYPE_CHECKING:
    import duckdb

    from greenhouse.store import Store

SOURCE = "github"


@dataclass
class Details:
    """What the per-repository requests found about one repository."""

    full_name: str
    status: str = "ok"  # ok | pending | empty
    #: Weekly statistics: (Sunday, seven daily counts), oldest first; [] = none this year.
    weeks: list[tuple[date, list[int]]] | None = None
    languages: dict[str, int] | None = None
    #: Commits per day read from /commits while statistics are pending.
    recent: dict[date, int] | None = None
    #: The listing's pushed_at these details answer (None: ask again next sync).
    pushed_at: datetime | None = None
    cache_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Lookup:
    """A repository a content file names that the owner's listing does not show."""

    full_name: str
    status: str  # renamed | missing | elsewhere
    target: str | None = None


def save_details(
    conn: duckdb.DuckDBPyConnection, batch: Sequence[Details], known: set[str], now: datetime
) -> None:
    """Store a batch of finished repositories: daily commits, languages, status."""
    commits: dict[tuple[str, date], int] = {}
    for details in batch:
        if details.weeks and details.full_name in known:
            first = details.weeks[0][0]
            last = details.weeks[-1][0] + timedelta(days=6)
            # Days that lost their commits (force-push) go back to zero.
            conn.execute(  # one statement per known repo, only when it was pushed
                "UPDATE activity SET commits = 0 "
                "WHERE full_name = ? AND day BETWEEN ? AND ? AND commits <> 0",
                [details.full_name, first, last],
            )
        for start, counts in details.weeks or []:
            for offset, count in enumerate(counts):
                if count:
                    commits[(details.full_name, start + timedelta(days=offset))] = count
        for day, count in (details.recent or {}).items():
            commits[(details.full_name, day)] = count
    insert_many(
        conn,
        "INSERT INTO activity (full_name, day, commits, source)",
        [(name, day, count, SOURCE) for (name, day), count in sorted(commits.items())],
        "ON CONFLICT (full_name, day) DO UPDATE SET commits = excluded.commits",
    )
    with_languages = [d for d in batch if d.languages is not None]
    if with_languages:
        names = [d.full_name for d in with_languages]
        conn.execute(
            f"DELETE FROM repo_languages WHERE full_name IN ({', '.join('?' * len(names))})",
            names,
        )
        insert_many(
            conn,
            "INSERT INTO repo_languages",
            [
                (d.full_name, language, size)
                for d in with_languages
                for language, size in (d.languages or {}).items()
            ],
        )
    insert_many(
        conn,
        "UPDATE repos SET activity_status = v.status, fetched_at = v.fetched, "
        "details_pushed_at = v.pushed FROM (",
        [(d.full_name, d.status, now, d.pushed_at) for d in batch],
        ") AS v(full_name, status, fetched, pushed) WHERE repos.full_name = v.full_name",
    )


def save_calendar(conn: duckdb.DuckDBPyConnection, days: Sequence[tuple[date, int]]) -> None:
    """The owner's contributions per day (GraphQL's contribution calendar)."""
    insert_many(
        conn,
        "INSERT INTO contributions (day, count, source)",
        [(day, count, SOURCE) for day, count in days],
        "ON CONFLICT (day) DO UPDATE SET count = excluded.count, source = excluded.source",
    )


def save_lookups(
    conn: duckdb.DuckDBPyConnection,
    lookups: Sequence[Lookup],
    checked: Sequence[str],
    now: datetime,
) -> None:
    """Replace the look-ups of the repositories in *checked* with what was found."""
    for name in checked:
        conn.execute("DELETE FROM repo_lookups WHERE full_name = ?", [name])
    insert_many(
        conn,
        "INSERT INTO repo_lookups (full_name, status, target, checked_at)",
        [(lookup.full_name, lookup.status, lookup.target, now) for lookup in lookups],
    )


def load_lookups(store: Store) -> dict[str, Lookup]:
    """What the last sync found about repositories content files name (lower-cased keys)."""
    exists = store.one(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'repo_lookups'"
    )
    if not exists or not exists[0]:
        return {}
    rows = store.conn.execute("SELECT full_name, status, target FROM repo_lookups").fetchall()
    return {r[0].lower(): Lookup(r[0], r[1], r[2]) for r in rows}
