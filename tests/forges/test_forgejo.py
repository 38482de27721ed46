"""Forgejo/Gitea/Codeberg against its strict fake: cold and warm syncs, privacy, limits, heatmap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from greenhouse.config import Secrets
from greenhouse.errors import AuthError, SourceError
from greenhouse.sources.http import HttpOptions
from greenhouse.sources.sync import sync_sources
from greenhouse.store import Store
from tests.forges.conftest import FORGEJO_TOKEN, Sleeps, rows, site_for
from tests.forges.fakes import FakeForgejo, ForgejoRepo, history, now

WITH_TOKEN = Secrets(env={"FORGEJO_TOKEN": FORGEJO_TOKEN})


def test_cold_and_warm_sync_of_a_realistic_account(tmp_path: Path, options: HttpOptions) -> None:
    # A server that caps pages at 30 items: the client must follow Link, not assume 50.
    with FakeForgejo(token=FORGEJO_TOKEN, max_items=30) as forgejo:
        for i in range(70):
            forgejo.add(ForgejoRepo(f"crate-{i:02d}", stars=i % 5))
        forgejo.add(ForgejoRepo("busy", language="Go")).commits = history("busy", {2: 130})
        forgejo.add(ForgejoRepo("diary", private=True))
        forgejo.add(ForgejoRepo("team-only", internal=True))
        forgejo.add(ForgejoRepo("a-fork", fork=True))
        forgejo.add(ForgejoRepo("empty"))
        today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
        bucket = int(today.timestamp()) // 900 * 900
        forgejo.heatmap = {bucket: 3, bucket + 900: 2, bucket - 86400: 7}
        site = site_for(tmp_path, forgejo={"user": "ada", "api_url": forgejo.url})
        path = tmp_path / "f.duckdb"
        with Store.open(path) as store:
            cold = sync_sources(site, store, WITH_TOKEN, ["forgejo"], options=options)["forgejo"]
            assert cold.status == "ok", cold
            keys = {r[0] for r in rows(store, "SELECT full_name FROM repos")}
            assert len(keys) == 72 and "forgejo:ada/busy" in keys
            assert not {"forgejo:ada/diary", "forgejo:ada/team-only", "forgejo:ada/a-fork"} & keys
            listing = forgejo.requests("/users/ada/repos")
            assert len(listing) == 3  # 75 visible with the token, 30 a page
            # Per repository: languages, and commits (none for the empty one); the busy one has
            # 130 commits, read newest first 50 a page: three pages.
            assert len(forgejo.requests("/languages")) == 72
            assert len(forgejo.requests("/commits")) == 70 + 3
            for request in forgejo.requests("/commits"):
                assert request.query["stat"] == request.query["files"] == "false"
                assert request.query["verification"] == "false"
            assert rows(
                store,
                "SELECT commits FROM activity WHERE full_name = 'forgejo:ada/busy' AND commits > 0",
            ) == [(130,)]
            # Commits older than a year are not read; 60 days ago is inside the year.
            assert rows(
                store,
                "SELECT today() - day, commits FROM activity "
                "WHERE full_name = 'forgejo:ada/crate-03' AND commits > 0 ORDER BY 1",
            ) == [(0, 1), (3, 2), (60, 4)]
            assert rows(
                store, "SELECT activity_status FROM repos WHERE full_name = 'forgejo:ada/empty'"
            ) == [("empty",)]
            # The heatmap's 15-minute buckets, summed per UTC day.
            assert rows(
                store,
                "SELECT day, count FROM forge_contributions WHERE source = 'forgejo' ORDER BY 1",
            ) == [(today.date() - timedelta(days=1), 7), (today.date(), 5)]

            forgejo.clear()
            warm = sync_sources(site, store, WITH_TOKEN, ["forgejo"], options=options)["forgejo"]
            assert warm.status == "ok"
            assert [r.path for r in forgejo.requests()] == ["/api/v1/users/ada/repos"] * 3 + [
                "/api/v1/users/ada/heatmap"
            ]
            assert warm.requests == 4

            # A push to one repository: it alone is walked, and only until a known commit.
            repo = forgejo.repos[5]
            repo.commits = history("new", {0: 3}) + (repo.commits or [])
            repo.updated_at = now()
            forgejo.clear()
            again = sync_sources(site, store, WITH_TOKEN, ["forgejo"], options=options)["forgejo"]
            assert len(forgejo.requests("/commits")) == 1
            assert "3 new commits" in again.summary
            store.conn.execute("CHECKPOINT")
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("f.duckdb*"))
    for private in (b"diary", b"team-only", b"ada@private.example", FORGEJO_TOKEN.encode()):
        assert private not in stored


def test_codeberg_is_the_default_and_the_token_is_optional() -> None:
    from greenhouse.config import ForgejoConfig

    assert ForgejoConfig().api_url == "https://codeberg.org"


def test_without_a_token(tmp_path: Path, store: Store, options: HttpOptions) -> None:
    with FakeForgejo() as forgejo:
        forgejo.add(ForgejoRepo("open"))
        forgejo.add(ForgejoRepo("closed", private=True))
        site = site_for(tmp_path, forgejo={"user": "ada", "api_url": forgejo.url})
        assert sync_sources(site, store, Secrets(), ["forgejo"], options=options).ok
        assert all("authorization" not in r.headers for r in forgejo.log)
    assert rows(store, "SELECT full_name, html_url FROM repos") == [
        ("forgejo:ada/open", "https://codeberg.example/ada/open")
    ]


def test_a_busy_host_answers_429_with_retry_after(
    forgejo: FakeForgejo, tmp_path: Path, store: Store, options: HttpOptions, sleeps: Sleeps
) -> None:
    forgejo.add(ForgejoRepo("open"))
    forgejo.busy = 2
    site = site_for(tmp_path, forgejo={"user": "ada", "api_url": forgejo.url})
    assert sync_sources(site, store, Secrets(), ["forgejo"], options=options).ok
    # Retry-After: 1 obeyed, twice (the whole client pauses; the clock moves with the sleeps).
    assert [round(s, 1) for s in sleeps.calls[:2]] == [1.0, 1.0]
    assert rows(store, "SELECT count(*) FROM repos") == [(1,)]


def test_unknown_user_and_bad_token(
    forgejo: FakeForgejo, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    site = site_for(tmp_path, forgejo={"user": "ghost", "api_url": forgejo.url})
    with pytest.raises(SourceError) as unknown:
        sync_sources(site, store, Secrets(), ["forgejo"], options=options)
    assert str(unknown.value) == (
        f"forgejo: user 'ghost' not found on {forgejo.url}; check [forgejo] user"
    )
    site = site_for(tmp_path, forgejo={"user": "ada", "api_url": forgejo.url})
    with pytest.raises(AuthError, match="FORGEJO_TOKEN was rejected"):
        sync_sources(
            site, store, Secrets(env={"FORGEJO_TOKEN": "wrong-token-1234"}), ["forgejo"],
            options=options,
        )  # fmt: skip


def test_forks_and_archived_as_configured(
    forgejo: FakeForgejo, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    forgejo.add(ForgejoRepo("mine"))
    forgejo.add(ForgejoRepo("theirs", fork=True))
    forgejo.add(ForgejoRepo("retired", archived=True))
    site = site_for(
        tmp_path,
        forgejo={"user": "ada", "api_url": forgejo.url, "forks": True, "archived": False},
    )
    sync_sources(site, store, Secrets(), ["forgejo"], options=options)
    assert rows(store, "SELECT full_name, is_fork FROM repos ORDER BY 1") == [
        ("forgejo:ada/mine", False),
        ("forgejo:ada/theirs", True),
    ]
