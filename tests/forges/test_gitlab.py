"""GitLab against its strict fake: cold and warm syncs, privacy, limits, failures."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from greenhouse.config import Secrets
from greenhouse.errors import AuthError, SourceError
from greenhouse.sources.http import HttpOptions
from greenhouse.sources.sync import freshness, sync_sources
from greenhouse.store import Store
from tests.forges.conftest import GITLAB_TOKEN, Sleeps, rows, site_for
from tests.forges.fakes import FakeGitLab, GitLabProject, history, now
from tests.forges.server import Reply

WITH_TOKEN = Secrets(env={"GITLAB_TOKEN": GITLAB_TOKEN})


def realistic(gitlab: FakeGitLab) -> None:
    """130 projects (two listing pages): public ones, plus what a token must not leak."""
    for i in range(120):
        gitlab.add(GitLabProject(f"tool-{i:03d}", stars=i % 7, topics=["cli"] if i % 2 else []))
    gitlab.add(GitLabProject("secret-plans", visibility="private"))
    gitlab.add(GitLabProject("company-internal", visibility="internal"))
    gitlab.add(GitLabProject("upstream-fork", fork=True))
    gitlab.add(GitLabProject("old-thing", archived=True))
    gitlab.add(GitLabProject("empty"))
    for i in range(5):
        gitlab.add(GitLabProject(f"private-{i}", visibility="private"))


def test_cold_and_warm_sync_of_a_realistic_account(
    gitlab: FakeGitLab, tmp_path: Path, options: HttpOptions
) -> None:
    realistic(gitlab)
    site = site_for(tmp_path, gitlab={"user": "ada", "api_url": gitlab.url})
    path = tmp_path / "g.duckdb"
    with Store.open(path) as store:
        cold = sync_sources(site, store, WITH_TOKEN, ["gitlab"], options=options)["gitlab"]
        assert cold.status == "ok", cold
        keys = {r[0] for r in rows(store, "SELECT full_name FROM repos WHERE source = 'gitlab'")}
        # Public, non-fork (forks are kept out unless [gitlab] forks = true), archived kept.
        assert len(keys) == 122
        assert "gitlab:ada/tool-007" in keys and "gitlab:ada/old-thing" in keys
        assert not {k for k in keys if "private" in k or "secret" in k or "internal" in k}
        assert "gitlab:ada/upstream-fork" not in keys
        # Cold: two listing pages, then languages + commits per public project.
        assert cold.requests == 2 + 2 * 122
        # Commit ids by author day: the fake's tool-001 has 2 yesterday, 1 nine days ago, 3 at 40.
        days = rows(
            store,
            "SELECT today() - day, commits FROM activity WHERE full_name = 'gitlab:ada/tool-001' "
            "AND commits > 0 ORDER BY 1",
        )
        assert days == [(1, 2), (9, 1), (40, 3)]
        assert rows(
            store, "SELECT count(*) FROM repo_commits WHERE repo = 'gitlab:ada/tool-001'"
        ) == [(6,)]
        # Languages arrive as percentages: hundredths of a percent, the largest is the language.
        assert rows(
            store,
            "SELECT language, bytes FROM repo_languages WHERE full_name = 'gitlab:ada/tool-001' "
            "ORDER BY bytes DESC",
        ) == [("Go", 8050), ("Shell", 1950)]
        assert rows(
            store, "SELECT language FROM repos WHERE full_name = 'gitlab:ada/tool-001'"
        ) == [("Go",)]
        assert rows(
            store, "SELECT activity_status FROM repos WHERE full_name = 'gitlab:ada/empty'"
        ) == [("empty",)]

        gitlab.clear()
        warm = sync_sources(site, store, WITH_TOKEN, ["gitlab"], options=options)["gitlab"]
        assert warm.status == "ok"
        # Warm: the two listing pages only (GitLab answers 200, not 304, to If-None-Match).
        assert [r.path for r in gitlab.requests()] == ["/api/v4/users/ada/projects"] * 2
        assert warm.requests == 2
        assert all(r.headers.get("if-none-match", "").startswith('W/"') for r in gitlab.log)

        # A push: new commits and a new last_activity_at; only that project is asked again.
        project = gitlab.projects[1]
        project.commits = history("pushed", {0: 4}) + (project.commits or [])
        project.last_activity_at = now()
        gitlab.clear()
        again = sync_sources(site, store, WITH_TOKEN, ["gitlab"], options=options)["gitlab"]
        assert again.requests == 2 + 2
        commits = gitlab.requests("/repository/commits")
        assert len(commits) == 1
        # It asks only from the day before the newest stored commit (ids dedupe the overlap).
        assert commits[0].query["since"] == (now() - timedelta(days=2)).strftime(
            "%Y-%m-%dT00:00:00Z"
        )
        assert rows(
            store,
            "SELECT commits FROM activity WHERE full_name = 'gitlab:ada/tool-001' AND day = today()",
        ) == [(4,)]
        assert rows(
            store, "SELECT count(*) FROM repo_commits WHERE repo = 'gitlab:ada/tool-001'"
        ) == [(10,)]
        assert "4 new commits" in again.summary
        store.conn.execute("CHECKPOINT")
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("g.duckdb*"))
    for private in (b"secret-plans", b"company-internal", b"private-3", b"ada@private.example"):
        assert private not in stored
    assert GITLAB_TOKEN.encode() not in stored


def test_without_a_token_only_the_simple_public_listing_is_read(
    tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    with FakeGitLab() as gitlab:
        gitlab.add(GitLabProject("open"))
        gitlab.add(GitLabProject("hidden", visibility="private"))
        site = site_for(tmp_path, gitlab={"user": "ada", "api_url": gitlab.url})
        report = sync_sources(site, store, Secrets(), ["gitlab"], options=options)["gitlab"]
        assert report.status == "ok"
        assert "private-token" not in gitlab.log[0].headers
    assert rows(store, "SELECT full_name, html_url FROM repos") == [
        ("gitlab:ada/open", "https://gitlab.example/ada/open")
    ]


def test_private_projects_a_token_sees_are_neither_stored_nor_cached(
    gitlab: FakeGitLab, tmp_path: Path, options: HttpOptions
) -> None:
    gitlab.filters_visibility = False  # the listing then holds private and internal projects
    gitlab.add(GitLabProject("open"))
    gitlab.add(GitLabProject("payroll-secrets", visibility="private"))
    gitlab.add(GitLabProject("intranet-wiki", visibility="internal"))
    site = site_for(tmp_path, gitlab={"user": "ada", "api_url": gitlab.url})
    path = tmp_path / "p.duckdb"
    with Store.open(path) as store:
        sync_sources(site, store, WITH_TOKEN, ["gitlab"], options=options)
        assert rows(store, "SELECT full_name FROM repos") == [("gitlab:ada/open",)]
        assert rows(store, "SELECT count(*) FROM http_cache WHERE body LIKE '%ada/open%'") == [(1,)]
        store.conn.execute("CHECKPOINT")
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("p.duckdb*"))
    assert b"payroll-secrets" not in stored and b"intranet-wiki" not in stored


def test_a_listing_that_leaks_private_projects_is_filtered(
    gitlab: FakeGitLab, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    """Whatever the server does with visibility=public, only `public` items enter."""
    gitlab.add(GitLabProject("open"))
    leaked = [
        gitlab._item(GitLabProject("open", id=1000), full=True),
        {**gitlab._item(GitLabProject("mine", id=7), full=True), "visibility": "private"},
        {**gitlab._item(GitLabProject("unsaid", id=8), full=True), "visibility": None},
    ]
    gitlab.queue("/api/v4/users/ada/projects", Reply(200, leaked))
    site = site_for(tmp_path, gitlab={"user": "ada", "api_url": gitlab.url})
    sync_sources(site, store, WITH_TOKEN, ["gitlab"], options=options)
    assert rows(store, "SELECT full_name FROM repos") == [("gitlab:ada/open",)]


def test_self_hosted_under_a_path_with_include_and_exclude(
    tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    with FakeGitLab(prefix="/gitlab") as gitlab:
        for name in ("api-server", "api-client", "blog", "notes"):
            gitlab.add(GitLabProject(name))
        site = site_for(
            tmp_path,
            gitlab={
                "user": "ada",
                "api_url": f"{gitlab.url}/gitlab/",
                "include": ["api-*", "blog"],
                "exclude": ["ada/api-client"],
            },
        )
        report = sync_sources(site, store, Secrets(), ["gitlab"], options=options)["gitlab"]
        assert report.status == "ok", report
        assert all(r.path.startswith("/gitlab/api/v4/") for r in gitlab.log)
    assert rows(store, "SELECT full_name FROM repos ORDER BY 1") == [
        ("gitlab:ada/api-server",),
        ("gitlab:ada/blog",),
    ]


def test_a_rate_limit_stop_keeps_what_was_fetched_and_the_next_sync_resumes(
    tmp_path: Path, store: Store, options: HttpOptions, sleeps: Sleeps
) -> None:
    with FakeGitLab(rate_limit=40) as gitlab:
        for i in range(30):
            gitlab.add(GitLabProject(f"p{i:02d}"))
        site = site_for(tmp_path, gitlab={"user": "ada", "api_url": gitlab.url, "concurrency": 1})
        first = sync_sources(site, store, Secrets(), ["gitlab"], options=options)["gitlab"]
        assert first.status == "partial"
        assert "rate limit" in (first.error or "")
        fetched = rows(store, "SELECT count(*) FROM repos WHERE fetched_at IS NOT NULL")[0][0]
        assert 10 <= fetched < 30  # 40 requests: the listing, then two per project
        assert rows(store, "SELECT count(*) FROM repos")[0][0] == 30  # the listing was committed
        assert freshness(store)["gitlab"]["status"] == "partial"

        # The spent budget is kept in the store: a sync before the reset sends nothing.
        gitlab.clear()
        early = sync_sources(site, store, Secrets(), ["gitlab"], options=options)["gitlab"]
        assert early.status == "partial" and gitlab.log == []

        sleeps.slept += 61  # the window passes
        gitlab.limit.used = 0
        gitlab.limit.reset_at += 61
        gitlab.clear()
        second = sync_sources(site, store, Secrets(), ["gitlab"], options=options)["gitlab"]
        assert second.status == "ok"
        # Only the projects not fetched before are asked for.
        assert len(gitlab.requests("/languages")) == 30 - fetched
    assert rows(store, "SELECT count(*) FROM repos WHERE fetched_at IS NOT NULL") == [(30,)]


def test_a_429_without_headers_backs_off_then_stops(
    tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    with FakeGitLab(rate_limit=0) as gitlab:
        gitlab.retry_after_on_429 = False
        gitlab.add(GitLabProject("p"))
        site = site_for(tmp_path, gitlab={"user": "ada", "api_url": gitlab.url})
        report = sync_sources(site, store, Secrets(), ["gitlab"], options=options)["gitlab"]
    # No Retry-After, no RateLimit-* headers: a few short backoffs, then the source stops.
    assert report.status == "partial"
    assert report.error == (
        "gitlab: rate limit reached; kept what was fetched, the next sync resumes from there"
    )
    calls = options.sleep.calls  # type: ignore[attr-defined]
    assert len(calls) == options.rate_limit_retries + 1  # one short backoff per refusal
    assert all(0 < c <= options.backoff_cap for c in calls)


def test_rate_limit_headers_are_read(
    gitlab: FakeGitLab, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    gitlab.add(GitLabProject("p"))
    site = site_for(tmp_path, gitlab={"user": "ada", "api_url": gitlab.url})
    report = sync_sources(site, store, WITH_TOKEN, ["gitlab"], options=options)["gitlab"]
    assert "rate limit 1997 left" in report.summary


def test_unknown_user_and_bad_token_fail_with_one_line(
    gitlab: FakeGitLab, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    site = site_for(tmp_path, gitlab={"user": "nobody", "api_url": gitlab.url})
    with pytest.raises(SourceError) as unknown:
        sync_sources(site, store, Secrets(), ["gitlab"], options=options)
    assert str(unknown.value) == (
        f"gitlab: user 'nobody' not found on {gitlab.url}; check [gitlab] user"
    )
    bad = Secrets(env={"GITLAB_TOKEN": "glpat-WRONG-token-123456"})
    site = site_for(tmp_path, gitlab={"user": "ada", "api_url": gitlab.url})
    with pytest.raises(AuthError) as rejected:
        sync_sources(site, store, bad, ["gitlab"], options=options)
    assert "GITLAB_TOKEN was rejected" in str(rejected.value)
    assert "WRONG" not in str(rejected.value)


def test_stale_or_strict(
    gitlab: FakeGitLab, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    gitlab.add(GitLabProject("p"))
    site = site_for(tmp_path, gitlab={"user": "ada", "api_url": gitlab.url})
    assert sync_sources(site, store, Secrets(), ["gitlab"], options=options).ok
    gitlab.queue("/api/v4/users/ada/projects", *[Reply(502, {"message": "502"})] * 6)
    stale = sync_sources(site, store, Secrets(), ["gitlab"], options=options)["gitlab"]
    assert stale.status == "failed" and "502" in (stale.error or "")
    assert rows(store, "SELECT count(*) FROM repos") == [(1,)]  # the older data stays
    gitlab.queue("/api/v4/users/ada/projects", *[Reply(502, {"message": "502"})] * 6)
    with pytest.raises(SourceError, match="^gitlab: .*HTTP 502"):
        sync_sources(site, store, Secrets(), ["gitlab"], strict=True, options=options)


def test_a_project_that_leaves_the_listing_is_forgotten(
    gitlab: FakeGitLab, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    gitlab.add(GitLabProject("stays"))
    going = gitlab.add(GitLabProject("goes"))
    site = site_for(tmp_path, gitlab={"user": "ada", "api_url": gitlab.url})
    sync_sources(site, store, Secrets(), ["gitlab"], options=options)
    going.visibility = "private"
    sync_sources(site, store, Secrets(), ["gitlab"], options=options)
    assert rows(store, "SELECT full_name FROM repos") == [("gitlab:ada/stays",)]
    for table, column in (("activity", "full_name"), ("repo_commits", "repo")):
        assert rows(store, f"SELECT count(*) FROM {table} WHERE {column} = 'gitlab:ada/goes'") == [
            (0,)
        ]


def test_its_own_time_budget_stops_it_partial(
    gitlab: FakeGitLab, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    gitlab.add(GitLabProject("p"))
    site = site_for(tmp_path, gitlab={"user": "ada", "api_url": gitlab.url, "time_budget": 1e-6})
    report = sync_sources(site, store, Secrets(), ["gitlab"], options=options)
    # Spent before the first request: nothing sent, the source partial and saying why.
    assert report["gitlab"].status == "partial"
    assert "time budget" in (report["gitlab"].error or "")
    assert gitlab.log == []
