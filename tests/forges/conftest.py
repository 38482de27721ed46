"""Fixtures: one strict fake per upstream, a real DuckDB file, fast sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from greenhouse.config import Site, validate_config
from greenhouse.sources.http import HttpOptions
from greenhouse.store import Store
from tests.forges.fakes import FakeForgejo, FakeGitLab, FakeListenBrainz
from tests.sleeps import Sleeps

GITLAB_TOKEN = "glpat-SECRET-gitlab-0123456789"
FORGEJO_TOKEN = "forgejo-SECRET-0123456789abcdef"


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def options(sleeps: Sleeps) -> HttpOptions:
    return HttpOptions(timeout=2.0, retries=2, backoff=0.01, sleep=sleeps, clock=sleeps.clock)


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    with FakeGitLab(token=GITLAB_TOKEN) as server:
        yield server


@pytest.fixture
def forgejo() -> Iterator[FakeForgejo]:
    with FakeForgejo(token=FORGEJO_TOKEN) as server:
        yield server


@pytest.fixture
def listenbrainz() -> Iterator[FakeListenBrainz]:
    with FakeListenBrainz() as server:
        yield server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "build" / "greenhouse.duckdb") as opened:
        yield opened


def site_for(tmp_path: Path, **sections: dict[str, Any]) -> Site:
    """A site with only *sections* configured (weather off, no GitHub user).

    Each source waits at most 5 s for a rate limit (unless its section says otherwise).
    """
    raw: dict[str, Any] = {"weather": {"provider": "none"}}
    for name, values in sections.items():
        raw.setdefault(name, {"max_rate_limit_wait": 5}).update(values)
    return Site(root=tmp_path, config=validate_config(raw, "greenhouse.toml"))


def rows(store: Store, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    return store.conn.execute(sql, params or []).fetchall()
