"""GitHub sync against the fake upstream: what is stored, and what survives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from greenhouse.config import Secrets, Site
from greenhouse.errors import AuthError, SourceError
from greenhouse.sources.http import HttpOptions
from greenhouse.sources.sync import freshness, sync_sources
from greenhouse.store import Store
from tests.sources.conftest import TOKEN, make_site, repos
from tests.sources.fake_upstream import Answer, FakeRepo, FakeUpstream, Logged


def rows(store: Store, sql: str, *params: object) -> list[tuple]:
    return store.conn.execute(sql, list(params)).fetchall()


def repo_names(store: Store) -> list[str]:
    return [r[0] for r in rows(store, "SELECT name FROM repos ORDER BY name")]


def commits(store: Store, full_name: str) -> int:
    got = rows(
        store, "SELECT coalesce(sum(commits), 0) FROM activity WHERE full_name = ?", full_name
    )
    return int(got[0][0])


def test_pages_filters_and_daily_commits(
    fake: FakeUpstream, site: Site, store: Store, no_secrets: Secrets, options: HttpOptions
) -> None:
    fake.github.repos = repos(230) + [
        FakeRepo("a-fork", fork=True),
        FakeRepo("old", archived=True),
        FakeRepo("secret", private=True),
        FakeRepo("🌱 jardin-été", description=None, language=None, pushed_at=None),
    ]
    report = sync_sources(site, store, no_secrets, ["github"], options=options)

    assert report["github"].status == "ok"
    names = repo_names(store)
    assert len(names) == 232  # 230 + archived + unicode; no fork, no private
    assert "a-fork" not in names and "secret" not in names
    assert "🌱 jardin-été" in names and "old" in names
    # Link pagination: three pages, each URL taken from the Link header.
    pages = fake.requests("/users/octo/repos")
    assert [p.query.get("page") for p in pages] == [None, "2", "3"]
    today = fake.github.today
    got = rows(
        store, "SELECT day, commits FROM activity WHERE full_name = 'octo/repo-005' ORDER BY day"
    )
    assert got == [(today - timedelta(days=10), 1), (today - timedelta(days=3), 2)]
    unicode = rows(
        store, "SELECT description, language, pushed_at FROM repos WHERE name = '🌱 jardin-été'"
    )
    assert unicode == [(None, None, None)]
    langs = rows(store, "SELECT language, bytes FROM repo_languages WHERE full_name = 'octo/old'")
    assert langs == [("Python", 1000)]
    # Politeness: User-Agent and API version on every request.
    for request in fake.requests("/gh/"):
        assert request.headers["user-agent"].startswith("greenhouse/")
        assert request.headers["x-github-api-version"] == "2022-11-28"
    state = freshness(store)["github"]
    assert state["status"] == "ok" and state["last_success"] is not None


def test_second_sync_sends_only_conditional_requests(
    fake: FakeUpstream, site: Site, store: Store, no_secrets: Secrets, options: HttpOptions
) -> None:
    fake.github.repos = repos(120)
    sync_sources(site, store, no_secrets, ["github"], options=options)
    before = rows(store, "SELECT * FROM activity ORDER BY full_name, day")
    fake.clear_log()

    report = sync_sources(site, store, no_secrets, ["github"], options=options)

    sent = fake.requests()
    assert sent, "the warm sync asked nothing"
    assert all("if-none-match" in r.headers for r in sent)
    assert all(r.status == 304 for r in sent)
    assert report["github"].not_modified == len(sent)
    assert rows(store, "SELECT * FROM activity ORDER BY full_name, day") == before
    assert len(repo_names(store)) == 120


def test_a_pushed_repo_is_refetched_and_stars_gained_are_recorded(
    fake: FakeUpstream, site: Site, store: Store, no_secrets: Secrets, options: HttpOptions
) -> None:
    fake.github.repos = repos(3)
    sync_sources(site, store, no_secrets, ["github"], options=options)
    fake.github.repos[1].pushed_at = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    fake.github.repos[1].commits = {0: 5, 3: 2, 10: 1}
    fake.github.repos[2].stars += 4
    fake.clear_log()

    sync_sources(site, store, no_secrets, ["github"], options=options)

    assert {r.path for r in fake.requests("/repos/")} == {
        "/gh/repos/octo/repo-001/stats/commit_activity",
        "/gh/repos/octo/repo-001/languages",
    }
    assert commits(store, "octo/repo-001") == 8
    gained = rows(store, "SELECT sum(stars) FROM activity WHERE full_name = 'octo/repo-002'")
    assert gained == [(4,)]


def test_202_then_200_and_202_forever_and_empty_repos(
    fake: FakeUpstream, site: Site, store: Store, no_secrets: Secrets, options: HttpOptions, sleeps
) -> None:
    fake.github.repos = [
        FakeRepo("slow"),
        FakeRepo("busy", commits={1: 3, 40: 2}),
        FakeRepo("empty-204", commits=None),
        FakeRepo("empty-409", commits=None),
    ]
    base = "/gh/repos/octo"
    fake.script("GET", f"{base}/slow/stats/commit_activity", Answer(202, {}), Answer(202, {}), None)
    fake.script("GET", f"{base}/busy/stats/commit_activity", Answer(202, {}))
    fake.script("GET", f"{base}/empty-409/stats/commit_activity", Answer(202, {}))

    report = sync_sources(site, store, no_secrets, ["github"], options=options)

    assert report["github"].status == "ok"
    status = dict(rows(store, "SELECT name, activity_status FROM repos"))
    assert status == {"slow": "ok", "busy": "pending", "empty-204": "empty", "empty-409": "empty"}
    assert commits(store, "octo/slow") == 3
    # 202 is retried commit_retries (4) times, then recent commits fill the recent days.
    assert len(fake.requests(f"{base}/busy/stats")) == 5
    assert commits(store, "octo/busy") == 3
    assert len(fake.requests(f"{base}/empty-409/commits")) == 1
    assert commits(store, "octo/empty-409") == 0
    assert len(sleeps.calls) >= 6


def test_pending_keeps_the_previous_value(
    fake: FakeUpstream, site: Site, store: Store, no_secrets: Secrets, options: HttpOptions
) -> None:
    fake.github.repos = [FakeRepo("busy", commits={2: 4, 30: 6})]
    sync_sources(site, store, no_secrets, ["github"], options=options)
    assert commits(store, "octo/busy") == 10
    fake.github.repos[0].pushed_at = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    fake.script("GET", "/gh/repos/octo/busy/stats/commit_activity", Answer(202, {}))

    sync_sources(site, store, no_secrets, ["github"], options=options)

    assert rows(store, "SELECT activity_status FROM repos") == [("pending",)]
    assert commits(store, "octo/busy") == 10


@pytest.mark.parametrize("status", [403, 429])
def test_primary_rate_limit_mid_sync_keeps_what_was_fetched_and_resumes(
    fake: FakeUpstream,
    tmp_path,
    store: Store,
    no_secrets: Secrets,
    options: HttpOptions,
    sleeps,
    status: int,
) -> None:
    site = make_site(tmp_path, fake, github={"concurrency": 1})
    fake.github.repos = repos(150)
    fake.github.remaining = 60
    fake.github.exhausted_status = status

    report = sync_sources(site, store, no_secrets, ["github"], options=options)

    assert report["github"].status == "partial"
    assert "rate limit" in (report["github"].error or "")
    done = rows(store, "SELECT count(*) FROM repos WHERE fetched_at IS NOT NULL")[0][0]
    assert 20 <= done < 150
    assert len(repo_names(store)) >= 100  # the listing pages fetched were committed
    state = freshness(store)["github"]
    assert state["status"] == "partial" and state["last_success"] is None

    fake.github.remaining = 5000
    sleeps.slept += 3700  # an hour later: the reset has come
    fake.clear_log()
    report = sync_sources(site, store, no_secrets, ["github"], options=options)

    assert report["github"].status == "ok"
    assert rows(store, "SELECT count(*) FROM repos WHERE fetched_at IS NULL")[0][0] == 0
    # Only the repos left over were asked for again.
    assert len(fake.requests("/stats/commit_activity")) == 150 - done
    assert commits(store, "octo/repo-000") == 3


def test_rate_limit_waits_when_the_reset_is_near(
    fake: FakeUpstream, site: Site, store: Store, no_secrets: Secrets, options: HttpOptions, sleeps
) -> None:
    fake.github.repos = repos(2)
    fake.github.reset_in = 2
    fake.script(
        "GET",
        "/gh/repos/octo/repo-001/languages",
        Answer(403, {"message": "You have exceeded a secondary rate limit."}, {"retry-after": "3"}),
        Answer(429, {"message": "slow down"}, {"retry-after": "1"}),
        None,
    )

    report = sync_sources(site, store, no_secrets, ["github"], options=options)

    assert report["github"].status == "ok"
    assert sleeps.waited(3.0) and sleeps.waited(1.0)
    assert rows(store, "SELECT count(*) FROM repo_languages")[0][0] == 2


def test_secondary_limit_longer_than_allowed_stops_cleanly(
    fake: FakeUpstream, site: Site, store: Store, no_secrets: Secrets, options: HttpOptions
) -> None:
    fake.github.repos = repos(2)
    sync_sources(site, store, no_secrets, ["github"], options=options)
    fake.github.repos[0].stars = 99
    fake.script(
        "GET",
        "/gh/users/octo/repos",
        Answer(
            403, {"message": "You have exceeded a secondary rate limit"}, {"retry-after": "600"}
        ),
    )

    report = sync_sources(site, store, no_secrets, ["github"], options=options)

    assert report["github"].status == "partial"
    assert len(repo_names(store)) == 2  # nothing earlier was lost
    assert freshness(store)["github"]["last_success"] is not None


def test_server_errors_and_a_hanging_connection_are_retried(
    fake: FakeUpstream, site: Site, store: Store, no_secrets: Secrets, options: HttpOptions
) -> None:
    fake.github.repos = repos(2)
    fake.script("GET", "/gh/users/octo/repos", Answer(500, {}), Answer(502, {}), None)
    fake.script("GET", "/gh/repos/octo/repo-000/languages", Answer(hang=2.0), None)

    report = sync_sources(site, store, no_secrets, ["github"], options=options)

    assert report["github"].status == "ok"
    assert len(fake.requests("/users/octo/repos")) == 3
    assert len(fake.requests("/repo-000/languages")) == 2
    assert rows(store, "SELECT count(*) FROM repo_languages")[0][0] == 2


def test_an_upstream_down_fails_only_this_source_when_older_data_exists(
    fake: FakeUpstream, site: Site, store: Store, no_secrets: Secrets, options: HttpOptions
) -> None:
    fake.github.repos = repos(2)
    sync_sources(site, store, no_secrets, ["github"], options=options)
    fake.script("GET", "/gh/users/octo/repos", Answer(502, {}))

    report = sync_sources(site, store, no_secrets, ["github"], options=options)

    assert report["github"].status == "failed"
    assert "502" in (report["github"].error or "")
    assert len(repo_names(store)) == 2
    with pytest.raises(SourceError, match="github: .*502"):
        sync_sources(site, store, no_secrets, ["github"], strict=True, options=options)


def test_first_sync_failure_with_no_data_raises(
    fake: FakeUpstream, site: Site, store: Store, no_secrets: Secrets, options: HttpOptions
) -> None:
    fake.script("GET", "/gh/users/octo/repos", Answer(502, {}))
    with pytest.raises(SourceError, match="try again later"):
        sync_sources(site, store, no_secrets, ["github"], options=options)
    assert freshness(store)["github"]["status"] == "failed"


def test_unknown_user_and_bad_token_are_one_clear_line(
    fake: FakeUpstream, tmp_path, store: Store, options: HttpOptions
) -> None:
    site = make_site(tmp_path, fake, github={"user": "nobody"})
    with pytest.raises(SourceError) as unknown:
        sync_sources(site, store, Secrets(), ["github"], options=options)
    assert str(unknown.value) == (
        "github: user 'nobody' not found; check [github] user in greenhouse.toml"
    )
    bad = "ghp_wrongWRONGwrong000000000000"
    with pytest.raises(AuthError) as rejected:
        sync_sources(
            make_site(tmp_path, fake), store, Secrets(github_token=bad), ["github"], options=options
        )
    assert "GITHUB_TOKEN was rejected" in str(rejected.value)
    assert bad not in str(rejected.value) and "\n" not in str(rejected.value)


def test_token_uses_graphql_for_languages_and_skips_quiet_repos(
    fake: FakeUpstream, site: Site, store: Store, token_secrets: Secrets, options: HttpOptions
) -> None:
    fake.github.repos = repos(250)
    for repo in fake.github.repos[::2]:
        repo.commits = {400: 3}  # nothing in the last year
    fake.github.repos.append(FakeRepo("void", commits=None))
    fake.github.calendar = {"2026-11-01": 3, "2026-11-02": 0}

    report = sync_sources(site, store, token_secrets, ["github"], options=options)

    assert report["github"].status == "ok"
    graphql = fake.requests("/graphql")
    assert len(graphql) == 3 + 1  # three pages of repos, one calendar
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in graphql)
    assert not fake.requests("/languages")
    # One repository each (by path: a timeout retried on a busy machine is still one repository).
    assert len({r.path for r in fake.requests("/stats/commit_activity")}) == 125
    assert rows(store, "SELECT count(DISTINCT full_name) FROM repo_languages")[0][0] == 251
    assert rows(store, "SELECT activity_status FROM repos WHERE name = 'void'") == [("empty",)]
    assert commits(store, "octo/repo-001") == 3 and commits(store, "octo/repo-000") == 0
    assert rows(store, "SELECT day, count FROM contributions ORDER BY day")[0][1] == 3

    fake.clear_log()
    report = sync_sources(site, store, token_secrets, ["github"], options=options)
    assert not fake.requests("/graphql")  # warm: no GraphQL cost at all
    assert all(r.status == 304 for r in fake.requests())


def test_graphql_errors_inside_http_200_fall_back_to_rest(
    fake: FakeUpstream, site: Site, store: Store, token_secrets: Secrets, options: HttpOptions
) -> None:
    fake.github.repos = repos(3)
    fake.script(
        "POST",
        "/gh/graphql",
        Answer(200, {"data": None, "errors": [{"message": "Something went wrong"}]}),
    )

    report = sync_sources(site, store, token_secrets, ["github"], options=options)

    assert report["github"].status == "ok"
    assert any("Something went wrong" in w for w in report["github"].warnings)
    assert len(fake.requests("/languages")) == 3
    assert commits(store, "octo/repo-002") == 3


def test_a_repo_made_private_disappears(
    fake: FakeUpstream, site: Site, store: Store, no_secrets: Secrets, options: HttpOptions
) -> None:
    fake.github.repos = repos(3)
    sync_sources(site, store, no_secrets, ["github"], options=options)
    fake.github.repos[0].private = True

    sync_sources(site, store, no_secrets, ["github"], options=options)

    assert repo_names(store) == ["repo-001", "repo-002"]
    assert commits(store, "octo/repo-000") == 0
    assert rows(store, "SELECT count(*) FROM repo_languages WHERE full_name = 'octo/repo-000'") == [
        (0,)
    ]


def test_include_exclude_and_switches(
    fake: FakeUpstream, tmp_path, store: Store, no_secrets: Secrets, options: HttpOptions
) -> None:
    fake.github.repos = [
        FakeRepo("keep"),
        FakeRepo("drop"),
        FakeRepo("F", fork=True),
        FakeRepo("arch", archived=True),
    ]
    site = make_site(tmp_path, fake, github={"exclude": ["Drop"], "forks": True, "archived": False})
    sync_sources(site, store, no_secrets, ["github"], options=options)
    assert repo_names(store) == ["F", "keep"]
    site = make_site(tmp_path, fake, github={"include": ["keep"]})
    fake.clear_log()
    sync_sources(site, store, no_secrets, ["github"], options=options)
    # What is no longer wanted is not synced, but its history is kept (the garden hides it).
    assert repo_names(store) == ["F", "keep"]
    assert not fake.requests("/repos/octo/F/")


def test_exhausted_limit_with_a_near_reset_is_waited_out(
    fake: FakeUpstream, site: Site, store: Store, no_secrets: Secrets
) -> None:
    fake.github.repos = repos(10)
    fake.github.remaining = 5
    fake.github.reset_in = 3  # max_rate_limit_wait is 5 in these tests
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        fake.github.remaining = 5000  # the reset came

    options = HttpOptions(timeout=0.5, retries=2, backoff=0.01, sleep=sleep)
    report = sync_sources(site, store, no_secrets, ["github"], options=options)

    assert report["github"].status == "ok"
    assert waited and 2 <= max(waited) <= 5
    assert rows(store, "SELECT count(*) FROM repos WHERE activity_status = 'ok'") == [(10,)]


def test_graphql_502_is_retried_and_partial_data_is_used(
    fake: FakeUpstream, site: Site, store: Store, token_secrets: Secrets, options: HttpOptions
) -> None:
    fake.github.repos = repos(2)
    nodes = [
        {
            "nameWithOwner": "octo/repo-000",
            "isPrivate": False,
            "languages": {"edges": [{"size": 7, "node": {"name": "Rust"}}]},
            "defaultBranchRef": {"target": {"history": {"totalCount": 0}}},
        },
        {"nameWithOwner": "octo/secret", "isPrivate": True, "defaultBranchRef": None},
    ]
    partial = {
        "data": {"user": {"repositories": {"pageInfo": {"hasNextPage": False}, "nodes": nodes}}},
        "errors": [{"message": "Timeout on languages for repo-001", "path": ["user"]}],
    }
    answers = [Answer(502, {}), Answer(200, partial)]
    model = fake._graphql

    def graphql(request: Logged) -> Answer:
        if b"repositories" in request.body and answers:
            return answers.pop(0)
        return model(request)

    fake.handle("POST", "/gh/graphql", graphql)

    report = sync_sources(site, store, token_secrets, ["github"], options=options)

    assert report["github"].status == "ok"
    assert any("Timeout on languages" in w for w in report["github"].warnings)
    langs = rows(store, "SELECT full_name, language FROM repo_languages ORDER BY 1")
    assert langs == [("octo/repo-000", "Rust"), ("octo/repo-001", "Python")]
    assert "octo/secret" not in {r[0] for r in rows(store, "SELECT full_name FROM repos")}
    # repo-000 had no commit in the year per GraphQL: no statistics asked for it.
    assert [r.path for r in fake.requests("/stats/")] == [
        "/gh/repos/octo/repo-001/stats/commit_activity"
    ]


def test_graphql_down_falls_back_to_rest_without_failing_the_source(
    fake: FakeUpstream, site: Site, store: Store, token_secrets: Secrets, options: HttpOptions
) -> None:
    fake.github.repos = repos(2)
    fake.script("POST", "/gh/graphql", Answer(504, {"message": "timeout"}))

    report = sync_sources(site, store, token_secrets, ["github"], options=options)

    assert report["github"].status == "ok"
    assert len(report["github"].warnings) == 2  # repositories query, contribution calendar
    assert "504" in report["github"].warnings[0]
    assert len(fake.requests("/languages")) == 2
    assert rows(store, "SELECT count(*) FROM contributions") == [(0,)]


def test_redirects_are_followed(
    fake: FakeUpstream, tmp_path, store: Store, no_secrets: Secrets, options: HttpOptions
) -> None:
    fake.github.repos = repos(2)
    target = f"{fake.url}/gh/users/octo/repos?per_page=100&type=owner&sort=pushed"
    fake.script("GET", "/gh/users/renamed/repos", Answer(301, {}, {"Location": target}))
    site = make_site(tmp_path, fake, github={"user": "renamed"})

    report = sync_sources(site, store, no_secrets, ["github"], options=options)

    assert report["github"].status == "ok"
    assert repo_names(store) == ["repo-000", "repo-001"]


def test_freshness_reports_age_and_keeps_the_last_success(
    fake: FakeUpstream, site: Site, store: Store, no_secrets: Secrets, options: HttpOptions
) -> None:
    fake.github.repos = repos(1)
    sync_sources(site, store, no_secrets, ["github"], options=options)
    first = freshness(store)["github"]
    fake.script("GET", "/gh/users/octo/repos", Answer(500, {}))
    sync_sources(site, store, no_secrets, ["github"], options=options)
    later = datetime.fromisoformat(first["last_success"].removesuffix("Z")) + timedelta(hours=2)

    state = freshness(store, now=later)["github"]

    assert state["last_success"] == first["last_success"]
    assert state["status"] == "failed" and "HTTP 500" in state["message"]
    assert 7199 <= state["age_seconds"] <= 7201
