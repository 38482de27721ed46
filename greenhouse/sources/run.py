"""One source's run: what a source is handed, and what it hands back.

A :class:`SourceRun` bundles the store, the config, the secrets, the polite
client options and the reporter, plus the source's cursor in ``sync_state``,
its rate-limit budgets (loaded from the store, saved back after the run) and
its deadline (``time_budget`` of its config section). Sources write only
through ``store.transaction()``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from greenhouse.config import Config, Secrets
from greenhouse.sources.http import (
    HttpCache,
    HttpOptions,
    PoliteClient,
    RateLimitHeaders,
    RateLimits,
    Scrubber,
)
from greenhouse.sources.progress import NullReporter, Progress, Reporter
from greenhouse.store import Store
from greenhouse.store.limits import load_budgets, save_budgets
from greenhouse.store.rows import insert_many

__all__ = ["Outcome", "SourceRun", "insert_many", "parse_time", "utc_naive"]


@dataclass
class Outcome:
    """How a source ended: ``ok`` or ``partial`` (stopped early, kept what it had)."""

    status: str
    summary: str
    message: str | None = None


@dataclass
class SourceRun:
    """Everything one source needs for one sync."""

    name: str
    store: Store
    config: Config
    secrets: Secrets
    options: HttpOptions = field(default_factory=HttpOptions)
    reporter: Reporter = field(default_factory=NullReporter)
    scrub: Scrubber = field(default_factory=Scrubber)
    warnings: list[str] = field(default_factory=list)
    clients: list[PoliteClient] = field(default_factory=list)
    #: The site folder, for relative paths in the config (``[live] event_dir``).
    root: Path | None = None
    #: This source's validated ``[name]`` section (its declared config model), if any.
    section: Any = None
    limits: RateLimits = field(default_factory=RateLimits)
    #: ``time.monotonic()`` past which the source's clients send nothing (None: no limit).
    deadline: float | None = None
    time_budget: float | None = None

    def __post_init__(self) -> None:
        if self.section is None:
            self.section = getattr(self.config, self.name, None)
        budget = getattr(self.section, "time_budget", None)
        if isinstance(budget, int | float) and self.deadline is None:
            self.time_budget = float(budget)
            self.deadline = time.monotonic() + float(budget)
        self.limits = RateLimits(load_budgets(self.store, self.name).values())

    def secret(self, name: str) -> str | None:
        """The secret environment variable *name* (declared by the source), if set."""
        return self.secrets.get(name)

    def section_value(self, key: str, default: Any) -> Any:
        """A key of this source's own config section (e.g. ``max_rate_limit_wait``)."""
        return getattr(self.section, key, default)

    def save_limits(self) -> None:
        """Keep the budgets whose reset is still ahead for the next run."""
        save_budgets(self.store, self.name, self.limits.states(self.options.clock()))

    def now(self) -> datetime:
        """The current time, naive UTC (the store's convention), from the injectable clock."""
        return datetime.fromtimestamp(self.options.clock(), UTC).replace(tzinfo=None)

    def client(
        self,
        cache_prefix: str,
        *,
        headers: dict[str, str] | None = None,
        concurrency: int = 2,
        max_rate_limit_wait: float | None = None,
        budget_of: Any = None,
        wait_unhinted: bool = False,
        limit_headers: RateLimitHeaders | None = None,
    ) -> PoliteClient:
        """A polite client whose conditional cache covers URLs under *cache_prefix*.

        The wait for a rate limit is bounded by the source's own
        ``max_rate_limit_wait`` unless given; the client shares the run's
        budgets and deadline. *limit_headers* names the upstream's rate-limit
        headers (GitHub's by default).
        """
        cache = HttpCache.load(self.store.conn, cache_prefix, self.store)
        if max_rate_limit_wait is None:
            max_rate_limit_wait = float(self.section_value("max_rate_limit_wait", 60.0))
        client = PoliteClient(
            self.name,
            headers=headers,
            options=self.options,
            cache=cache,
            concurrency=concurrency,
            max_rate_limit_wait=max_rate_limit_wait,
            scrub=self.scrub,
            limits=self.limits,
            budget_of=budget_of,
            deadline=self.deadline,
            time_budget=self.time_budget,
            wait_unhinted=wait_unhinted,
            limit_headers=limit_headers,
        )
        self.clients.append(client)
        return client

    def close(self) -> None:
        """Close every client opened for this run."""
        for client in self.clients:
            client.close()

    @property
    def requests(self) -> int:
        return sum(c.counters.requests for c in self.clients)

    @property
    def not_modified(self) -> int:
        return sum(c.counters.not_modified for c in self.clients)

    def progress(self, done: int = 0, total: int | None = None) -> None:
        """Tell the reporter how far this source is."""
        self.reporter.progress(
            Progress(
                self.name,
                done,
                total,
                self.requests,
                self.not_modified,
                tuple(sorted(self.limits.remaining().items())),
            )
        )

    def warn(self, message: str) -> None:
        """A scrubbed warning for the user, kept for the report."""
        message = self.scrub(message)
        self.warnings.append(message)
        self.reporter.warn(self.name, message)

    def cursor(self) -> dict[str, Any]:
        """This source's cursor (a small JSON object in ``sync_state.cursor``)."""
        row = self.store.conn.execute(
            "SELECT cursor FROM sync_state WHERE source = ?", [self.name]
        ).fetchone()
        if not row or not row[0]:
            return {}
        try:
            value = json.loads(row[0])
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def save_cursor(self, conn: duckdb.DuckDBPyConnection, cursor: dict[str, Any]) -> None:
        """Store the cursor inside the caller's checkpoint transaction."""
        conn.execute(
            "INSERT INTO sync_state (source, cursor) VALUES (?, ?) "
            "ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor",
            [self.name, json.dumps(cursor, sort_keys=True)],
        )


def utc_naive(moment: datetime) -> datetime:
    """*moment* as naive UTC (aware values converted, naive ones taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp (``Z`` allowed) as naive UTC, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return utc_naive(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None
