"""Fixtures: a fake upstream on 127.0.0.1, a real DuckDB file, fast sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from greenhouse.config import Secrets, Site, validate_config
from greenhouse.sources.http import HttpOptions
from greenhouse.store import Store
from tests.sleeps import Sleeps
from tests.sources.fake_upstream import FakeRepo, FakeUpstream, GitHubModel

TOKEN = "ghp_SECRETtoken1234567890abcdef"


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def options(sleeps: Sleeps) -> HttpOptions:
    return HttpOptions(timeout=0.5, retries=2, backoff=0.01, sleep=sleeps, clock=sleeps.clock)


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream(GitHubModel(user="octo", token=TOKEN)) as server:
        yield server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "build" / "greenhouse.duckdb") as opened:
        yield opened


def make_site(tmp_path: Path, fake: FakeUpstream, **sections: dict[str, Any]) -> Site:
    """A site whose every upstream is the fake; *sections* override config keys."""
    raw: dict[str, Any] = {
        "github": {"user": "octo", "api_url": f"{fake.url}/gh", "max_rate_limit_wait": 5},
        "spotify": {"api_url": f"{fake.url}/spotify/v1", "accounts_url": f"{fake.url}/accounts"},
        "lastfm": {"api_url": f"{fake.url}/lastfm/2.0/"},
        "weather": {"provider": "none"},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return Site(root=tmp_path, config=validate_config(raw, "greenhouse.toml"))


@pytest.fixture
def site(tmp_path: Path, fake: FakeUpstream) -> Site:
    return make_site(tmp_path, fake)


def repos(n: int, **kwargs: Any) -> list[FakeRepo]:
    return [FakeRepo(name=f"repo-{i:03d}", stars=i, **kwargs) for i in range(n)]


@pytest.fixture
def no_secrets() -> Secrets:
    return Secrets()


@pytest.fixture
def token_secrets() -> Secrets:
    return Secrets(github_token=TOKEN)
