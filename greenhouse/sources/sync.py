"""``greenhouse sync``: run the selected sources, record how fresh each one is.

Each source runs on its own; its data is committed as it arrives. A source
that fails or stops early (rate limit) leaves everything it stored and the
previous data in place, and ``sync_state`` records when it last succeeded.
A failure only fails the sync when the user asked for ``strict``, or when the
source has never succeeded (there is no older data to fall back on). Every
message is scrubbed of secrets before it is stored, reported or raised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from greenhouse.config import Secrets, Site
from greenhouse.errors import AuthError, GreenhouseError, SourceError
from greenhouse.sources.github import sync_github
from greenhouse.sources.http import HttpOptions, RateLimitStop, Scrubber
from greenhouse.sources.lastfm import sync_lastfm
from greenhouse.sources.progress import NullReporter, Reporter
from greenhouse.sources.run import Outcome, SourceRun
from greenhouse.sources.spotify import sync_spotify
from greenhouse.sources.visitors import sync_visitors, visitors_missing
from greenhouse.sources.weather import sync_weather
from greenhouse.store import Store

SOURCES: dict[str, Callable[[SourceRun], Outcome]] = {
    "github": sync_github,
    "spotify": sync_spotify,
    "lastfm": sync_lastfm,
    "weather": sync_weather,
}


@dataclass
class SourceReport:
    """How one source's sync went."""

    name: str
    status: str  # ok | partial | failed | skipped
    summary: str
    requests: int = 0
    not_modified: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class SyncReport:
    """Every source's report, in the order they ran."""

    sources: list[SourceReport] = field(default_factory=list)

    def __getitem__(self, name: str) -> SourceReport:
        for report in self.sources:
            if report.name == name:
                return report
        raise KeyError(name)

    @property
    def ok(self) -> bool:
        """True when no source failed or stopped early."""
        return all(r.status in ("ok", "skipped") for r in self.sources)


def _github_missing(site: Site, secrets: Secrets) -> str | None:
    return None if site.config.github.user else "set [github] user in greenhouse.toml"


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


Missing = Callable[[Site, Secrets], "str | None"]

_MISSING: dict[str, Missing] = {
    "github": _github_missing,
    "spotify": _spotify_missing,
    "lastfm": _lastfm_missing,
    "weather": _weather_missing,
}


def register_source(name: str, sync: Callable[[SourceRun], Outcome], missing: Missing) -> None:
    """Add a source (e.g. ``visitors``): *sync* does the work, *missing* says what to configure."""
    SOURCES[name] = sync
    _MISSING[name] = missing


def missing_configuration(site: Site, secrets: Secrets, name: str) -> str | None:
    """What to configure before *name* can sync, or None when it is ready."""
    check = _MISSING.get(name)
    if check is None:
        raise SourceError(name, f"unknown source; choose from {', '.join(SOURCES)}")
    return check(site, secrets)


def sync_sources(
    site: Site,
    store: Store,
    secrets: Secrets,
    sources: list[str] | None = None,
    *,
    strict: bool = False,
    reporter: Reporter | None = None,
    options: HttpOptions | None = None,
) -> SyncReport:
    """Sync *sources* (default: every configured one) into *store*.

    Naming an unconfigured source raises :class:`SourceError` saying what to
    configure; with *sources* None, unconfigured ones are reported ``skipped``.
    A failing source is reported (``failed``/``partial``) and the others still
    run; afterwards :class:`SourceError` (or :class:`AuthError`) is raised for
    the first failure when *strict* (or ``[build] strict``), or when that
    source has never succeeded before; its ``report`` attribute holds the
    :class:`SyncReport` of the whole run. *options* tunes the HTTP client
    (tests shorten timeouts and sleeps).
    """
    reporter = reporter or NullReporter()
    options = options or HttpOptions()
    strict = strict or site.config.build.strict
    scrub = Scrubber(secrets.values())
    names = _select(site, secrets, sources)
    report = SyncReport()
    fatal: list[GreenhouseError] = []
    for name in names:
        missing = missing_configuration(site, secrets, name)
        if missing is not None:
            report.sources.append(
                SourceReport(name, "skipped", f"{name}: not configured ({missing})")
            )
            reporter.finish(name, "skipped", f"{name}: not configured")
            continue
        had_data = _last_success(store, name) is not None
        run = SourceRun(name, store, site.config, secrets, options, reporter, scrub, root=site.root)
        source_report, error = _run_one(run)
        report.sources.append(source_report)
        reporter.finish(name, source_report.status, source_report.summary)
        if error is not None and (strict or (source_report.status == "failed" and not had_data)):
            fatal.append(error)
    if fatal:
        # The CLI can still print every source's line from the error's report.
        fatal[0].report = report  # type: ignore[attr-defined]
        raise fatal[0]
    return report


def _select(site: Site, secrets: Secrets, sources: list[str] | None) -> list[str]:
    if sources is None:
        return list(SOURCES)  # the unconfigured ones are reported as skipped
    names = list(dict.fromkeys(sources))
    for name in names:
        missing = missing_configuration(site, secrets, name)
        if missing is not None:
            raise SourceError(name, missing)
    return names


def _run_one(run: SourceRun) -> tuple[SourceReport, GreenhouseError | None]:
    """Run one source, record its state; return its report and the error to raise if fatal."""
    name = run.name
    started = run.now()
    error: GreenhouseError | None = None
    kind: type[SourceError] = SourceError
    try:
        outcome = SOURCES[name](run)
    except RateLimitStop as stop:
        outcome = Outcome("partial", f"{name}: stopped early", f"{stop}; kept what was fetched")
    except AuthError as exc:
        kind = AuthError
        outcome = Outcome("failed", f"{name}: failed", _message(exc))
    except GreenhouseError as exc:
        outcome = Outcome("failed", f"{name}: failed", _message(exc))
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        outcome = Outcome(
            "failed", f"{name}: failed", f"unexpected answer ({type(exc).__name__}: {exc})"
        )
    except BaseException:
        _record(run, started, Outcome("failed", "", "interrupted; the next sync resumes"))
        run.close()
        raise
    run.close()
    message = run.scrub(outcome.message) if outcome.message else None
    summary = run.scrub(outcome.summary)
    if message and outcome.status != "ok":
        summary = f"{summary} — {message}"
    _record(run, started, Outcome(outcome.status, summary, message))
    if outcome.status != "ok":
        error = kind(name, message or outcome.status)
    report = SourceReport(
        name, outcome.status, summary, run.requests, run.not_modified, message, list(run.warnings)
    )
    return report, error


def _message(exc: GreenhouseError) -> str:
    text = str(exc)
    source = getattr(exc, "source", None)
    if source and text.startswith(f"{source}: "):
        text = text[len(source) + 2 :]
    return text


def _record(run: SourceRun, started: datetime, outcome: Outcome) -> None:
    success = run.now() if outcome.status == "ok" else None
    with run.store.transaction() as conn:
        conn.execute(
            """
            INSERT INTO sync_state (source, last_attempt, last_success, status, message)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (source) DO UPDATE SET last_attempt = excluded.last_attempt,
                last_success = coalesce(excluded.last_success, sync_state.last_success),
                status = excluded.status, message = excluded.message
            """,
            [run.name, started, success, outcome.status, outcome.message],
        )


def _last_success(store: Store, name: str) -> datetime | None:
    row = store.conn.execute(
        "SELECT last_success FROM sync_state WHERE source = ?", [name]
    ).fetchone()
    return row[0] if row else None


def freshness(store: Store, now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Per source: ``last_success`` and ``last_attempt`` (ISO, UTC), ``status``,
    ``message`` and ``age_seconds`` since the last success (None if never).

    Pass *now* for reproducible output (e.g. from ``SOURCE_DATE_EPOCH``).
    """
    moment = now or datetime.now(UTC)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    rows = store.conn.execute(
        "SELECT source, last_attempt, last_success, status, message FROM sync_state ORDER BY source"
    ).fetchall()
    result: dict[str, dict[str, Any]] = {}
    for source, attempt, success, status, message in rows:
        result[source] = {
            "last_success": _iso(success),
            "last_attempt": _iso(attempt),
            "status": status,
            "message": message,
            "age_seconds": max((moment - success).total_seconds(), 0.0) if success else None,
        }
    return result


def _iso(moment: datetime | None) -> str | None:
    return moment.replace(microsecond=0).isoformat() + "Z" if moment else None


register_source("visitors", sync_visitors, visitors_missing)
