"""greenhouse's own sources, declared like any plugin's.

``pyproject.toml`` names each :class:`Source` below in the
``greenhouse.sources`` entry-point group. The declarations are cheap to
import: each ``sync`` imports its module (HTTP client, store writes) only when
the source actually runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from greenhouse.config import (
    ForgejoConfig,
    GithubConfig,
    GitlabConfig,
    LastfmConfig,
    ListenbrainzConfig,
    SpotifyConfig,
    WeatherConfig,
)
from greenhouse.sources.plugin import Source

if TYPE_CHECKING:
    from greenhouse.config import Secrets, Site
    from greenhouse.sources.run import Outcome, SourceRun


def _lazy(name: str) -> Callable[[SourceRun], Outcome]:
    """``greenhouse.sources.<name>.sync_<name>``, imported the first time the source runs."""

    def sync(run: SourceRun) -> Outcome:
        module = importlib.import_module(f"greenhouse.sources.{name}")
        return cast("Callable[[SourceRun], Outcome]", getattr(module, f"sync_{name}"))(run)

    sync.__qualname__ = f"sync_{name}"
    return sync


def _user_set(section: str) -> str:
    return f"set [{section}] user in greenhouse.toml"


def _github_missing(site: Site, secrets: Secrets) -> str | None:
    return None if site.config.github.user else _user_set("github")


def _gitlab_missing(site: Site, secrets: Secrets) -> str | None:
    return None if site.config.gitlab.user else _user_set("gitlab")


def _forgejo_missing(site: Site, secrets: Secrets) -> str | None:
    return None if site.config.forgejo.user else _user_set("forgejo")


def _listenbrainz_missing(site: Site, secrets: Secrets) -> str | None:
    return None if site.config.listenbrainz.user else _user_set("listenbrainz")


def _spotify_missing(site: Site, secrets: Secrets) -> str | None:
    s = secrets
    if s.spotify_client_id and s.spotify_client_secret and s.spotify_refresh_token:
        return None
    return (
        "set SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET and SPOTIFY_REFRESH_TOKEN "
        "(get the refresh token with `greenhouse auth spotify`)"
    )


def _lastfm_missing(site: Site, secrets: Secrets) -> str | None:
    if site.config.lastfm.user and secrets.lastfm_api_key:
        return None
    return "set [lastfm] user in greenhouse.toml and the LASTFM_API_KEY environment variable"


def _weather_missing(site: Site, secrets: Secrets) -> str | None:
    # A missing WEATHER_API_KEY is not checked here on purpose: the source then
    # fails with its own clear line instead of being silently skipped.
    w = site.config.weather
    if w.provider == "none":
        return 'set [weather] provider to "open-meteo" or "openweathermap"'
    if w.latitude is None or w.longitude is None:
        return "set [weather] latitude and longitude in greenhouse.toml"
    return None


def _visitors_missing(site: Site, secrets: Secrets) -> str | None:
    live = site.config.live
    if live.event_dir or live.export_url:
        return None
    return (
        "set [live] export_url (with the GREENHOUSE_LIVE_TOKEN environment variable) "
        "or [live] event_dir in greenhouse.toml"
    )


github = Source(
    name="github",
    sync=_lazy("github"),
    config=GithubConfig,
    secrets=("GITHUB_TOKEN",),
    missing=_github_missing,
    summary="public repositories of [github] user",
)
gitlab = Source(
    name="gitlab",
    sync=_lazy("gitlab"),
    config=GitlabConfig,
    secrets=("GITLAB_TOKEN",),
    missing=_gitlab_missing,
    summary="public projects of [gitlab] user (gitlab.com or self-hosted)",
)
forgejo = Source(
    name="forgejo",
    sync=_lazy("forgejo"),
    config=ForgejoConfig,
    secrets=("FORGEJO_TOKEN",),
    missing=_forgejo_missing,
    summary="public repositories of [forgejo] user (Codeberg, Forgejo, Gitea)",
)
spotify = Source(
    name="spotify",
    sync=_lazy("spotify"),
    config=SpotifyConfig,
    secrets=("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "SPOTIFY_REFRESH_TOKEN"),
    missing=_spotify_missing,
    summary="recently played tracks and top items",
)
lastfm = Source(
    name="lastfm",
    sync=_lazy("lastfm"),
    config=LastfmConfig,
    secrets=("LASTFM_API_KEY",),
    missing=_lastfm_missing,
    summary="scrobbles of [lastfm] user",
)
listenbrainz = Source(
    name="listenbrainz",
    sync=_lazy("listenbrainz"),
    config=ListenbrainzConfig,
    missing=_listenbrainz_missing,
    summary="public listens of [listenbrainz] user",
)
weather = Source(
    name="weather",
    sync=_lazy("weather"),
    config=WeatherConfig,
    secrets=("WEATHER_API_KEY",),
    missing=_weather_missing,
    summary="the real local weather (Open-Meteo or OpenWeatherMap)",
)
visitors = Source(
    name="visitors",
    sync=_lazy("visitors"),
    secrets=("GREENHOUSE_LIVE_TOKEN",),
    missing=_visitors_missing,
    summary="visit events recorded by the sidecar ([live])",
)
