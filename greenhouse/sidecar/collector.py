"""Python's cyclic garbage collector, paused while a reconnect storm lasts.

Every connection the sidecar holds is many Python objects that live
as long as the visit. While thousands of visitors reconnect at once (after a
restart or a deploy), the heap grows by a quarter again and again, and each
time CPython's collector scans all of it: measured with ``gc.callbacks``
while ``tests/bench/bench_sidecar.py`` ran, 9 full collections, 1.3-2.6 s of
the CPU a 10,000-connection storm took (4-7 s on a shared machine). Those
objects are reclaimed by reference counting when their visit ends; the cyclic
collector only finds the rare reference cycle, which can wait a few seconds.

:class:`CollectorPause` turns automatic collection off when a storm begins
and back on once it is over, and never for longer than *longest* seconds in
a row, followed by at least as long with it on: a storm that never ends
(a busy site, or an attack) costs at most the cycles made in *longest*
seconds before they are collected. It only ever re-enables what it disabled:
a host that turned collection off itself keeps it off.

When a storm is over the pause ends with one full collection, on purpose.
Left to itself, CPython would move the storm's objects up its three
generations one collection at a time over the next minute, each a stall of
the loop: measured with ``gc.callbacks`` after a 10,000-connection storm in
``bench_sidecar.py`` (2026-12-01), 202, 302 and 435 ms, landing in the
middle of live presence (they were the outliers of the export phase's p99).
One collection as the storm ends (610 ms after such a storm) costs less
than the three together and comes at a known moment; it leaves the storm's
objects in the oldest generation, which CPython scans again only once it
has grown by a quarter.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

#: How often a paused collector asks whether the storm is over.
CHECK = 0.25


class CollectorPause:
    """Automatic garbage collection off while *storm()* says visitors are pouring in."""

    def __init__(
        self,
        storm: Callable[[], bool],
        longest: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.storm = storm
        self.longest = longest
        self.clock = clock
        #: When the current pause began (None: not paused by us).
        self.paused_since: float | None = None
        #: Pauses so far (for tests).
        self.pauses = 0
        #: Full collections made as a storm ended (for tests).
        self.collections = 0
        self._resumed_at = float("-inf")
        self._check: asyncio.TimerHandle | None = None

    def poke(self) -> None:
        """A connection arrived: pause collection if this is a storm (call on the loop)."""
        if self.paused_since is not None or self.longest <= 0 or not gc.isenabled():
            return
        now = self.clock()
        if now - self._resumed_at < self.longest or not self.storm():
            return
        gc.disable()
        self.paused_since = now
        self.pauses += 1
        self._check = asyncio.get_running_loop().call_later(CHECK, self._recheck)

    def _recheck(self) -> None:
        self._check = None
        since = self.paused_since
        if since is None:
            return
        storm = self.storm()
        if storm and self.clock() - since < self.longest:
            self._check = asyncio.get_running_loop().call_later(CHECK, self._recheck)
            return
        self.resume()
        if not storm:
            gc.collect()  # now, once, rather than in three stalls later (see above)
            self.collections += 1

    def resume(self) -> None:
        """Turn automatic collection back on, if this pause turned it off."""
        if self._check is not None:
            self._check.cancel()
            self._check = None
        if self.paused_since is None:
            return
        self.paused_since = None
        self._resumed_at = self.clock()
        gc.enable()
