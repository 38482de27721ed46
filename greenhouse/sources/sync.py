"""``greenhouse sync``: run the selected sources, record how fresh each one is.

The sources are the installed ones (:mod:`greenhouse.sources.registry`: the
``greenhouse.sources`` entry points, greenhouse's own and plugins alike).
Each source runs on its own; its data is committed as it arrives. A source
that fails or stops early (rate limit) leaves everything it stored and the
previous data in place, and ``sync_state`` records when it last succeeded.
A failure only fails the sync when the user asked for ``strict``, or when the
source has never succeeded (there is no older data to fall back on). Every
message is scrubbed of secrets before it is stored, reported or raised.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from traceback import format_exception
from typing import Any

import httpx

from greenhouse.config import Secrets, Site
from greenhouse.errors import AuthError, GreenhouseError, SourceError
from greenhouse.sources.http import HttpOptions, RateLimitStop, Scrubber
from greenhouse.sources.plugin import Sync
from greenhouse.sources.progress import NullReporter, Reporter
from greenhouse.sources.registry import Registry, registry
from greenhouse.sources.run import Outcome, SourceRun
from greenhouse.store import Store

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
    options = options or HttpOptions()
    strict = strict or site.config.build.strict
    scrub = Scrubber(secrets.values())
    installed = registry()
    names = _select(site, secrets, sources, installed)
    report = SyncReport()
    fatal: list[GreenhouseError] = []
    for name in names:
        missing = missing_configuration(site, secrets, name, installed)
        if missing is not None:
            if name in installed.broken:
                missing += f"; besides, {installed.broken[name]}"
            report.sources.append(
                SourceReport(name, "skipped", f"{name}: not configured ({missing})")
            )
            reporter.finish(name, "skipped", f"{name}: not configured")
            continue
        had_data = _last_success(store, name) is not None
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
        source_report, error = _run_one(run, sync, _blame(installed, name))
        report.sources.append(source_report)
        reporter.finish(name, source_report.status, source_report.summary)
        if error is not None and (strict or (source_report.status == "failed" and not had_data)):
            fatal.append(error)
    if fatal:
        # The CLI can still print every source's line from the error's report.
        fatal[0].report = report  # type: ignore[attr-defined]
        raise fatal[0]
    return report


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
    except Exception as exc:  # a plugin may raise anything; it fails alone
        # The traceback is for whoever debugs the plugin (logging at DEBUG), scrubbed like the rest.
        logger.debug("source %s raised:\n%s", name, run.scrub("".join(format_exception(exc))))
        outcome = Outcome(
            "failed", f"{name}: failed", f"{type(exc).__name__}: {_first_line(exc)} ({blame})"
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


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
