"""Rendering the plants' pages in another process while the build renders the rest.

Most of a large garden's rendering is its plants' own outputs: each plant's
page (``project.html``) and JSON document, a thousand of each at 1,000
plants. A one-off build of such a garden hands them, in chunks, to a
rendering process on another core once the garden is grown; meanwhile the
build renders every other document and page, then takes back from the end of
the queue the chunks no process has begun, and writes what the process
returned. The process renders with the same code
(:meth:`~greenhouse.site.render.Renderer.plant_page` and
:meth:`~greenhouse.site.render.Renderer.plant_document`), the same template
environment and the same context, so the bytes are those of an in-process
render.

The processes are started like the drawing processes of
:mod:`greenhouse.site.og` (and with its helpers): fresh (``spawn``: the
build's DuckDB threads stay in the build), deaf to Ctrl-C (the build handles
it and stops them), ended by their parent's death. A build that is expected
to render enough plants starts its process before it opens the store, so the
process has imported Jinja and loaded the compiled templates by the time the
garden is grown. A process that dies leaves its chunks to the build (with a
warning); a chunk that fails in the process is rendered again in the build,
which raises the error an in-process render raises.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import pickle
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenhouse.site.workers import Helpers, cores, deaf_children

if TYPE_CHECKING:
    import jinja2

    from greenhouse.config import Config
    from greenhouse.garden.garden import History, PlantState
    from greenhouse.site.bundle import Bundle
    from greenhouse.site.render import Renderer
    from greenhouse.site.sharing import Share

log = logging.getLogger(__name__)

#: Fewer plants than this are rendered in the build: a process's start costs more.
MIN_PLANTS = 200
#: Plants worth one more rendering process (up to one per core but the build's own).
PER_PROCESS = 500
#: Plants per task: small, so that the build and the processes share the tail fairly.
CHUNK = 25

#: One plant to render: its state, its public document, and that document encoded (as the
#: build encoded it for the garden's documents: the process need not encode it again).
Job = tuple["PlantState", dict[str, Any], bytes]
#: One output, encoded; or the inode and size of the published copy, which holds these bytes.
Output = bytes | tuple[int, int]
#: What is rendered for a plant: its page and its JSON document.
Printed = tuple[Output, Output]


def print_plants(
    renderer: Renderer,
    weather: dict[str, object],
    history: History,
    jobs: Sequence[Job],
    published: str | None = None,
) -> list[Printed]:
    """The page and document of each plant of *jobs*; row ``i`` of *history* is plant ``i``'s.

    With *published* (the published bundle's folder) an output equal to the
    published copy is given as that copy's inode and size: the build links
    it, and the bytes need not cross back.
    """
    from greenhouse.site.bundle import published_inode
    from greenhouse.site.render import plant_document_path, plant_page_path

    def output(relative: str, data: bytes) -> Output:
        inode = published_inode(published, relative, data) if published else None
        return data if inode is None else (inode, len(data))

    printed = []
    for row, (state, plant, encoded) in enumerate(jobs):
        track = history.track(row)
        page = renderer.plant_page(state, plant, weather, track).encode("utf-8")
        document = renderer.plant_document(state, plant, track, encoded)
        printed.append(
            (output(plant_page_path(state), page), output(plant_document_path(state), document))
        )
    return printed


@dataclass(frozen=True)
class Setup:
    """What every plant page of a build shares: a rendering process makes its renderer of it."""

    config: Config
    site_templates: Path
    compiled: Path | None
    generated_at: datetime
    demo: bool
    share: Share | None
    weather: dict[str, object]
    published: str | None  # the published bundle, to compare outputs with

    def renderer(self) -> Renderer:
        """A renderer whose plant pages and documents are the build's, byte for byte."""
        from greenhouse.site.render import Renderer

        env = _environment(self.site_templates, self.compiled)
        renderer = Renderer(
            self.config, self.site_templates, self.generated_at, self.demo, {}, env=env
        )
        renderer.share = self.share
        return renderer


class Press:
    """The rendering processes of one build (a context manager; :meth:`close` stops them).

    *site_templates* and *compiled* are the folders the build's template
    environment uses (:func:`~greenhouse.site.render.template_environment`).
    *workers* defaults to the cores other work leaves idle (:func:`spare_cores`).
    """

    def __init__(self, site_templates: Path, compiled: Path | None, workers: int | None = None):
        self.site_templates = site_templates
        self.compiled = compiled
        self.workers = spare_cores(cores()) if workers is None else workers
        self._helpers = Helpers()

    def __enter__(self) -> Press:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def warm(self, expected: int) -> None:
        """Start the rendering processes now: about *expected* plants will be rendered."""
        if self._helpers.pool is None and self.workers >= 1 and expected >= MIN_PLANTS:
            self._start(expected)

    def _start(self, plants: int) -> ProcessPoolExecutor | None:
        """Start the processes (None: this system cannot, and the build renders every page)."""
        size = max(1, min(self.workers, -(-plants // PER_PROCESS)))
        try:
            with deaf_children():
                pool = self._helpers.start(size)
                for _ in range(size):  # each finds no idle process yet: *size* of them start
                    pool.submit(warm_up, self.site_templates, self.compiled)
        except (OSError, ImportError, NotImplementedError) as exc:  # no semaphores, no fork/exec
            log.debug("no rendering process: %s", exc)
            self.close()
            self.workers = 0
        return self._helpers.pool

    def begin(
        self,
        renderer: Renderer,
        weather: dict[str, object],
        history: History,
        plants: Sequence[PlantState],
        bundle: Bundle,
        job: Callable[[PlantState], Job],
    ) -> Printing | None:
        """Hand *plants* to the rendering processes (None: too few to be worth it).

        *job* makes each plant's job, a chunk at a time as the chunks are
        handed over: the processes begin on the first while the build makes
        the rest. *renderer* is the build's: its share and settings go to the
        processes, and it renders whatever they do not. The processes
        compare their outputs with *bundle*'s published copies.
        """
        if self.workers < 1 or len(plants) < MIN_PLANTS:
            return None
        pool = self._helpers.pool or self._start(len(plants))
        if pool is None:
            return None
        setup = Setup(
            renderer.config,
            self.site_templates,
            self.compiled,
            renderer.generated_at,
            renderer.demo,
            renderer.share,
            weather,
            bundle.linkable,
        )
        printing = Printing(renderer, weather)
        printing.submit(pool, pickle.dumps(setup), history, plants, job)
        return printing

    def release(self) -> None:
        """Let the rendering processes end while the build goes on (every page is in)."""
        self._helpers.release()

    def close(self) -> None:
        """Stop the rendering processes and wait for them; chunks not begun are dropped."""
        self._helpers.close()


def spare_cores(cores: int) -> int:
    """How many rendering processes *cores* can take: one per core but the build's own, if idle.

    The load counts the build itself (about one). On a machine kept busy by
    other work, a second process would only take turns with the build on the
    same cores and add its start-up: as ``make -l`` does, none is started once
    the load reaches the core count.
    """
    return max(0, min(cores - 1, math.ceil(cores - _load())))


def _load() -> float:
    """How busy the machine is: the lower of the last minute's load average and the tasks running now.

    The load average lags by about a minute: after a build (or a benchmark's
    builds) ended, an idle machine still read 1.9-2.2 on two cores, and a
    forced 1,000-plant rebuild then rendered alone, 1.7 times as long. So
    where the system tells the tasks running this instant (``/proc/loadavg``,
    which GNU make 4.3 reads for ``-l`` for the same reason), the lower of the
    two counts: a machine busy now is busy by both. 0 where the system tells
    neither.
    """
    try:
        average = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows; a system that cannot tell
        return 0.0
    now = _running_now()
    return average if now is None else min(average, float(now))


def _running_now() -> int | None:
    """Tasks running or ready to run this instant, this one included (None: not on Linux)."""
    try:
        with open("/proc/loadavg", encoding="ascii") as handle:
            fields = handle.read().split()
        return int(fields[3].split("/")[0])  # "running/total"
    except (OSError, IndexError, ValueError):
        return None


class Printing:
    """The plants of one build being rendered in other processes.

    :meth:`finish` writes every plant's outputs, rendering here what the
    processes did not; :meth:`close` drops what is not begun.
    """

    def __init__(self, renderer: Renderer, weather: dict[str, object]) -> None:
        self.renderer = renderer
        self.weather = weather
        # A chunk's future is None when the pool would take no more (a process had died).
        self._tasks: list[tuple[list[Job], History, Future[list[Printed]] | None]] = []
        self.handed = 0  # plants handed to the processes
        self.stolen = 0  # of those, rendered by the build after all (no process had begun them)

    def submit(
        self,
        pool: ProcessPoolExecutor,
        setup: bytes,
        history: History,
        plants: Sequence[PlantState],
        job: Callable[[PlantState], Job],
    ) -> None:
        """Hand *plants* to *pool*'s processes, :data:`CHUNK` plants a task, each made by *job*."""
        for start in range(0, len(plants), CHUNK):
            states = plants[start : start + CHUNK]
            chunk = [job(state) for state in states]
            part = history.rows([state.row for state in states])
            future: Future[list[Printed]] | None = None
            with contextlib.suppress(BrokenProcessPool):  # rendered here, with a warning
                future = pool.submit(_print_remote, setup, part, chunk)
                self.handed += len(chunk)
            self._tasks.append((chunk, part, future))

    def finish(self, bundle: Bundle) -> None:
        """Write every plant's page and document into *bundle*.

        Called once the build's other pages are rendered: the build then
        takes from the end of the queue the chunks no process has begun,
        until it meets one that has, and waits for the rest.
        """
        stolen = set()
        for n in reversed(range(len(self._tasks))):
            chunk, part, future = self._tasks[n]
            if future is None or not future.cancel():
                break
            self._write(chunk, part, self._here(chunk, part), bundle)
            self.stolen += len(chunk)
            stolen.add(n)
        warned = False
        for n, (chunk, part, future) in enumerate(self._tasks):
            if n in stolen:
                continue
            try:
                if future is None:
                    raise BrokenProcessPool
                printed = future.result()
            except BrokenProcessPool:  # a process could not start, or was killed
                if not warned:
                    log.warning("a rendering process stopped; rendering its pages in the build")
                    warned = True
                printed = self._here(chunk, part)
            except Exception:  # a template failed: the build's own render raises it, located
                printed = self._here(chunk, part)
            self._write(chunk, part, printed, bundle)

    def _here(self, chunk: list[Job], part: History) -> list[Printed]:
        return print_plants(self.renderer, self.weather, part, chunk)

    def _write(
        self, chunk: list[Job], part: History, printed: list[Printed], bundle: Bundle
    ) -> None:
        from greenhouse.site.render import plant_document_path, plant_page_path

        for row, ((state, *_), outputs) in enumerate(zip(chunk, printed, strict=True)):
            paths = (plant_page_path(state), plant_document_path(state))
            for n, (relative, output) in enumerate(zip(paths, outputs, strict=True)):
                if isinstance(output, bytes):
                    bundle.write(relative, output)
                elif not bundle.write_published(relative, *output):  # cannot link: write
                    again = print_plants(
                        self.renderer, self.weather, part.rows([row]), chunk[row : row + 1]
                    )
                    data = again[0][n]
                    assert isinstance(data, bytes)
                    bundle.write(relative, data)

    def close(self) -> None:
        """Drop the chunks no process has begun (the build failed or was interrupted)."""
        for _, _, future in self._tasks:
            if future is not None:
                future.cancel()


# -- in a rendering process ------------------------------------------------------

_environments: dict[tuple[Path, Path | None], jinja2.Environment] = {}
_renderers: dict[bytes, tuple[Renderer, Setup]] = {}


def _environment(site_templates: Path, compiled: Path | None) -> jinja2.Environment:
    """The template environment of these folders, made once per process."""
    key = (site_templates, compiled)
    env = _environments.get(key)
    if env is None:
        from greenhouse.site.render import template_environment

        env = _environments[key] = template_environment(site_templates, compiled)
    return env


def warm_up(site_templates: Path, compiled: Path | None) -> None:
    """A rendering process's first task: import the renderer and load the plant page's template.

    A template that fails to load is left for the build to report.
    """
    with contextlib.suppress(Exception):
        _environment(site_templates, compiled).get_template("project.html")


def _print_remote(setup: bytes, history: History, jobs: list[Job]) -> list[Printed]:
    """One task: the plants of *jobs*, with the renderer of *setup* (made once per build)."""
    made = _renderers.get(setup)
    if made is None:
        _renderers.clear()  # a process serves one build
        loaded: Setup = pickle.loads(setup)
        made = _renderers[setup] = (loaded.renderer(), loaded)
    renderer, settings = made
    return print_plants(renderer, settings.weather, history, jobs, settings.published)
