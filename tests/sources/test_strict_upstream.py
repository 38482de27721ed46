"""Issue 12: what a strict, hostile upstream found, each case over real HTTP to the fake."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from greenhouse.config import Secrets, Site
from greenhouse.errors import SourceError
from greenhouse.sources.http import HttpOptions, sendable
from greenhouse.sources.sync import freshness, sync_sources
from greenhouse.store import Store
from tests.sources.conftest import TOKEN, Sleeps, make_site, repos
from tests.sources.fake_upstream import Answer, FakeRepo, FakeUpstream, Scrobble

LASTFM = Secrets(lastfm_api_key="LASTFM-key-0123456789")


def rows(store: Store, sql: str, *params: object) -> list[tuple]:
    return store.conn.execute(sql, list(params)).fetchall()


def commits(store: Store, full_name: str) -> int:
    got = rows(
        store, "SELECT coalesce(sum(commits), 0) FROM activity WHERE full_name = ?", full_name
    )
    return int(got[0][0])


# -- 1. Last.fm on a fresh store ---------------------------------------------------------


def test_lastfm_first_sync_sends_no_empty_parameter(
    fake: FakeUpstream, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    fake.lastfm.scrobbles = [Scrobble(1764230000 - i * 60, f"t{i}") for i in range(250)]
    fake.lastfm.now_playing = "Live"
    site = make_site(tmp_path, fake, lastfm={"user": "rj"})

    report = sync_sources(site, store, LASTFM, ["lastfm"], options=options)

    assert report["lastfm"].status == "ok", report["lastfm"].error
    assert rows(store, "SELECT count(*) FROM plays") == [(250,)]
    first = fake.requests("/lastfm/")
    assert len(first) == 2  # two pages of 200
    for request in first:
        assert all(value != "" for _, value in request.pairs), request.pairs
        assert "from" not in request.query
    fake.clear_log()
    sync_sources(site, store, LASTFM, ["lastfm"], options=options)
    assert fake.requests("/lastfm/")[0].query["from"] == str(1764230000 + 1)


def test_sendable_drops_none_and_empty_values() -> None:
    assert sendable({"a": None, "b": "", "c": 0, "d": "x"}) == {"c": 0, "d": "x"}


def test_lastfm_unknown_user_is_still_named(
    fake: FakeUpstream, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    site = make_site(tmp_path, fake, lastfm={"user": "nobody"})
    with pytest.raises(SourceError, match="user 'nobody' not found"):
        sync_sources(site, store, LASTFM, ["lastfm"], options=options)


# -- 2. New commits are never missed ---------------------------------------------------------


def test_a_push_stamped_before_the_last_fetch_is_still_fetched(
    fake: FakeUpstream, site: Site, store: Store, no_secrets: Secrets, options: HttpOptions
) -> None:
    fake.github.repos = [FakeRepo("skewed", commits={5: 59}, pushed_at="2026-11-20T10:00:00Z")]
    sync_sources(site, store, no_secrets, ["github"], options=options)
    assert commits(store, "octo/skewed") == 59
    # A push whose time (another machine's clock) is before the local time of that fetch.
    earlier = (datetime.now(UTC) - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fake.github.repos[0].pushed_at = earlier
    fake.github.repos[0].commits = {0: 2, 5: 59}

    sync_sources(site, store, no_secrets, ["github"], options=options)

    assert commits(store, "octo/skewed") == 61


def test_statistics_not_yet_recomputed_are_asked_for_again(
    fake: FakeUpstream, site: Site, store: Store, no_secrets: Secrets, options: HttpOptions
) -> None:
    repo = FakeRepo("busy", commits={5: 59})
    fake.github.repos = [repo]
    sync_sources(site, store, no_secrets, ["github"], options=options)
    # A push lands, but GitHub still serves the statistics it computed before it.
    repo.pushed_at = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    repo.stale_commits, repo.commits = repo.commits, {0: 2, 5: 59}

    sync_sources(site, store, no_secrets, ["github"], options=options)
    assert commits(store, "octo/busy") == 59
    stats = fake.requests("/stats/commit_activity")
    assert [r.status for r in stats] == [200, 304]  # unchanged: cannot include the push yet

    fake.github.recompute()
    sync_sources(site, store, no_secrets, ["github"], options=options)
    assert commits(store, "octo/busy") == 61
    fake.clear_log()
    sync_sources(site, store, no_secrets, ["github"], options=options)
    assert not fake.requests("/stats/")  # settled: nothing more to ask


# -- 3. GraphQL's own rate limit never stops REST --------------------------------------------


def test_graphql_rate_limited_on_a_later_page_falls_back_to_rest(
    fake: FakeUpstream, site: Site, store: Store, token_secrets: Secrets, options: HttpOptions
) -> None:
    fake.github.repos = repos(207)
    fake.github.calendar = {"2026-11-01": 3}
    fake.github.graphql_pages_before_limit = 1  # page 2 answers RATE_LIMITED inside a 200

    report = sync_sources(site, store, token_secrets, ["github"], options=options)

    assert report["github"].status == "ok", report["github"].error
    assert any("GraphQL rate limit reached" in w for w in report["github"].warnings)
    fetched = rows(store, "SELECT count(*) FROM repos WHERE fetched_at IS NOT NULL")
    assert fetched == [(207,)]
    assert rows(store, "SELECT count(DISTINCT full_name) FROM repo_languages") == [(207,)]
    assert len(fake.requests("/languages")) == 107  # what GraphQL's first page did not answer
    assert rows(store, "SELECT count FROM contributions") == [(3,)]  # the calendar went first
    assert commits(store, "octo/repo-206") == 3

    # The spent GraphQL budget is remembered: the next run asks GraphQL nothing before its reset.
    fake.github.repos[0].pushed_at = "2026-11-29T10:00:00Z"
    fake.clear_log()
    report = sync_sources(site, store, token_secrets, ["github"], options=options)
    assert not fake.requests("/graphql")
    assert [r.path for r in fake.requests("/repos/octo/")] == [
        "/gh/repos/octo/repo-000/stats/commit_activity",
        "/gh/repos/octo/repo-000/languages",
    ]


# -- 4. A spent budget is remembered between runs ------------------------------------------------


def test_a_spent_rest_budget_sends_nothing_until_its_reset(
    fake: FakeUpstream,
    tmp_path: Path,
    store: Store,
    no_secrets: Secrets,
    options: HttpOptions,
    sleeps: Sleeps,
) -> None:
    site = make_site(tmp_path, fake, github={"concurrency": 1})
    fake.github.repos = repos(207)
    sync_sources(site, store, no_secrets, ["github"], options=options)
    fake.github.repos[3].pushed_at = "2026-11-29T10:00:00Z"
    fake.github.remaining = 1  # spent during the next run (the listing's 304s are free)

    first = sync_sources(site, store, no_secrets, ["github"], options=options)
    assert first["github"].status == "partial"
    fake.clear_log()

    report = sync_sources(site, store, no_secrets, ["github"], options=options)

    assert not fake.requests("/gh/")  # nothing sent: every request would be refused
    github = report["github"]
    assert github.status == "partial"
    assert "207 repos stored" in github.summary and "0 repos" not in github.summary
    assert "REST rate limit used up" in (github.error or "")
    assert "nothing was sent" in (github.error or "")
    assert freshness(store)["github"]["stale"] is True
    with pytest.raises(SourceError, match="REST rate limit used up"):
        sync_sources(site, store, no_secrets, ["github"], strict=True, options=options)
    assert not fake.requests("/gh/")

    fake.github.remaining = 5000
    sleeps.slept += 3700  # after the reset
    report = sync_sources(site, store, no_secrets, ["github"], options=options)
    assert report["github"].status == "ok"
    assert freshness(store, now=datetime.now(UTC) + timedelta(hours=1))["github"]["stale"] is False


# -- 5. A secondary limit pauses the whole client --------------------------------------------


def test_a_secondary_limit_pauses_every_worker(
    fake: FakeUpstream, tmp_path: Path, store: Store, no_secrets: Secrets
) -> None:
    site = make_site(tmp_path, fake, github={"concurrency": 4})
    fake.github.repos = repos(60)
    fake.github.secondary_after = 25
    fake.github.secondary_retry_after = 1
    fake.latency = 0.01  # keep all four slots busy when the limit lands
    real = HttpOptions(timeout=5, retries=2, backoff=0.01)  # real sleeps and clock

    started = time.monotonic()
    report = sync_sources(site, store, no_secrets, ["github"], options=real)

    assert report["github"].status == "ok", report["github"].error
    # Requests already in flight when the limit landed (three other slots at most) arrive
    # inside the window and are refused; nothing else is sent until the window closes.
    assert fake.github.ignored_secondary <= 3
    opened = fake.github.secondary_opened - time.time() + time.monotonic()  # on Logged.at's clock
    late = [r for r in fake.log if opened + 0.25 < r.at < opened + 0.95]
    assert late == [], [(round(r.at - opened, 3), r.path, r.status) for r in late]
    assert time.monotonic() - started >= 1.0
    assert rows(store, "SELECT count(*) FROM repos WHERE fetched_at IS NOT NULL") == [(60,)]


# -- 8. No private repository in the DuckDB file -----------------------------------------------


def test_no_trace_of_private_repositories_in_the_store(
    fake: FakeUpstream, tmp_path: Path, token_secrets: Secrets, options: HttpOptions
) -> None:
    secret = FakeRepo(
        "zz-secret-roadmap", private=True, description="Confidential acquisition plan"
    )
    fake.github.repos = [*repos(150), secret]
    site = make_site(tmp_path, fake)
    path = tmp_path / "private.duckdb"
    with Store.open(path) as store:
        sync_sources(site, store, token_secrets, ["github"], options=options)
        sync_sources(site, store, token_secrets, ["github"], options=options)  # warm: 304s
        assert rows(store, "SELECT count(*) FROM http_cache WHERE url LIKE '%/users/octo/repos%'")
        store.conn.execute("CHECKPOINT")
        dumped = repr([rows(store, f"SELECT * FROM {t}") for (t,) in rows(store, "SHOW TABLES")])
    listing = [r for r in fake.requests("/users/octo/repos") if r.status == 200]
    assert listing  # the token did see it in the listing
    assert fake.requests("/users/octo/repos")[-1].status == 304
    database = b"".join(p.read_bytes() for p in tmp_path.glob("private.duckdb*"))
    for trace in ("zz-secret-roadmap", "Confidential acquisition plan"):
        assert trace.encode() not in database
        assert trace not in dumped


# -- 10. A hanging endpoint costs at most the source's time budget ----------------------------


def test_a_hanging_upstream_ends_the_source_partial_within_its_budget(
    fake: FakeUpstream, tmp_path: Path, store: Store
) -> None:
    fake.script("GET", "/meteo/v1/forecast", Answer(hang=20))
    site = make_site(
        tmp_path,
        fake,
        weather={
            "provider": "open-meteo", "latitude": 1, "longitude": 2,
            "api_url": f"{fake.url}/meteo", "time_budget": 1.5,
        },
    )  # fmt: skip
    store.conn.execute(  # older data: the stale source does not fail the sync
        "INSERT INTO sync_state (source, last_success, status) VALUES ('weather', now(), 'ok')"
    )
    started = time.monotonic()

    report = sync_sources(site, store, Secrets(), ["weather"], options=HttpOptions(timeout=30))

    assert time.monotonic() - started < 5
    assert report["weather"].status == "partial"
    assert "time budget of 2 s spent" in (report["weather"].error or "")
    assert len(fake.requests("/meteo/")) == 1


# -- 12. Messages -----------------------------------------------------------------------------


def test_summary_shows_each_github_budget_on_its_own(
    fake: FakeUpstream, site: Site, store: Store, options: HttpOptions
) -> None:
    fake.github.repos = repos(3)
    fake.github.graphql_remaining = 4990
    report = sync_sources(site, store, Secrets(github_token=TOKEN), ["github"], options=options)
    summary = report["github"].summary
    # One listing page and three statistics (REST), two GraphQL queries.
    assert "rate limit REST 4,996 left, GraphQL 4,988 left" in summary, summary


def test_lastfm_rate_limit_invents_no_reset_time(
    fake: FakeUpstream, tmp_path: Path, store: Store, options: HttpOptions, sleeps: Sleeps
) -> None:
    fake.lastfm.rate_limited = 100
    site = make_site(tmp_path, fake, lastfm={"user": "rj"})
    store.conn.execute(
        "INSERT INTO sync_state (source, last_success, status) VALUES ('lastfm', now(), 'ok')"
    )
    report = sync_sources(site, store, LASTFM, ["lastfm"], options=options)
    assert report["lastfm"].status == "partial"
    assert "rate limit" in (report["lastfm"].error or "")
    assert "resets in" not in (report["lastfm"].error or "")
    assert max(sleeps.calls) < 60  # a short backoff, not GitHub's minute


def test_each_source_has_its_own_max_rate_limit_wait(
    fake: FakeUpstream, tmp_path: Path, store: Store, options: HttpOptions, sleeps: Sleeps
) -> None:
    fake.spotify.plays = []
    fake.script(
        "GET",
        "/spotify/v1/me/player/recently-played",
        Answer(429, {"error": {"status": 429}}, {"Retry-After": "30"}),
        None,
    )
    secrets = Secrets(
        spotify_client_id="client-id-123",
        spotify_client_secret="client-SECRET-456",
        spotify_refresh_token="refresh-TOKEN-789",
    )
    # [github] max_rate_limit_wait is 5 here: Spotify no longer borrows it.
    site = make_site(tmp_path, fake, spotify={"max_rate_limit_wait": 60})
    assert (
        sync_sources(site, store, secrets, ["spotify"], options=options)["spotify"].status == "ok"
    )
    assert sleeps.waited(30)

    impatient = make_site(tmp_path, fake, spotify={"max_rate_limit_wait": 10})
    fake.script(
        "GET",
        "/spotify/v1/me/player/recently-played",
        Answer(429, {"error": {"status": 429}}, {"Retry-After": "30"}),
    )
    report = sync_sources(site=impatient, store=store, secrets=secrets, sources=["spotify"],
                          options=options)  # fmt: skip
    assert report["spotify"].status == "partial"
    assert "resets in 30 s" in (report["spotify"].error or "")
