"""``greenhouse build``: sync, simulate, render and publish — one library call.

The steps follow the pipeline: load config and content; open the store;
(demo data, sync); simulate the garden; render into a staging folder; swap
it in atomically. A fingerprint of every input (config, content, templates,
the store's data version, the garden's day) is kept in the store, so a build
with nothing changed returns at once and rewrites nothing.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from greenhouse import __version__
from greenhouse.attachments import stored_repo_warnings
from greenhouse.config import CONFIG_FILE, Site, load_site
from greenhouse.content import Content, load_content
from greenhouse.errors import BuildError, ConfigError, Problem
from greenhouse.store import Store

Progress = Callable[[str], None]
#: Days covered by the published analytics dashboard.
DASHBOARD_DAYS = 30


@dataclass(frozen=True)
class BuildResult:
    """What a build did."""

    output: Path
    skipped: bool
    plants: int = 0
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    demo: bool = False
    stages: dict[str, int] | None = None
    #: Located warnings worth showing (e.g. a content file's repository was renamed).
    warnings: tuple[str, ...] = ()


def source_date(env: dict[str, str] | None = None) -> datetime | None:
    """``SOURCE_DATE_EPOCH`` as a naive UTC datetime, if set."""
    value = (os.environ if env is None else env).get("SOURCE_DATE_EPOCH")
    if not value:
        return None
    try:
        return datetime.fromtimestamp(int(value), tz=UTC).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError):
        raise ConfigError(
            Problem("SOURCE_DATE_EPOCH", f"must be a Unix timestamp (got {value!r})")
        ) from None


def paths(site: Site, output: Path | str | None, db: Path | str | None) -> tuple[Path, Path]:
    """The bundle folder (symlinks resolved: the swap happens where it really is) and the DuckDB file."""
    from greenhouse.site.output import real

    out = real(Path(output) if output else site.path(site.config.build.output))
    store = Path(db).resolve() if db else site.path(site.config.build.db)
    return out, store


def output_problems(
    site: Site, out: Path, store: Path, flag: bool, *, placement_only: bool = False
) -> list[Problem]:
    """Why *out* may not receive the bundle: where it is, or what it already holds.

    *flag* says the folder came from ``--output`` (else from ``[build] output``,
    and the problem points at its line in greenhouse.toml).
    """
    from greenhouse.config import locate_key
    from greenhouse.site.output import ownership_problem, placement_problem

    placement = placement_problem(out, site.root, store)
    reasons = [
        f"{placement}; a build replaces its output folder whole, so the bundle needs a folder "
        "of its own (the default is build/site)"
        if placement
        else None
    ]
    if placement is None and not placement_only:
        reasons.append(ownership_problem(out))
    if flag:
        return [Problem("--output", f"{out} {r}") for r in reasons if r]
    config = site.root / CONFIG_FILE
    try:
        text = config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    line = locate_key(text, ("build", "output"))
    shown = site.config.build.output
    return [
        Problem(config, f"output {shown!r}: {out} {r}", line, "build.output") for r in reasons if r
    ]


def build(
    root: Path | str = ".",
    *,
    offline: bool = False,
    output: Path | str | None = None,
    db: Path | str | None = None,
    strict: bool | None = None,
    force: bool = False,
    progress: Progress | None = None,
    sync_reporter: object | None = None,
    base_url: str | None = None,
) -> BuildResult:
    """Build the site under *root* and publish it atomically.

    *base_url* overrides ``[site] base_url`` (CI passes the Pages URL here).
    """
    from greenhouse.site.publish import build_lock, clean_leftovers

    started = time.perf_counter()
    say = progress or (lambda _: None)
    site = load_site(root)
    if base_url is not None:
        site = with_base_url(site, base_url)
    content = load_content(site.root)
    out, db_path = paths(site, output, db)
    problems = output_problems(site, out, db_path, flag=bool(output))
    if problems:
        raise ConfigError(problems)
    fixed_now = source_date()
    with build_lock(out):
        clean_leftovers(out)
        with Store.open(db_path) as store:
            if site.config.demo.enabled:
                from greenhouse.sources.demo import seed_demo

                say("demo data")
                seed_demo(
                    store, content.projects, site.config.demo, (fixed_now or _utcnow()).date()
                )
            if not offline:
                say("sync")
                _sync(
                    site,
                    store,
                    strict if strict is not None else site.config.build.strict,
                    sync_reporter,
                )
            now = fixed_now or _garden_time(store)
            warnings = tuple(str(w) for w in stored_repo_warnings(content.projects, store))
            fingerprint = _fingerprint(site, content, store, now, out)
            if not force and _unchanged(store, out, fingerprint):
                return BuildResult(
                    output=out,
                    skipped=True,
                    seconds=time.perf_counter() - started,
                    warnings=warnings,
                )
            result = _render(site, content, store, now, out, say, private=(db_path,))
            store.conn.execute(
                "INSERT OR REPLACE INTO builds VALUES (?, ?)", [str(out), fingerprint]
            )
    return BuildResult(
        output=out,
        skipped=False,
        plants=result[0],
        files=result[1],
        bytes=result[2],
        seconds=time.perf_counter() - started,
        demo=result[3],
        stages=result[4],
        warnings=warnings,
    )


def with_base_url(site: Site, base_url: str) -> Site:
    """The site with ``[site] base_url`` replaced, validated like the config file's value."""
    from greenhouse.config import validate_config

    raw = site.config.model_dump()
    raw["site"]["base_url"] = base_url
    config = validate_config(raw, "--base-url")
    # Sections of source plugins that cannot be loaded were never part of the model.
    config._unloaded, config._unloaded_set = site.config._unloaded, site.config._unloaded_set
    return Site(root=site.root, config=config)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _garden_time(store: Store) -> datetime:
    """The moment the garden shows: the latest sync, else the start of today (UTC)."""
    latest = store.data_time()
    if latest is not None:
        return latest
    return datetime.combine(_utcnow().date(), datetime.min.time())


def _sync(site: Site, store: Store, strict: bool, reporter: object | None) -> None:
    from greenhouse.config import Secrets
    from greenhouse.sources.sync import sync_sources

    sync_sources(site, store, Secrets.from_env(), None, strict=strict, reporter=reporter)  # type: ignore[arg-type]


def sync(
    root: Path | str = ".",
    sources: list[str] | None = None,
    *,
    db: Path | str | None = None,
    strict: bool | None = None,
    reporter: object | None = None,
) -> object:
    """``greenhouse sync``: pull the selected sources into the store; returns the SyncReport."""
    from greenhouse.config import Secrets
    from greenhouse.sources.sync import sync_sources

    site = load_site(root)
    _, db_path = paths(site, None, db)
    with Store.open(db_path) as store:
        return sync_sources(
            site,
            store,
            Secrets.from_env(),
            sources or None,
            strict=site.config.build.strict if strict is None else strict,
            reporter=reporter,  # type: ignore[arg-type]
        )


def stats(
    root: Path | str = ".",
    *,
    days: int = 30,
    db: Path | str | None = None,
    wait: float = 0,
    on_wait: Callable[[Path], None] | None = None,
) -> dict[str, object]:
    """``greenhouse stats``: the owner's visitor and garden report, as plain data.

    The store is opened read-only when it is already at this version's schema; an older file
    is migrated first. DuckDB lets no other process read a file while a build or a sync writes
    it, so while one runs this waits up to *wait* seconds (calling *on_wait* once first).
    """
    from greenhouse.analytics import stats_report
    from greenhouse.errors import StoreBusyError, StoreOutdatedError
    from greenhouse.store import SCHEMA_VERSION

    site = load_site(root)
    out, db_path = paths(site, None, db)
    now = source_date() or _utcnow()
    try:
        store = Store.open(db_path, read_only=True)
    except StoreBusyError:
        if wait <= 0:
            raise
        if on_wait is not None:
            on_wait(db_path)
        store = Store.open(db_path, read_only=True, wait=wait)
    except StoreOutdatedError:
        store = Store.open(db_path, wait=wait)
    with store:
        assert store.schema_version() == SCHEMA_VERSION
        return stats_report(store, now, days, out / "api/v1/garden/index.json")


def _fingerprint(site: Site, content: Content, store: Store, now: datetime, out: Path) -> str:
    from greenhouse.site import THEME

    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{__version__}|{now.isoformat()}|{store.data_version()}|{out}".encode())
    config_file = site.root / CONFIG_FILE
    digest.update(config_file.read_bytes() if config_file.exists() else b"")
    digest.update(site.config.site.base_url.encode())  # --base-url overrides the file
    for project in content.projects:
        digest.update(f"{project.path.name}:{project.source_hash}".encode())
    skills = site.root / "content" / "skills.toml"
    digest.update(skills.read_bytes() if skills.exists() else b"")
    package = Path(__file__).parent
    for path in sorted(package.rglob("*.py")):  # a new greenhouse (even unreleased) rebuilds
        stat = path.stat()
        digest.update(f"{path.relative_to(package)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    for folder in (site.root / "site_templates", THEME):
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    digest.update(str(path.relative_to(folder)).encode())
                    digest.update(path.read_bytes())
    return digest.hexdigest()


def _unchanged(store: Store, out: Path, fingerprint: str) -> bool:
    row = store.one("SELECT fingerprint FROM builds WHERE output = ?", [str(out)])
    return bool(row and row[0] == fingerprint and (out / "index.html").is_file())


def _render(
    site: Site,
    content: Content,
    store: Store,
    now: datetime,
    out: Path,
    say: Progress,
    private: tuple[Path, ...] = (),
) -> tuple[int, int, int, bool, dict[str, int]]:
    from greenhouse.garden.garden import grow
    from greenhouse.garden.plants import merge_plants
    from greenhouse.site.publish import staging, swap_in
    from greenhouse.site.render import Bundle, Renderer
    from greenhouse.store import queries

    today = now.date()
    say("simulate")
    specs = merge_plants(
        queries.load_repos(store),
        content.projects,
        site.config.github,
        today,
        sections=site.config.source_section,
    )
    start = queries.activity_span(store, specs, today)
    activity = queries.load_activity(store, specs, start, today)
    plays = queries.load_plays(store, now - timedelta(days=7))
    observation = queries.latest_observation(store, now)
    garden = grow(
        specs,
        activity,
        today,
        site.config,
        [s.model_dump() for s in content.skills],
        plays,
        observation,
    )
    demo = queries.is_demo(store)
    dashboard = None
    if site.config.analytics.publish:
        from greenhouse.analytics import dashboard as build_dashboard

        analytics = site.config.analytics
        dashboard = build_dashboard(store, today, DASHBOARD_DAYS, analytics.min_count)
    renderer = Renderer(
        site.config,
        site.root / "site_templates",
        now,
        demo,
        queries.freshness(store, now),
        dashboard=dashboard,
        progress=say,
        snapshots=(stored := _stored_snapshots(store)),
        private=private,
    )
    with staging(out) as folder:
        bundle = Bundle(folder)
        try:
            renderer.render(garden, bundle)
        except OSError as exc:
            raise BuildError(
                f"{exc.filename or folder}: cannot write the bundle: {exc.strerror}"
            ) from None
        say("publish")
        swap_in(folder, out)
    _store_snapshots(store, stored, renderer.snapshots_written)
    stages: dict[str, int] = {}
    for plant in garden.plants:
        stages[plant.stage] = stages.get(plant.stage, 0) + 1
    return len(garden.plants), bundle.files, bundle.bytes, demo, stages


def _stored_snapshots(store: Store) -> dict[str, tuple[str, bytes]]:
    rows = store.conn.execute("SELECT taken_on, fingerprint, body FROM snapshots").fetchall()
    return {day.isoformat(): (fingerprint, body.encode("utf-8")) for day, fingerprint, body in rows}


def _store_snapshots(
    store: Store, before: dict[str, tuple[str, bytes]], written: dict[str, tuple[str, bytes]]
) -> None:
    """Keep this build's snapshots for the next one: only those that changed are written.

    A cache, not data: it does not bump the data version (which would make
    the next build think something changed).
    """
    gone = [day for day in before if day not in written]
    changed = [
        (day, fp, body.decode("utf-8"))
        for day, (fp, body) in sorted(written.items())
        if before.get(day, ("",))[0] != fp
    ]
    if not gone and not changed:
        return
    conn = store.conn
    conn.execute("BEGIN TRANSACTION")
    try:
        if gone:
            conn.executemany("DELETE FROM snapshots WHERE taken_on = ?", [(d,) for d in gone])
        if changed:
            conn.executemany("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?)", changed)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def check_warnings(site: Site, content: Content) -> list[Problem]:
    """What ``check`` warns about without failing: content repositories renamed or gone
    (as the last sync found them in the store)."""
    from greenhouse.attachments import warnings_from_file

    _, db_path = paths(site, None, None)
    return warnings_from_file(content.projects, db_path)


def check(root: Path | str = ".") -> tuple[Site, Content]:
    """Validate config and content without building; raises with every problem at once."""
    from greenhouse.errors import ContentError

    problems: list[Problem] = []
    site: Site | None = None
    try:
        site = load_site(root)
    except ConfigError as exc:
        problems.extend(exc.problems)
    else:
        # A section whose source plugin cannot be loaded could not be checked.
        problems.extend(site.config.unloaded_sections())
    if site is not None:
        out, store = paths(site, None, None)
        problems.extend(output_problems(site, out, store, flag=False))
    content: Content | None = None
    try:
        content = load_content(Path(root).resolve())
    except ContentError as exc:
        problems.extend(exc.problems)
    problems.extend(_check_templates(Path(root).resolve() / "site_templates"))
    if problems:
        raise ContentError(problems)
    assert site is not None and content is not None
    return site, content


def _check_templates(folder: Path) -> list[Problem]:
    """Syntax, undefined names and missing includes in the site's own templates."""
    from greenhouse.site.template_lint import lint_templates

    return lint_templates(folder)


def today_utc() -> date:
    """Today's date in UTC, or SOURCE_DATE_EPOCH's day (for commands that need a default day)."""
    return (source_date() or _utcnow()).date()
