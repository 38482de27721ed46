"""Fan-out: one frame to every open connection, paced by what it costs.

A broadcast serializes its frame once and writes the same bytes to every
connection (server frames are unmasked and uncompressed, so they are the same
for everyone), where ``websockets.broadcast()`` builds a frame per
connection; it starts at a random connection, so that nobody always hears
last. :func:`write_frame` is the one place that reaches under
websockets' documented API to do that.

Presence is coalesced by :class:`PresencePacer`: a frame goes out at once when
the last one was cheap, and later when it was not, so that presence never
takes more than a fixed share of the event loop; while handshakes are in
progress (a reconnect storm after a restart or a deploy) that share drops, so
new visitors are let in before the ones already in hear about them. Each new
visitor gets the current presence in its welcome frame anyway.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from websockets.frames import Frame, Opcode
from websockets.protocol import State

from greenhouse.sidecar import protocol

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

    from greenhouse.sidecar.metrics import Metrics
    from greenhouse.sidecar.presence import Snapshot


def encode_text_frame(text: str) -> bytes:
    """*text* as one complete, unmasked websocket text frame (what a server sends)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def write_frame(ws: ServerConnection, frame: bytes, limit: int) -> bool:
    """Write an already serialized *frame* to *ws*; False (nothing written) when the
    connection's unsent data is over *limit* bytes.

    This is the only use of websockets internals in the sidecar: the asyncio
    transport under a connection (``ws.transport``, set in
    ``connection_made``, not part of websockets' documented API). Writing a
    whole frame there is safe because every write of websockets itself also
    happens on the event loop, a whole frame at a time, so frames never
    interleave. ``tests/sidecar/test_fanout.py`` fails if websockets changes
    what this relies on.
    """
    transport = ws.transport
    if transport.get_write_buffer_size() > limit:
        return False
    transport.write(frame)
    return True


class Fanout:
    """Sends one frame to every open connection, and knows what the next one will cost."""

    def __init__(
        self,
        connections: Callable[[], Collection[ServerConnection]],
        metrics: Metrics,
        slow_reader_bytes: int,
    ):
        self.connections = connections
        self.metrics = metrics
        self.slow_reader_bytes = slow_reader_bytes
        #: Seconds one connection's write took in the last fan-out of any size.
        self.per_connection = 0.0

    def expected_cost(self) -> float:
        """Seconds a fan-out to the connections open now should take.

        From the last fan-out's cost per connection, times the connections now:
        during a reconnect storm the next frame goes to many more than the last.
        """
        return self.per_connection * len(self.connections())

    def send(self, text: str) -> float:
        """Send *text* to every open connection; returns the seconds it took.

        A reader whose unsent data is over the slow-reader limit misses the
        frame rather than making the server hold memory for it (counted as
        ``dropped_frames``); one that stops reading is closed by the keepalive.
        """
        started = time.perf_counter()
        frame = encode_text_frame(text)
        limit = self.slow_reader_bytes
        sent = dropped = 0
        for ws in _from_anywhere(self.connections()):
            if ws.state is not State.OPEN:
                continue
            if write_frame(ws, frame, limit):
                sent += 1
            else:
                dropped += 1
        cost = time.perf_counter() - started
        if sent >= 10:  # too few writes say little about the next ten thousand
            self.per_connection = cost / sent
        self.metrics.messages_out += sent
        self.metrics.dropped_frames += dropped
        self.metrics.broadcast_seconds.observe(cost)
        return cost


def _from_anywhere(connections: Collection[ServerConnection]) -> Iterator[ServerConnection]:
    """Every connection once, starting at a random one and wrapping around.

    The writes of one fan-out reach the clients one after another: in the order
    the connections opened, whoever connected last (after a reconnect storm,
    the newest visitors) would hear every frame last. From a random start each
    client waits, on average, half a fan-out.
    """
    if not connections:
        return iter(())
    start = random.randrange(len(connections))
    return itertools.chain(
        itertools.islice(connections, start, None), itertools.islice(connections, start)
    )


@dataclass(frozen=True)
class PresencePacer:
    """How long to wait before a broadcast that will take *cost* seconds (no clock inside).

    A pause *g* followed by a broadcast of cost *c* takes ``c / (g + c)`` of
    the loop; holding that to *share* gives ``g = c (1/share - 1)``. With the
    default 90 %, a broadcast that took 10 ms (1,000 connections) waits 1 ms:
    presence is as good as immediate; one that took 200 ms (10,000
    connections) waits 22 ms, in which the loop reads what the clients sent
    meanwhile. During a storm (handshakes waiting) the share is *storm_share*
    (2 %): the same 200 ms broadcast then waits 9.8 s, and the handshakes get
    the loop. Since the cost grows with the connections as fast as the
    pauses do, a client then gets about ``storm_share / (send time per
    connection x connections opened per second)`` frames during the whole
    storm, whatever its size: a few. Never less than *floor*
    (``[live] presence_interval``) between two frames.
    """

    floor: float
    share: float = 0.9
    storm_share: float = 0.02

    def gap(self, cost: float, storm: bool) -> float:
        """Seconds from the end of the last broadcast to one that will cost *cost* seconds."""
        share = self.storm_share if storm else self.share
        return max(self.floor, cost * (1.0 / share - 1.0))


#: A wait for the next presence frame is re-decided at least this often: a
#: storm's long pause must end with the storm, not with the pause.
RECHECK = 0.25


class PresenceFeed:
    """Sends presence frames when presence changed, as the :class:`PresencePacer` allows.

    Changes are coalesced: however many joins, moves and leaves happen in
    between, clients get one frame with the latest counts, and only when the
    counts differ from the last frame's. *delayed* is told, for each frame,
    how long its oldest change waited for it.
    """

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        fanout: Fanout,
        pacer: PresencePacer,
        storm: Callable[[], bool],
        delayed: Callable[[float], None] = lambda seconds: None,
    ):
        self.snapshot = snapshot
        self.fanout = fanout
        self.pacer = pacer
        self.storm = storm
        self.delayed = delayed
        self._loop = asyncio.get_running_loop()
        self._dirty = False
        self._dirty_since = 0.0
        self._handle: asyncio.Handle | None = None
        self._last: Snapshot | None = None
        self._last_end = float("-inf")
        self.closed = False

    def changed(self) -> None:
        """Presence may have changed: send a frame as soon as the pacer allows."""
        if not self._dirty:
            self._dirty = True
            self._dirty_since = self._loop.time()
        if self._handle is None and not self.closed:
            self._handle = self._loop.call_soon(self._tick)

    def _tick(self) -> None:
        self._handle = None
        if not self._dirty or self.closed:
            return
        # Decided now rather than when the last frame went, and again at least every
        # RECHECK while waiting: a storm may begin or end, and the frame waiting
        # goes to the connections open when it leaves, not to those of the last one.
        due = self._last_end + self.pacer.gap(self.fanout.expected_cost(), self.storm())
        now = self._loop.time()
        if now < due:
            self._handle = self._loop.call_at(min(due, now + RECHECK), self._tick)
            return
        self._dirty = False
        snapshot = self.snapshot()
        if snapshot == self._last:
            return
        self._last = snapshot
        self.delayed(now - self._dirty_since)
        self.fanout.send(protocol.presence_frame(snapshot.visitors, snapshot.projects))
        self._last_end = self._loop.time()

    def close(self) -> None:
        """Send nothing more."""
        self.closed = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
