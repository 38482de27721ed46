"""Spotify, Last.fm and weather against the fake upstream."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from greenhouse.config import Secrets
from greenhouse.errors import AuthError, SourceError
from greenhouse.sources.http import HttpOptions
from greenhouse.sources.sync import freshness, sync_sources
from greenhouse.sources.weather import owm_condition, wmo_condition
from greenhouse.store import Store
from tests.sources.conftest import make_site
from tests.sources.fake_upstream import Answer, FakeUpstream, Logged

SPOTIFY = Secrets(
    spotify_client_id="client-id-123",
    spotify_client_secret="client-SECRET-456",
    spotify_refresh_token="refresh-TOKEN-789",
)


def rows(store: Store, sql: str) -> list[tuple]:
    return store.conn.execute(sql).fetchall()


def play(when: str, track: str, track_id: str, artist: str = "Björk") -> dict:
    return {
        "played_at": when,
        "context": None,
        "track": {"id": track_id, "name": track, "artists": [{"name": artist}]},
    }


def spotify_fake(fake: FakeUpstream, plays: list[dict], *, rotate: bool = False) -> None:
    def token(request: Logged) -> Answer:
        form = dict(parse_qsl(request.body.decode()))
        expected = base64.b64encode(b"client-id-123:client-SECRET-456").decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return Answer(401, {"error": "invalid_client"})
        if form.get("refresh_token") != "refresh-TOKEN-789":
            return Answer(
                400, {"error": "invalid_grant", "error_description": "Refresh token revoked"}
            )
        body = {"access_token": "ACCESS-abcdef-123", "token_type": "Bearer", "expires_in": 3600}
        if rotate:
            body["refresh_token"] = "ROTATED-refresh-000"
        return Answer(200, body)

    def recently(request: Logged) -> Answer:
        if request.headers.get("authorization") != "Bearer ACCESS-abcdef-123":
            return Answer(401, {"error": {"status": 401, "message": "Invalid access token"}})
        after = int(request.query.get("after", 0))
        from greenhouse.sources.run import parse_time

        newer = [p for p in plays if parse_time(p["played_at"]).timestamp() * 1000 > after]
        return Answer(200, {"items": newer, "next": None, "cursors": None})

    def top(request: Logged) -> Answer:
        kind = request.path.rsplit("/", 1)[-1]
        if kind == "artists":
            return Answer(
                200, {"items": [{"name": "Sigur Rós", "genres": ["post-rock"]}, {"name": "❤️"}]}
            )
        return Answer(200, {"items": [{"name": "Hoppípolla", "artists": [{"name": "Sigur Rós"}]}]})

    fake.handle("POST", "/accounts/api/token", token)
    fake.handle("GET", "/spotify/v1/me/player/recently-played", recently)
    fake.handle("GET", "/spotify/v1/me/top/tracks", top)
    fake.handle("GET", "/spotify/v1/me/top/artists", top)


def test_spotify_plays_accumulate_and_audio_features_403_degrades(
    fake: FakeUpstream, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    site = make_site(tmp_path, fake)
    plays = [
        play("2026-11-27T10:00:00.123Z", "Jóga", "t1"),
        play("2026-11-27T09:00:00Z", "Army", "t2"),
    ]
    spotify_fake(fake, plays)
    fake.script("GET", "/spotify/v1/audio-features", Answer(403, {"error": {"status": 403}}))

    report = sync_sources(site, store, SPOTIFY, ["spotify"], options=options)

    assert report["spotify"].status == "ok"
    assert any("audio features" in w for w in report["spotify"].warnings)
    assert rows(store, "SELECT track, artist, valence FROM plays ORDER BY played_at") == [
        ("Army", "Björk", None),
        ("Jóga", "Björk", None),
    ]
    assert len(rows(store, "SELECT * FROM music_top")) == 9  # 3 ranges × (1 track + 2 artists)

    # Only the last 50 plays exist upstream: a new one arrives, an old one falls off.
    plays[:] = [play("2026-11-28T08:00:00Z", "Hyperballad", "t3")]
    fake.clear_log()
    sync_sources(site, store, SPOTIFY, ["spotify"], options=options)

    assert len(rows(store, "SELECT * FROM plays")) == 3
    after = fake.requests("/recently-played")[0].query["after"]
    assert after == "1795773600123"  # milliseconds of the newest stored play
    assert not fake.requests("/audio-features")  # 403 remembered


def test_spotify_audio_features_when_available(
    fake: FakeUpstream, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    spotify_fake(fake, [play("2026-11-27T10:00:00Z", "Jóga", "t1")])
    fake.script(
        "GET",
        "/spotify/v1/audio-features",
        Answer(200, {"audio_features": [{"id": "t1", "valence": 0.25, "energy": 0.75}, None]}),
    )
    sync_sources(make_site(tmp_path, fake), store, SPOTIFY, ["spotify"], options=options)
    assert rows(store, "SELECT valence, energy FROM plays") == [(0.25, 0.75)]


def test_spotify_rotated_refresh_token_is_kept_and_wins(
    fake: FakeUpstream, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    """Issue 12.7: after a rotation the old token is refused; the kept one carries on."""
    fake.spotify.rotate = True
    fake.spotify.plays = [play("2026-11-27T10:00:00Z", "Jóga", "t1")]
    site = make_site(tmp_path, fake)

    for _ in range(3):
        report = sync_sources(site, store, SPOTIFY, ["spotify"], options=options)
        assert report["spotify"].status == "ok", report["spotify"].error

    sent = [dict(parse_qsl(r.body.decode()))["refresh_token"] for r in fake.requests("/api/token")]
    assert sent == ["refresh-TOKEN-789", "ROTATED-refresh-001", "ROTATED-refresh-002"]
    store.conn.execute("CHECKPOINT")
    database = store.path.read_bytes()
    assert b"ROTATED-refresh-003" in database  # the newest one, documented as kept
    assert b"refresh-TOKEN-789" not in database  # the environment's value never is
    for text in [repr(report), *report["spotify"].warnings]:
        assert "ROTATED" not in text

    # A new sign-in (a different SPOTIFY_REFRESH_TOKEN) starts a new chain.
    fake.spotify.valid_refresh = {"signed-in-again-42"}
    fresh = Secrets(
        spotify_client_id="client-id-123",
        spotify_client_secret="client-SECRET-456",
        spotify_refresh_token="signed-in-again-42",
    )
    assert sync_sources(site, store, fresh, ["spotify"], options=options)["spotify"].status == "ok"
    # …and the old environment value, seen again (an older CI secret), loses to the newest.
    assert (
        sync_sources(site, store, SPOTIFY, ["spotify"], options=options)["spotify"].status == "ok"
    )
    last = dict(parse_qsl(fake.requests("/api/token")[-1].body.decode()))["refresh_token"]
    assert last == "ROTATED-refresh-004"


def test_spotify_refused_rotated_token_says_it_was_a_rotation(
    fake: FakeUpstream, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    fake.spotify.rotate = True
    site = make_site(tmp_path, fake)
    sync_sources(site, store, SPOTIFY, ["spotify"], options=options)
    fake.spotify.valid_refresh = set()  # the user revoked the app

    report = sync_sources(site, store, SPOTIFY, ["spotify"], options=options)

    assert report["spotify"].status == "failed"
    message = report["spotify"].error or ""
    assert "issued in a rotation on 20" in message and "kept in the store" in message
    assert "greenhouse auth spotify" in message and "ROTATED" not in message


def test_spotify_invalid_grant_says_sign_in_again(
    fake: FakeUpstream, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    spotify_fake(fake, [])
    stale = Secrets(
        spotify_client_id="client-id-123",
        spotify_client_secret="client-SECRET-456",
        spotify_refresh_token="expired-refresh-token",
    )
    with pytest.raises(AuthError) as failure:
        sync_sources(make_site(tmp_path, fake), store, stale, ["spotify"], options=options)
    message = str(failure.value)
    assert (
        message.startswith("spotify: ")
        and "sign in again with `greenhouse auth spotify`" in message
    )
    # The store saw no rotation: every cause is named, rotation included, none asserted.
    assert "expired" in message and "revoked" in message and "rotated" in message
    assert "Refresh token revoked" in message  # Spotify's own words
    assert "expired-refresh-token" not in message


def lastfm_page(tracks: list[dict], page: int, pages: int) -> dict:
    return {
        "recenttracks": {
            "track": tracks,
            "@attr": {"page": str(page), "totalPages": str(pages), "user": "rj", "total": "3"},
        }
    }


def scrobble(uts: int, name: str) -> dict:
    return {"name": name, "artist": {"#text": "Múm"}, "date": {"uts": str(uts), "#text": "..."}}


def test_lastfm_strings_now_playing_pages_and_cursor(
    fake: FakeUpstream, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    site = make_site(tmp_path, fake, lastfm={"user": "rj"})
    secrets = Secrets(lastfm_api_key="LASTFM-key-0123456789")
    now_playing = {"name": "Live", "artist": {"#text": "Múm"}, "@attr": {"nowplaying": "true"}}

    def recent(request: Logged) -> Answer:
        assert request.query["method"] == "user.getrecenttracks"
        if request.query.get("from"):
            return Answer(200, lastfm_page([now_playing], 1, 1))
        if request.query["page"] == "1":
            return Answer(
                200, lastfm_page([now_playing, scrobble(1764230000, "Green Grass")], 1, 2)
            )
        return Answer(200, lastfm_page(scrobble(1764220000, "Weeping Rock"), 2, 2))  # type: ignore[arg-type]

    fake.handle("GET", "/lastfm/2.0/", recent)
    report = sync_sources(site, store, secrets, ["lastfm"], options=options)

    assert report["lastfm"].status == "ok"
    assert rows(store, "SELECT track, artist FROM plays ORDER BY played_at") == [
        ("Weeping Rock", "Múm"),
        ("Green Grass", "Múm"),
    ]
    fake.clear_log()
    sync_sources(site, store, secrets, ["lastfm"], options=options)
    assert fake.requests()[0].query["from"] == "1764230001"
    assert len(rows(store, "SELECT * FROM plays")) == 2


@pytest.mark.parametrize(
    ("code", "status", "message", "expected"),
    [
        (6, 200, "User not found", "user 'rj' not found"),
        (
            6,
            400,
            "Invalid parameters - from is empty",
            r"Last.fm refused the request \(error 6: Invalid parameters - from is empty\)",
        ),
        (17, 200, "nope", "private"),
        (10, 403, "nope", "LASTFM_API_KEY was rejected"),
    ],
)
def test_lastfm_errors_even_with_http_200(
    fake: FakeUpstream,
    tmp_path: Path,
    store: Store,
    options: HttpOptions,
    code: int,
    status: int,
    message: str,
    expected: str,
) -> None:
    fake.script("GET", "/lastfm/2.0/", Answer(status, {"error": code, "message": message}))
    site = make_site(tmp_path, fake, lastfm={"user": "rj"})
    with pytest.raises(SourceError, match=expected):
        sync_sources(
            site,
            store,
            Secrets(lastfm_api_key="LASTFM-key-0123456789"),
            ["lastfm"],
            options=options,
        )


def test_lastfm_temporary_error_is_retried(
    fake: FakeUpstream, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    fake.script(
        "GET",
        "/lastfm/2.0/",
        Answer(200, {"error": 16, "message": "try later"}),
        Answer(200, lastfm_page([scrobble(1764230000, "Green Grass")], 1, 1)),
    )
    site = make_site(tmp_path, fake, lastfm={"user": "rj"})
    report = sync_sources(
        site, store, Secrets(lastfm_api_key="LASTFM-key-0123456789"), ["lastfm"], options=options
    )
    assert report["lastfm"].status == "ok"
    assert len(rows(store, "SELECT * FROM plays")) == 1


@pytest.mark.parametrize(
    ("code", "condition"),
    [
        (0, "sunny"),
        (3, "cloudy"),
        (45, "foggy"),
        (63, "rainy"),
        (81, "rainy"),
        (75, "snowy"),
        (86, "snowy"),
        (96, "stormy"),
    ],
)
def test_open_meteo_one_row_per_sync(
    fake: FakeUpstream,
    tmp_path: Path,
    store: Store,
    options: HttpOptions,
    code: int,
    condition: str,
) -> None:
    current = {
        "time": "2026-11-28T01:00",
        "temperature_2m": -1.5,
        "weather_code": code,
        "wind_speed_10m": 12.0,
        "cloud_cover": 80,
    }
    fake.script(
        "GET", "/meteo/v1/forecast", Answer(200, {"utc_offset_seconds": 3600, "current": current})
    )
    site = make_site(
        tmp_path,
        fake,
        weather={
            "provider": "open-meteo",
            "latitude": 64.1,
            "longitude": -21.9,
            "api_url": f"{fake.url}/meteo",
        },
    )
    report = sync_sources(site, store, Secrets(), options=options)
    assert [(r.name, r.status) for r in report.sources] == [
        ("github", "ok"),
        ("gitlab", "skipped"),
        ("forgejo", "skipped"),
        ("spotify", "skipped"),
        ("lastfm", "skipped"),
        ("listenbrainz", "skipped"),
        ("weather", "ok"),
        ("visitors", "skipped"),  # no [live] export_url or event_dir
    ]
    assert rows(store, "SELECT source, condition, code, temperature FROM weather_obs") == [
        ("open-meteo", condition, code, -1.5)
    ]
    assert fake.requests("/meteo/v1/forecast")[0].query["current"].startswith("temperature_2m")


def test_open_meteo_error_reason(
    fake: FakeUpstream, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    fake.script(
        "GET",
        "/meteo/v1/forecast",
        Answer(400, {"error": True, "reason": "Latitude must be in range"}),
    )
    site = make_site(
        tmp_path,
        fake,
        weather={
            "provider": "open-meteo",
            "latitude": 1,
            "longitude": 2,
            "api_url": f"{fake.url}/meteo",
        },
    )
    with pytest.raises(SourceError, match="weather: Open-Meteo refused the request: Latitude"):
        sync_sources(site, store, Secrets(), ["weather"], options=options)


def test_openweathermap_and_a_key_not_yet_active(
    fake: FakeUpstream, tmp_path: Path, store: Store, options: HttpOptions
) -> None:
    site = make_site(
        tmp_path,
        fake,
        weather={
            "provider": "openweathermap",
            "latitude": 1,
            "longitude": 2,
            "api_url": f"{fake.url}/owm",
        },
    )
    key = "OWM-key-abcdef123456"
    fake.script(
        "GET",
        "/owm/data/2.5/weather",
        Answer(
            200,
            {
                "cod": 200,
                "weather": [{"id": 502, "main": "Rain"}],
                "main": {"temp": 8.5},
                "wind": {"speed": 3.1},
                "clouds": {"all": 90},
            },
        ),
        Answer(
            401,
            {
                "cod": 401,
                "message": f"Invalid API key {key}. Please see https://openweathermap.org/faq",
            },
        ),
    )
    sync_sources(site, store, Secrets(weather_api_key=key), ["weather"], options=options)
    assert rows(store, "SELECT source, condition, cloud_cover FROM weather_obs") == [
        ("openweathermap", "rainy", 90.0)
    ]
    assert fake.requests("/owm/")[0].query["appid"] == key

    report = sync_sources(site, store, Secrets(weather_api_key=key), ["weather"], options=options)
    assert report["weather"].status == "failed"
    assert "key can take a few hours to activate" in (report["weather"].error or "")
    assert key not in json.dumps(freshness(store))
    assert len(rows(store, "SELECT * FROM weather_obs")) == 1


def test_condition_tables() -> None:
    assert [owm_condition(c) for c in (211, 301, 511, 601, 741, 781, 800, 801, 804)] == [
        "stormy",
        "rainy",
        "rainy",
        "snowy",
        "foggy",
        "stormy",
        "sunny",
        "sunny",
        "cloudy",
    ]
    assert {wmo_condition(c) for c in range(100)} <= {
        "sunny",
        "cloudy",
        "rainy",
        "stormy",
        "foggy",
        "snowy",
    }


def test_spotify_429_retry_after_is_obeyed(
    fake: FakeUpstream, tmp_path: Path, store: Store, options: HttpOptions, sleeps
) -> None:
    spotify_fake(fake, [play("2026-11-27T10:00:00Z", "Jóga", "t1")])
    fake.script(
        "GET",
        "/spotify/v1/me/player/recently-played",
        Answer(429, {"error": {"status": 429}}, {"Retry-After": "2"}),
        None,
    )
    fake.script("GET", "/spotify/v1/audio-features", Answer(403, {}))
    report = sync_sources(make_site(tmp_path, fake), store, SPOTIFY, ["spotify"], options=options)
    assert report["spotify"].status == "ok"
    assert sleeps.waited(2.0)
    assert rows(store, "SELECT track FROM plays") == [("Jóga",)]


def test_lastfm_long_history_is_read_over_several_syncs(
    fake: FakeUpstream,
    tmp_path: Path,
    store: Store,
    options: HttpOptions,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from greenhouse.sources import lastfm

    monkeypatch.setattr(lastfm, "MAX_PAGES", 2)
    asked: list[dict[str, str]] = []

    def recent(request: Logged) -> Answer:
        asked.append(request.query)
        if request.query.get("from"):
            return Answer(200, lastfm_page([], 1, 1))
        page = int(request.query["page"])
        return Answer(200, lastfm_page([scrobble(1764230000 - page * 100, f"t{page}")], page, 3))

    fake.handle("GET", "/lastfm/2.0/", recent)
    site = make_site(tmp_path, fake, lastfm={"user": "rj"})
    secrets = Secrets(lastfm_api_key="LASTFM-key-0123456789")

    first = sync_sources(site, store, secrets, ["lastfm"], options=options)
    assert first["lastfm"].status == "partial"
    assert len(rows(store, "SELECT * FROM plays")) == 2
    second = sync_sources(site, store, secrets, ["lastfm"], options=options)
    assert second["lastfm"].status == "ok"
    assert [q["page"] for q in asked] == ["1", "2", "3"]
    assert len({q["to"] for q in asked}) == 1  # the same window throughout
    third = sync_sources(site, store, secrets, ["lastfm"], options=options)
    assert third["lastfm"].status == "ok"
    assert asked[-1]["from"] == str(1764230000 - 100 + 1)
    assert len(rows(store, "SELECT * FROM plays")) == 3
