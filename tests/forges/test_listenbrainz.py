"""ListenBrainz against its strict fake: reading forward from min_ts, limits, failures."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from greenhouse.config import Secrets
from greenhouse.errors import SourceError
from greenhouse.sources import listenbrainz as module
from greenhouse.sources.http import HttpOptions
from greenhouse.sources.sync import sync_sources
from greenhouse.store import Store
from greenhouse.store.queries import load_plays
from tests.forges.conftest import Sleeps, rows, site_for
from tests.forges.fakes import FakeListenBrainz


def listens(
    count: int, every: timedelta, end: datetime | None = None
) -> list[tuple[int, str, str]]:
    end = end or datetime.now(UTC) - timedelta(minutes=5)
    return [
        (int((end - every * i).timestamp()), f"Track {i}", f"Artist {i % 13}") for i in range(count)
    ]


def test_cold_then_warm_then_new_listens(
    listenbrainz: FakeListenBrainz, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    # 2,600 listens, one every 4 hours: about 433 days, of which the first sync reads a year.
    listenbrainz.listens = listens(2600, timedelta(hours=4))
    site = site_for(tmp_path, listenbrainz={"user": "ada", "api_url": listenbrainz.url})
    cold = sync_sources(site, store, Secrets(), ["listenbrainz"], options=options)["listenbrainz"]
    assert cold.status == "ok", cold
    in_year = 365 * 6
    stored = rows(store, "SELECT count(*) FROM plays WHERE source = 'listenbrainz'")[0][0]
    assert abs(stored - in_year) <= 6
    calls = listenbrainz.requests("/listens")
    assert len(calls) == 3  # 1000 + 1000 + the rest
    assert all(int(c.query["min_ts"]) > 0 and c.query["count"] == "1000" for c in calls)
    assert rows(
        store,
        "SELECT track, artist FROM plays WHERE source = 'listenbrainz' ORDER BY played_at DESC LIMIT 1",
    ) == [("Track 0", "Artist 0")]

    listenbrainz.clear()
    warm = sync_sources(site, store, Secrets(), ["listenbrainz"], options=options)["listenbrainz"]
    assert warm.status == "ok" and warm.requests == 1
    assert "0 new listens" in warm.summary

    newer = datetime.now(UTC)
    listenbrainz.listens += [(int(newer.timestamp()), "Fresh", "Someone")]
    fresh = sync_sources(site, store, Secrets(), ["listenbrainz"], options=options)["listenbrainz"]
    assert "1 new listens" in fresh.summary
    # They feed the music mood like Last.fm's plays do.
    recent = load_plays(store, datetime.now(UTC).replace(tzinfo=None) - timedelta(days=1))
    assert len(recent) == 7  # six a day, and the fresh one


def test_a_long_history_is_read_over_several_syncs(
    listenbrainz: FakeListenBrainz,
    tmp_path: Path,
    store: Store,
    options: HttpOptions,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(module, "MAX_PAGES", 2)
    listenbrainz.listens = listens(4500, timedelta(hours=1))
    site = site_for(tmp_path, listenbrainz={"user": "ada", "api_url": listenbrainz.url})
    first = sync_sources(site, store, Secrets(), ["listenbrainz"], options=options)["listenbrainz"]
    assert first.status == "partial"
    assert "the next sync continues" in (first.error or "")
    assert rows(store, "SELECT count(*) FROM plays") == [(2000,)]
    second = sync_sources(site, store, Secrets(), ["listenbrainz"], options=options)["listenbrainz"]
    assert second.status == "partial"
    third = sync_sources(site, store, Secrets(), ["listenbrainz"], options=options)["listenbrainz"]
    assert third.status == "ok"
    assert rows(store, "SELECT count(*) FROM plays") == [(4500,)]


def test_rate_limit_headers_are_obeyed(
    tmp_path: Path, store: Store, options: HttpOptions, sleeps: Sleeps
) -> None:
    with FakeListenBrainz(rate_limit=1) as listenbrainz:
        reset_at = listenbrainz.limit.reset_at = int(time.time()) + 3
        listenbrainz.listens = listens(1500, timedelta(hours=1))
        site = site_for(tmp_path, listenbrainz={"user": "ada", "api_url": listenbrainz.url})
        waits_end: list[float] = []

        def reset(seconds: float) -> None:
            waits_end.append(sleeps.clock() + seconds)
            sleeps(seconds)
            listenbrainz.limit.used = 0  # the window passes while we wait

        options.sleep = reset
        report = sync_sources(site, store, Secrets(), ["listenbrainz"], options=options)
        statuses = [r.status for r in listenbrainz.log]
    assert report["listenbrainz"].status == "ok"
    # Remaining 0 after the first page: the client waits until the window resets (Reset-In,
    # whole seconds from the answer) before asking again, so it is never refused.
    assert statuses == [200, 200]  # two pages (1,000 listens each at most)
    assert waits_end and reset_at - 1.5 <= waits_end[0] <= reset_at + 1.5
    assert rows(store, "SELECT count(*) FROM plays") == [(1500,)]


def test_unknown_user_is_one_line(
    listenbrainz: FakeListenBrainz, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    site = site_for(tmp_path, listenbrainz={"user": "nobody", "api_url": listenbrainz.url})
    with pytest.raises(SourceError) as failure:
        sync_sources(site, store, Secrets(), ["listenbrainz"], options=options)
    assert str(failure.value) == (
        "listenbrainz: user 'nobody' not found; check [listenbrainz] user in greenhouse.toml"
    )
