"""``greenhouse sync``: run the selected sources, record how fresh each one is.

The sources run side by side, each in its own thread with its own polite
clients (so a slow upstream never holds up the others); their data is
committed as it arrives. A source that fails or stops early (rate limit, time
budget) leaves everything it stored and the previous data in place, and
``sync_state`` records when it last succeeded. A failure only fails the sync
when the user asked for ``strict``, or when the source has never succeeded
(there is no older data to fall back on). Every message is scrubbed of
secrets before it is stored, reported or raised.

Ctrl-C: the main thread only waits, so the interrupt lands there; it tells
every client to stop before its next request, closes their connections,
waits for each source to finish the transaction it is in (each rolls back or
commits whole), records them as interrupted and raises ``KeyboardInterrupt``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx

from greenhouse.config import Secrets, Site
from greenhouse.errors import AuthError, GreenhouseError, SourceError
from greenhouse.sources.github import sync_github
from greenhouse.sources.http import HttpOptions, Scrubber, StopSource
from greenhouse.sources.lastfm import sync_lastfm
from greenhouse.sources.progress import NullReporter, Reporter
from greenhouse.sources.run import Outcome, SourceRun
from greenhouse.sources.spotify import sync_spotify
from greenhouse.sources.visitors import sync_visitors, visitors_missing
from greenhouse.sources.weather import sync_weather
from greenhouse.store import Store
from greenhouse.store.freshness import freshness as store_freshness

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
    # This run's own Ctrl-C switch, whatever other runs share the options.
    options = replace(options or HttpOptions(), cancel=threading.Event())
    strict = strict or site.config.build.strict
    scrub = Scrubber(secrets.values())
    names = _select(site, secrets, sources)
    reports: dict[str, SourceReport] = {}
    runs: list[SourceRun] = []
    had_data: dict[str, bool] = {}
    for name in names:
        missing = missing_configuration(site, secrets, name)
        if missing is not None:
            reports[name] = SourceReport(name, "skipped", f"{name}: not configured ({missing})")
            reporter.finish(name, "skipped", f"{name}: not configured")
            continue
        had_data[name] = _last_success(store, name) is not None
        runs.append(
            SourceRun(name, store, site.config, secrets, options, reporter, scrub, root=site.root)
        )
    errors = _run_all(runs, reporter, reports)
    report = SyncReport([reports[name] for name in names])
    fatal: list[GreenhouseError] = []
    for name in names:
        error = errors.get(name)
        if error is not None and (
            strict or (reports[name].status == "failed" and not had_data[name])
        ):
            fatal.append(error)
    if fatal:
        # The CLI can still print every source's line from the error's report.
        fatal[0].report = report  # type: ignore[attr-defined]
        raise fatal[0]
    return report


def _run_all(
    runs: list[SourceRun], reporter: Reporter, reports: dict[str, SourceReport]
) -> dict[str, GreenhouseError]:
    """Run every source in its own thread; on Ctrl-C stop them all cleanly, then re-raise."""
    errors: dict[str, GreenhouseError] = {}
    if not runs:
        return errors
    pool = ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="sync")
    futures: dict[Future[tuple[SourceReport, GreenhouseError | None]], SourceRun] = {
        pool.submit(_in_thread, run): run for run in runs
    }
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                source_report, error = future.result()
                reports[source_report.name] = source_report
                reporter.finish(source_report.name, source_report.status, source_report.summary)
                if error is not None:
                    errors[source_report.name] = error
    except BaseException:
        _stop(runs, futures)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return errors


def _stop(runs: list[SourceRun], futures: dict[Future[Any], SourceRun]) -> None:
    """Ctrl-C: every client stops before its next request; wait for the sources to unwind."""
    for run in runs:
        run.options.cancel.set()
        for client in list(run.clients):
            client.close()  # a request in flight fails at once instead of timing out
    for future in futures:
        future.cancel()
    wait(list(futures), timeout=30)


def _in_thread(run: SourceRun) -> tuple[SourceReport, GreenhouseError | None]:
    try:
        return _run_one(run)
    finally:
        run.store.release_thread()


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
    except StopSource as stop:
        outcome = Outcome(
            "partial", f"{name}: stopped early", f"{_message(stop)}; kept what was fetched"
        )
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
        run.close()
        _record(run, started, Outcome("failed", "", "interrupted; the next sync resumes"))
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


def _message(exc: Exception) -> str:
    text = str(exc)
    source = getattr(exc, "source", None)
    if source and text.startswith(f"{source}: "):
        text = text[len(source) + 2 :]
    return text


def _record(run: SourceRun, started: datetime, outcome: Outcome) -> None:
    success = run.now() if outcome.status == "ok" else None
    run.save_limits()
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
    ``message``, ``age_seconds`` since the last success (None if never) and
    ``stale`` (the one rule of :mod:`greenhouse.store.freshness`).

    Pass *now* for reproducible output (e.g. from ``SOURCE_DATE_EPOCH``).
    """
    moment = now or datetime.now(UTC)
    return {name: row.as_dict() for name, row in store_freshness(store, moment).items()}


register_source("visitors", sync_visitors, visitors_missing)
