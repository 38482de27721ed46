"""``greenhouse build``: sync, simulate, render and publish — one library call.

The steps follow the pipeline: load config and content; open the store;
(demo data, sync); simulate the garden; render into a staging folder; swap
it in atomically. Nothing is done twice when nothing changed:

* an offline build whose inputs and store are untouched since the last one
  returns from the stamp beside the bundle (:mod:`greenhouse.fingerprint`),
  before DuckDB, numpy or the renderer are even imported;
* otherwise a fingerprint of every input, the store's data version included,
  is checked in the store after demo data and sync;
* a long-running process (``greenhouse serve``) hands in a
  :class:`~greenhouse.build_cache.BuildCache`: the garden is grown again only
  when its inputs changed (not for a template edit), and outputs whose
  declared inputs are unchanged are linked from the published bundle rather
  than rendered (:mod:`greenhouse.site.bundle`).

Any DuckDB failure reaches the user as one :class:`~greenhouse.errors.StoreError`
line; what was stored and what was published stay as they were.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from greenhouse.collector import rarely_collecting
from greenhouse.errors import BuildError, ConfigError, Problem

if TYPE_CHECKING:  # the no-change path imports none of these
    from greenhouse.build_cache import BuildCache
    from greenhouse.config import Site
    from greenhouse.content import Content
    from greenhouse.site.og import Darkroom
    from greenhouse.site.press import Press
    from greenhouse.store import Store
    from greenhouse.store.images import ImagesAhead

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
    written: int = 0  # files written; the others were linked from the published bundle
    rendered: int = 0  # outputs rendered; the others had the published copy's inputs
    grown: bool = False  # whether the garden was simulated (False: reused from the cache)
    images_drawn: int = 0  # link-preview PNGs drawn (not taken from the store's image cache)
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
    from greenhouse.locations import resolve
    from greenhouse.site.output import real

    config = site.config.build
    return real(resolve(site.root, config.output, output)), resolve(site.root, config.db, db)


def output_problems(
    site: Site, out: Path, store: Path, flag: bool, *, placement_only: bool = False
) -> list[Problem]:
    """Why *out* may not receive the bundle: where it is, or what it already holds.

    *flag* says the folder came from ``--output`` (else from ``[build] output``,
    and the problem points at its line in greenhouse.toml).
    """
    from greenhouse.config import locate_key
    from greenhouse.locations import CONFIG_FILE
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


@rarely_collecting()  # a build makes few reference cycles: greenhouse/collector.py
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
    cache: BuildCache | None = None,
    on_publish: Callable[[], None] | None = None,
) -> BuildResult:
    """Build the site under *root* and publish it atomically.

    *base_url* overrides ``[site] base_url`` (CI passes the Pages URL here).
    *cache* is kept by a long-running caller between builds
    (:class:`~greenhouse.build_cache.BuildCache`);
    *on_publish* is called the moment the new bundle is in place, before the
    old one is removed and the store is closed.
    """
    from greenhouse.fingerprint import day_start, file_identity, inputs_digest, read_stamp, record
    from greenhouse.site.publish import build_lock, clean_leftovers

    started = time.perf_counter()
    if offline and not force:
        unchanged = up_to_date_result(root, output=output, db=db, base_url=base_url)
        if unchanged is not None:
            return unchanged
    fixed_now = source_date()
    today = (fixed_now or _utcnow()).date()
    from greenhouse.config import load_site

    say = progress or (lambda _: None)
    site = load_site(root)
    if base_url is not None:
        site = with_base_url(site, base_url)
    out, db_path = paths(site, output, db)
    problems = output_problems(site, out, db_path, flag=bool(output))
    if problems:
        raise ConfigError(problems)
    demo_day = today if site.config.demo.enabled else None
    from greenhouse.content import load_content
    from greenhouse.store import Store, store_errors

    # Digested before anything is read: a file saved during the build leaves a
    # digest that no longer matches it, so the next build does not skip.
    files = inputs_digest(site.root, out, db_path, base_url, demo_day)
    content = load_content(site.root)  # bad content is refused before anything is made
    with build_lock(out), _darkroom(site, content, db_path) as darkroom:
        stamp = read_stamp(out)
        # A bundle touched since the stamp was written (a file deleted by hand) is rebuilt.
        touched = stamp is not None and file_identity(out) != stamp.bundle
        clean_leftovers(out)
        with (
            store_errors(db_path),
            Store.open(db_path) as store,
            _press(site, out, cache) as press,  # it reads the load before the thread below runs
            _images_ahead(site, store, cache) as ahead,
        ):
            _warm_for_an_empty_cache(darkroom, site, content, store)
            if force:  # it renders whatever the data: the processes start at once
                _warm(press, site, content, store)
            if demo_day is not None:
                from greenhouse.sources.demo import seed_demo

                say("demo data")
                seed_demo(store, content.projects, site.config.demo, demo_day)
            if not offline:
                say("sync")
                _sync(
                    site,
                    store,
                    strict if strict is not None else site.config.build.strict,
                    sync_reporter,
                )
            from greenhouse.attachments import stored_repo_warnings

            warnings = tuple(str(w) for w in stored_repo_warnings(content.projects, store))
            data_time = store.data_time()
            now = fixed_now or data_time or day_start(today)
            inputs = f"{files}:{now.isoformat()}"
            fingerprint = f"{inputs}:{store.data_version()}"
            if not force and not touched and _unchanged(store, out, fingerprint):
                result = BuildResult(output=out, skipped=True)
            else:
                _warm(press, site, content, store)
                result = _render(
                    site,
                    content,
                    store,
                    now,
                    out,
                    say,
                    cache,
                    on_publish,
                    private=(db_path,),
                    darkroom=darkroom,
                    press=press,
                    ahead=ahead,
                )
                store.conn.execute(
                    "INSERT OR REPLACE INTO builds VALUES (?, ?)", [str(out), fingerprint]
                )
        record(
            out,
            db_path,
            inputs,
            now,
            now_from_data=fixed_now is None and data_time is not None,
            warnings=warnings,
        )
    return replace(result, seconds=time.perf_counter() - started, warnings=warnings)


def up_to_date_result(
    root: Path | str = ".",
    *,
    output: Path | str | None = None,
    db: Path | str | None = None,
    base_url: str | None = None,
) -> BuildResult | None:
    """The skipped result of an offline build the stamp shows has nothing to do, else None.

    Imports neither the config schema nor DuckDB: the command line asks this
    before it even loads itself (:mod:`greenhouse.launch`). None sends the
    build down the full path, which reports any problem.
    """
    from greenhouse.fingerprint import up_to_date

    started = time.perf_counter()
    fixed_now = source_date()
    today = (fixed_now or _utcnow()).date()
    skipped = up_to_date(Path(root).resolve(), output, db, base_url, fixed_now, today)
    if skipped is None:
        return None
    out, warnings = skipped
    return BuildResult(
        output=out, skipped=True, seconds=time.perf_counter() - started, warnings=warnings
    )


def _darkroom(site: Site, content: Content, db_path: Path) -> Darkroom:
    """The build's drawing processes, started at once when every preview will be drawn.

    A build without a data store yet is a first build: the processes start
    now and import and draw their shared layers while the store is created
    and the garden seeded and simulated. Otherwise they start only if the
    store's image cache is empty (:func:`_warm_for_an_empty_cache`) or the
    render finds pictures missing.
    """
    from greenhouse.site.og import Darkroom

    darkroom = Darkroom()
    if site.config.sharing.preview_images and not db_path.exists():
        darkroom.warm(_pictures(site, content))
    return darkroom


def _warm_for_an_empty_cache(
    darkroom: Darkroom, site: Site, content: Content, store: Store
) -> None:
    """Start the drawing processes now if the store has no cached image (previews just turned on)."""
    if _draws_every_preview(site, store):
        darkroom.warm(_pictures(site, content))


def _pictures(site: Site, content: Content) -> int:
    """How many pictures a build with an empty image cache draws: the plants, garden and icons."""
    from greenhouse.site.og import ICON_SIZES

    demo = site.config.demo
    plants = len(content.projects) + (demo.projects if demo.enabled else 0)
    return plants + 1 + len(ICON_SIZES)


def _draws_every_preview(site: Site, store: Store) -> bool:
    """Whether this build draws every link preview (none cached: a first build)."""
    from greenhouse.store.images import image_count

    return site.config.sharing.preview_images and image_count(store) == 0


def _images_ahead(
    site: Site, store: Store, cache: BuildCache | None
) -> contextlib.AbstractContextManager[ImagesAhead | None]:
    """The image cache read on a thread from now, if the build will look its pictures up there.

    Not when previews are off, nor when a long-running process keeps the
    pictures of its last build (``serve``: an edit reads only what is new).
    """
    from greenhouse.store.images import ImagesAhead

    if not site.config.sharing.preview_images or (cache is not None and cache.images):
        return contextlib.nullcontext()
    return ImagesAhead(store)


def _press(site: Site, out: Path, cache: BuildCache | None) -> Press:
    """The build's rendering processes for the plants' pages (none for ``serve``).

    ``serve``'s rebuilds render only what an edit changed: they stay in one process.
    """
    from greenhouse.site.press import Press

    return Press(
        site.root / "site_templates",
        _compiled_templates(out),
        workers=None if cache is None else 0,
    )


def _warm(press: Press, site: Site, content: Content, store: Store) -> None:
    """Start the rendering processes now if this build will hand them a large garden.

    Called before the garden is grown, so that they have imported Jinja and
    loaded the compiled templates by the time it is. Not while drawing
    processes take the other cores (a first build draws every preview).
    """
    if _draws_every_preview(site, store):
        return
    demo = site.config.demo
    expected = len(content.projects) + (demo.projects if demo.enabled else 0)
    stored = store.one("SELECT count(*) FROM repos")
    press.warm(max(expected, int(stored[0]) if stored else 0))


def _compiled_templates(out: Path) -> Path:
    """Where compiled templates are kept between builds (beside the bundle, never in it)."""
    return out.parent / f".{out.name}.templates"


def with_base_url(site: Site, base_url: str) -> Site:
    """The site with ``[site] base_url`` replaced, validated like the config file's value."""
    from greenhouse.config import Site, validate_config

    raw = site.config.model_dump()
    raw["site"]["base_url"] = base_url
    config = validate_config(raw, "--base-url")
    # Sections of source plugins that cannot be loaded were never part of the model.
    config._unloaded, config._unloaded_set = site.config._unloaded, site.config._unloaded_set
    return Site(root=site.root, config=config)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


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
    from greenhouse.config import Secrets, load_site
    from greenhouse.sources.sync import sync_sources
    from greenhouse.store import Store, store_errors

    site = load_site(root)
    _, db_path = paths(site, None, db)
    with store_errors(db_path), Store.open(db_path) as store:
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
    from greenhouse.config import load_site
    from greenhouse.errors import StoreBusyError, StoreOutdatedError
    from greenhouse.store import SCHEMA_VERSION, Store, store_errors

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
    with store_errors(db_path), store:
        assert store.schema_version() == SCHEMA_VERSION
        return stats_report(store, now, days, out / "api/v1/garden/index.json")


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
    cache: BuildCache | None,
    on_publish: Callable[[], None] | None,
    private: tuple[Path, ...] = (),
    darkroom: Darkroom | None = None,
    press: Press | None = None,
    ahead: ImagesAhead | None = None,
) -> BuildResult:
    from greenhouse.build_cache import ImageLookup, grow_garden, template_environment
    from greenhouse.site.bundle import Bundle, Published
    from greenhouse.site.publish import staging, swap_in
    from greenhouse.site.render import Renderer
    from greenhouse.store import queries
    from greenhouse.store.images import keep_images
    from greenhouse.store.snapshots import StoredSnapshots, save_snapshots

    garden, grown = grow_garden(site, content, store, now, say, cache)
    demo = queries.is_demo(store)
    dashboard = None
    if site.config.analytics.publish:
        from greenhouse.analytics import dashboard as build_dashboard

        analytics = site.config.analytics
        dashboard = build_dashboard(store, now.date(), DASHBOARD_DAYS, analytics.min_count)
    renderer = Renderer(
        site.config,
        site.root / "site_templates",
        now,
        demo,
        queries.freshness(store, now),
        dashboard=dashboard,
        progress=say,
        snapshots=(stored := StoredSnapshots(store)),
        env=template_environment(site, cache, _compiled_templates(out)),
        private=private,
        images=(images := ImageLookup(store, cache, ahead)),
        darkroom=darkroom,
        press=press,
    )
    if cache is not None and (cache.published is None or cache.published.output != out):
        cache.published = Published(out)
    published = cache.published if cache is not None else None
    with staging(out) as folder:
        previous = published.current_keys() if published else None
        bundle = Bundle(folder, out, previous, keep_keys=published is not None)
        try:
            renderer.render(garden, bundle)
            bundle.finish()
        except OSError as exc:
            raise BuildError(
                f"{exc.filename or folder}: cannot write the bundle: {exc.strerror}"
            ) from None
        say("publish")
        swap_in(folder, out, on_publish)
    if published is not None:
        published.remember(bundle.keys)
    save_snapshots(store, stored, renderer.snapshots_written, renderer.snapshot_days)
    drawn = renderer.drawn
    keep_images(store, drawn.new if drawn else {}, drawn.used if drawn else set())
    images.keep(drawn.new if drawn else {}, drawn.used if drawn else set())
    stages: dict[str, int] = {}
    for plant in garden.plants:
        stages[plant.stage] = stages.get(plant.stage, 0) + 1
    return BuildResult(
        output=out,
        skipped=False,
        plants=len(garden.plants),
        files=bundle.files,
        bytes=bundle.bytes,
        demo=demo,
        stages=stages,
        written=bundle.files - bundle.linked,
        rendered=bundle.files - bundle.reused,
        grown=grown,
        images_drawn=len(drawn.new) if drawn else 0,
    )


def check_warnings(site: Site, content: Content) -> list[Problem]:
    """What ``check`` warns about without failing: content repositories renamed or gone
    (as the last sync found them in the store)."""
    from greenhouse.attachments import warnings_from_file

    _, db_path = paths(site, None, None)
    return warnings_from_file(content.projects, db_path)


def check(root: Path | str = ".") -> tuple[Site, Content]:
    """Validate config and content without building; raises with every problem at once."""
    from greenhouse.config import load_site
    from greenhouse.content import load_content
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
