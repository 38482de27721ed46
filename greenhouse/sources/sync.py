"""``greenhouse sync``: run the selected sources, record how fresh each one is.

The sources are the installed ones (:mod:`greenhouse.sources.registry`: the
``greenhouse.sources`` entry points, greenhouse's own and plugins alike). They
run side by side, each in its own thread with its own polite clients (so a
slow upstream never holds up the others); their data is committed as it
arrives. A source that fails or stops early (rate limit, time budget) leaves
everything it stored and the previous data in place, and ``sync_state``
records when it last succeeded. A failure only fails the sync when the user
asked for ``strict``, or when the source has never succeeded (there is no
older data to fall back on). Whatever a source raises fails that source
alone. Every message is scrubbed of secrets before it is stored, reported or
raised.

Ctrl-C: the main thread only waits, so the interrupt lands there; it tells
every client to stop before its next request, closes their connections,
waits for each source to finish the transaction it is in (each rolls back or
commits whole), records them as interrupted and raises ``KeyboardInterrupt``.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from traceback import format_exception
from typing import Any

import httpx

from greenhouse.config import Secrets, Site
from greenhouse.errors import AuthError, GreenhouseError, SourceError
from greenhouse.sources.http import HttpOptions, Scrubber, StopSource
from greenhouse.sources.plugin import Sync
from greenhouse.sources.progress import NullReporter, Reporter
from greenhouse.sources.registry import Registry, registry
from greenhouse.sources.run import Outcome, SourceRun
from greenhouse.store import Store
from greenhouse.store.freshness import freshness as store_freshness

logger = logging.getLogger(__name__)


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


def missing_configuration(
    site: Site, secrets: Secrets, name: str, sources: Registry | None = None
) -> str | None:
    """What to configure before *name* can sync, or None when it is ready.

    A source plugin that cannot be loaded counts as configured when its
    ``[name]`` section sets any key (it then fails, saying why).
    """
    installed = sources or registry()
    source = installed.sources.get(name)
    if source is not None:
        return source.needs(site, secrets)
    if name in installed.broken:
        return None if site.config.sets_unloaded(name) else f"set the [{name}] section"
    raise SourceError(
        name, f"unknown source; the installed sources are {', '.join(installed.names)}"
    )


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
    installed = registry()
    names = _select(site, secrets, sources, installed)
    reports: dict[str, SourceReport] = {}
    runs: list[tuple[SourceRun, Sync, str]] = []
    had_data: dict[str, bool] = {}
    for name in names:
        missing = missing_configuration(site, secrets, name, installed)
        if missing is not None:
            if name in installed.broken:
                missing += f"; besides, {installed.broken[name]}"
            reports[name] = SourceReport(name, "skipped", f"{name}: not configured ({missing})")
            reporter.finish(name, "skipped", f"{name}: not configured")
            continue
        had_data[name] = _last_success(store, name) is not None
        run = SourceRun(
            name,
            store,
            site.config,
            secrets,
            options,
            reporter,
            scrub,
            root=site.root,
            section=site.config.source_section(name),
        )
        source = installed.sources.get(name)
        sync = source.sync if source is not None else _cannot_load(installed.broken[name])
        runs.append((run, sync, _blame(installed, name)))
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
    runs: list[tuple[SourceRun, Sync, str]], reporter: Reporter, reports: dict[str, SourceReport]
) -> dict[str, GreenhouseError]:
    """Run every source in its own thread; on Ctrl-C stop them all cleanly, then re-raise."""
    errors: dict[str, GreenhouseError] = {}
    if not runs:
        return errors
    pool = ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="sync")
    futures: dict[Future[tuple[SourceReport, GreenhouseError | None]], SourceRun] = {
        pool.submit(_in_thread, run, sync, blame): run for run, sync, blame in runs
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
        _stop([run for run, _, _ in runs], futures)
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


def _in_thread(
    run: SourceRun, sync: Sync, blame: str
) -> tuple[SourceReport, GreenhouseError | None]:
    try:
        return _run_one(run, sync, blame)
    finally:
        run.store.release_thread()


def _select(
    site: Site, secrets: Secrets, sources: list[str] | None, installed: Registry
) -> list[str]:
    if sources is None:
        return installed.names  # the unconfigured ones are reported as skipped
    names = list(dict.fromkeys(sources))
    for name in names:
        missing = missing_configuration(site, secrets, name, installed)
        if missing is not None:
            raise SourceError(name, missing)
    return names


class PluginLoadError(SourceError):
    """A source plugin named in the entry points cannot be imported or is not a Source."""


def _cannot_load(problem: str) -> Sync:
    def sync(run: SourceRun) -> Outcome:
        raise PluginLoadError(run.name, problem)

    return sync


def _blame(installed: Registry, name: str) -> str:
    """Who to tell about a bug in *name*: greenhouse itself, or the plugin's authors."""
    if installed.builtin(name):
        return "a bug in greenhouse; please report it"
    return f"a bug in the source plugin from {installed.origins.get(name, 'an unknown package')}"


def _run_one(run: SourceRun, sync: Sync, blame: str) -> tuple[SourceReport, GreenhouseError | None]:
    """Run one source, record its state; return its report and the error to raise if fatal.

    Whatever a source raises (short of Ctrl-C) fails that source alone, with
    its name and the error's first line; never a traceback.
    """
    name = run.name
    started = run.now()
    error: GreenhouseError | None = None
    kind: type[SourceError] = SourceError
    try:
        outcome = sync(run)
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
    except Exception as exc:  # a plugin may raise anything; it fails alone
        # The traceback is for whoever debugs the plugin (logging at DEBUG), scrubbed like the rest.
        logger.debug("source %s raised:\n%s", name, run.scrub("".join(format_exception(exc))))
        outcome = Outcome(
            "failed", f"{name}: failed", f"{type(exc).__name__}: {_first_line(exc)} ({blame})"
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


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
