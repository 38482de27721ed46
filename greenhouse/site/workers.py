"""Helper processes of a build: how many cores, and pools started safely.

The drawing processes (:mod:`greenhouse.site.og`) and the rendering process
(:mod:`greenhouse.site.press`) are started the same way: fresh interpreters
(``spawn``: the build's DuckDB threads stay in the build), deaf to Ctrl-C from
birth, and ending themselves when the build that started them dies.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def spawn_pool(size: int) -> ProcessPoolExecutor:
    """*size* helper processes, started fresh (``spawn``), each guarded against orphanhood."""
    return ProcessPoolExecutor(
        size, multiprocessing.get_context("spawn"), initializer=_orphan_guard
    )


def _orphan_guard() -> None:
    """End this helper process when the build that started it dies (``kill -9``, a crash).

    Its task queue never closes then: every process holds both of its ends.
    The parent's sentinel becomes ready when the parent is gone. Ctrl-C is
    ignored here too: a process started from a thread (``serve``'s rebuilds)
    could not be started deaf to it (see :func:`deaf_children`).
    """
    from multiprocessing.connection import wait

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="orphan-guard", daemon=True).start()


@contextlib.contextmanager
def deaf_children() -> Iterator[None]:
    """Processes started inside ignore Ctrl-C from birth: the build handles it and stops them.

    A terminal sends Ctrl-C to every process of the group. A helper that took
    it would print a ``KeyboardInterrupt`` traceback; ignoring it from an
    initializer would leave the moment before (its imports) exposed. An
    ignored signal stays ignored through ``exec``, and Python keeps it so.
    Only the main thread may change a signal's handler: elsewhere (a build
    run from a thread) the children keep the default.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
