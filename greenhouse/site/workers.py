"""Helper processes of a build: how many cores, and pools started safely.

The drawing processes (:mod:`greenhouse.site.og`) and the rendering process
(:mod:`greenhouse.site.press`) are started the same way: fresh interpreters
(``spawn``: the build's DuckDB threads stay in the build), deaf to Ctrl-C from
birth, and ending themselves when the build that started them dies.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

from greenhouse.collector import collect_rarely
from greenhouse.machine import cores

__all__ = ["Helpers", "cores", "deaf_children", "spawn_pool"]


def spawn_pool(size: int) -> ProcessPoolExecutor:
    """*size* helper processes, started fresh (``spawn``), each guarded against orphanhood."""
    return ProcessPoolExecutor(size, multiprocessing.get_context("spawn"), initializer=_helper)


def _helper() -> None:
    """A helper process's start: a build's collector thresholds, then the orphan guard."""
    collect_rarely()  # before the imports its first task brings (Jinja, Pillow, numpy)
    _orphan_guard()


class Helpers:
    """One build's pool of helper processes: let go early, waited for at the end.

    A helper process takes tens of milliseconds to end (its interpreter
    unwinding). :meth:`release` starts that once a build has all it needs from
    the helpers, so they end while the build publishes; :meth:`close` waits.
    """

    def __init__(self) -> None:
        self.pool: ProcessPoolExecutor | None = None
        self._ending: threading.Thread | None = None

    def start(self, size: int) -> ProcessPoolExecutor:
        """Start *size* processes (:func:`spawn_pool`)."""
        self.pool = spawn_pool(size)
        return self.pool

    def release(self) -> None:
        """Let the processes end, in the background; what they have not begun is dropped."""
        pool, self.pool = self.pool, None
        if pool is not None:
            self._ending = threading.Thread(
                target=pool.shutdown,
                kwargs={"wait": True, "cancel_futures": True},
                name="helpers-ending",
                daemon=True,
            )
            self._ending.start()

    def close(self) -> None:
        """Stop the processes and wait until they have ended."""
        self.release()
        ending, self._ending = self._ending, None
        if ending is not None:
            ending.join()


def _orphan_guard() -> None:
    """End this helper process when the build that started it dies (``kill -9``, a crash).

    (It also makes the helper end without unwinding its interpreter.)

    Its task queue never closes then: every process holds both of its ends.
    The parent's sentinel becomes ready when the parent is gone. Ctrl-C is
    ignored here too: a process started from a thread (``serve``'s rebuilds)
    could not be started deaf to it (see :func:`deaf_children`).
    """
    from multiprocessing.connection import wait

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # When its pool lets it go, what the helper returned is already sent (multiprocessing
    # flushes its queues before the interpreter exits). Unwinding the interpreter (Jinja,
    # numpy, Pillow) would then take 80 ms, which the build waits for: end at once instead.
    atexit.register(os._exit, 0)

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
