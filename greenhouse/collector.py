"""Python's cyclic garbage collector, set for a build: it makes few reference cycles.

CPython looks for cycles among the youngest objects every 700 net allocations
of container objects; every tenth of those passes also scans the middle
generation, and every tenth of those the whole heap. A build allocates
millions of short-lived objects over a heap that only grows (modules, the
garden, its documents), and reference counting frees almost all of them: the
passes find next to nothing. Measured with ``gc.callbacks``: importing the
command line's libraries (pydantic, DuckDB, numpy, Jinja) set off 128 passes
(55 ms), and a forced rebuild of 1,000 plants 171 more in its own process
(0.09-0.10 s), then the interpreter's exit took 80-130 ms, most of it in its
passes (25-37 ms with them skipped).

So the command line collects rarely (:data:`THRESHOLDS`: the youngest
generation every 50,000 allocations), and so do a build's helper processes
and :func:`~greenhouse.build.build` itself while it runs, whoever calls it
(:func:`rarely_collecting`); the command line freezes what is still alive as
it exits (:func:`spare_the_exit`). The sidecar keeps CPython's settings: it
runs for days and pauses its collector in a reconnect storm instead
(:mod:`greenhouse.sidecar.collector`).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

#: The collector's thresholds while a build runs (CPython's defaults: 700, 10, 10).
THRESHOLDS = (50_000, 20, 100)


def collect_rarely() -> None:
    """Set :data:`THRESHOLDS` for the rest of this process (a command, a helper process)."""
    gc.set_threshold(*THRESHOLDS)


@contextlib.contextmanager
def rarely_collecting() -> Iterator[None]:
    """:data:`THRESHOLDS` while the block runs, the thresholds before it afterwards."""
    before = gc.get_threshold()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def spare_the_exit() -> None:
    """Let the interpreter's last collections skip every object still alive.

    At exit CPython collects the whole heap, and again as it clears the
    modules, looking for cycles among objects the process is about to drop
    anyway: after a 1,000-plant build the exit took 80-130 ms, and 25-37 ms
    with what is alive frozen.
    Frozen objects are not scanned; what is left when the process ends goes
    back to the system with it.
    """
    gc.freeze()
