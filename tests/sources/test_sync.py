"""Orchestration: selection, freshness, interruption, reporting and secrets."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from rich.console import Console

from greenhouse.config import Secrets
from greenhouse.errors import SourceError
from greenhouse.sources.http import HttpOptions, Scrubber, cache_key
from greenhouse.sources.progress import Progress, RichReporter
from greenhouse.sources.sync import freshness, sync_sources
from greenhouse.store import Store
from tests.sources.conftest import TOKEN, make_site, repos
from tests.sources.fake_upstream import Answer, FakeUpstream


def test_nothing_configured_syncs_nothing(fake: FakeUpstream, tmp_path: Path, store: Store) -> None:
    site = make_site(tmp_path, fake, github={"user": None})
    report = sync_sources(site, store, Secrets())
    assert [r.status for r in report.sources] == ["skipped"] * 8 and report.ok
    assert "SPOTIFY_CLIENT_ID" in report["spotify"].summary
    assert not fake.log


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("spotify", "SPOTIFY_CLIENT_ID"),
        ("lastfm", "[lastfm] user"),
        ("weather", "latitude"),
        ("github", "[github] user"),
        ("visits", "unknown source"),
    ],
)
def test_naming_an_unconfigured_source_says_what_to_configure(
    fake: FakeUpstream, tmp_path: Path, store: Store, name: str, hint: str
) -> None:
    site = make_site(tmp_path, fake, github={"user": None}, weather={"provider": "open-meteo"})
    with pytest.raises(SourceError, match=rf"^{name}: .*{hint}".replace("[", r"\[")):
        sync_sources(site, store, Secrets(), [name])


class Interrupting:
    """A reporter whose user presses Ctrl-C after a few progress updates."""

    def __init__(self, after: int):
        self.after = after
        self.updates: list[Progress] = []

    def progress(self, update: Progress) -> None:
        self.updates.append(update)
        if len(self.updates) == self.after:
            raise KeyboardInterrupt

    def warn(self, source: str, message: str) -> None:
        pass

    def finish(self, source: str, status: str, summary: str) -> None:
        pass


def test_ctrl_c_halfway_keeps_what_was_fetched_and_the_next_run_resumes(
    fake: FakeUpstream, tmp_path: Path, options: HttpOptions
) -> None:
    fake.github.repos = repos(300)
    site = make_site(tmp_path, fake, github={"concurrency": 2})
    path = tmp_path / "g.duckdb"
    with Store.open(path) as store, pytest.raises(KeyboardInterrupt):
        sync_sources(site, store, Secrets(), reporter=Interrupting(after=4), options=options)
    with Store.open(path) as store:
        kept = store.conn.execute(
            "SELECT count(*) FROM repos WHERE fetched_at IS NOT NULL"
        ).fetchone()
        assert kept and 0 < kept[0] < 300
        assert freshness(store)["github"]["status"] == "failed"
        fake.clear_log()
        report = sync_sources(site, store, Secrets(), options=options)
        assert report["github"].status == "ok"
        # Distinct repositories: a request retried after a timeout (a busy machine) is one.
        fetched = len({r.path for r in fake.requests("/stats/commit_activity")})
        assert fetched == 300 - kept[0]
        assert freshness(store)["github"]["last_success"] is not None


def test_rich_reporter_is_quiet_off_a_terminal(
    fake: FakeUpstream, site, store: Store, options: HttpOptions
) -> None:
    fake.github.repos = repos(3)
    out = io.StringIO()
    reporter = RichReporter(Console(file=out, force_terminal=False, width=200))
    sync_sources(site, store, Secrets(), reporter=reporter, options=options)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("ok") and "github: 3 repos (3 updated), 7 requests" in lines[0]


def test_secrets_never_reach_the_store_messages_or_logs(
    fake: FakeUpstream,
    tmp_path: Path,
    options: HttpOptions,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = Secrets(
        github_token=TOKEN,
        lastfm_api_key="LASTFM-secret-key-42",
        weather_api_key="OWM-secret-key-42",
        spotify_client_id="spotify-id-42",
        spotify_client_secret="spotify-secret-42",
        spotify_refresh_token="spotify-refresh-42",
    )
    fake.github.repos = repos(3)
    # Upstreams that echo secrets back in their error messages.
    fake.script(
        "GET", "/lastfm/2.0/", Answer(200, {"error": 8, "message": "bad LASTFM-secret-key-42"})
    )
    fake.script("GET", "/owm/data/2.5/weather", Answer(500, {"message": "OWM-secret-key-42"}))
    fake.script("POST", "/accounts/api/token", Answer(400, {"error": "invalid_grant"}))
    site = make_site(
        tmp_path,
        fake,
        lastfm={"user": "rj"},
        weather={
            "provider": "openweathermap",
            "latitude": 1,
            "longitude": 2,
            "api_url": f"{fake.url}/owm",
        },
    )
    out = io.StringIO()
    path = tmp_path / "secret.duckdb"
    with Store.open(path) as store:
        sync_sources(site, store, secrets, ["github"], options=options)  # some older data
        with pytest.raises(SourceError) as first_failure:  # they never succeeded before
            sync_sources(
                site, store, secrets, reporter=RichReporter(Console(file=out)), options=options
            )
        report = first_failure.value.report  # type: ignore[attr-defined]
        texts = [out.getvalue(), repr(report), repr(freshness(store))]
        for name in ("spotify", "lastfm", "weather"):
            with pytest.raises(SourceError) as failure:
                sync_sources(site, store, secrets, [name], strict=True, options=options)
            texts.append(str(failure.value))
        store.conn.execute("CHECKPOINT")
    statuses = {r.name: r.status for r in report.sources}
    assert statuses == {
        **dict.fromkeys(("gitlab", "forgejo", "listenbrainz", "visitors"), "skipped"),
        **dict.fromkeys(("spotify", "lastfm", "weather"), "failed"),
        "github": "ok",
    }
    assert fake.requests("/owm/")[0].query["appid"] == "OWM-secret-key-42"  # it was really sent
    captured = capsys.readouterr()
    texts += [caplog.text, captured.out, captured.err]
    database = b"".join(p.read_bytes() for p in tmp_path.glob("secret.duckdb*"))
    for secret in secrets.values():
        assert secret.encode() not in database, secret
        for text in texts:
            assert secret not in text, (secret, text)
    assert b"ACCESS" not in database


def test_scrubber_and_cache_keys() -> None:
    scrub = Scrubber(["abcd1234", "abcd"])
    assert scrub("x abcd1234 y abcd") == "x *** y ***"
    key = cache_key("https://h/2.0/?b=2&api_key=SECRET", {"appid": "S2", "a": 1})
    assert key == "https://h/2.0/?a=1&b=2"


def test_openweathermap_without_a_key_fails_with_one_clear_line(
    fake: FakeUpstream, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    site = make_site(
        tmp_path,
        fake,
        github={"user": None},
        weather={"provider": "openweathermap", "latitude": 1, "longitude": 2},
    )
    with pytest.raises(SourceError) as failure:
        sync_sources(site, store, Secrets(), options=options)
    assert str(failure.value) == (
        'weather: OpenWeatherMap needs WEATHER_API_KEY (or use provider = "open-meteo")'
    )
    assert failure.value.report["weather"].status == "failed"  # type: ignore[attr-defined]
    assert not fake.log
