"""The listening socket, and what happens when the process is out of file descriptors.

The caps of :mod:`.connections` keep the sidecar's own sockets below the
open-files limit, but descriptors can still run out (something else in the
process, a lower limit than expected). Then ``accept()`` fails with EMFILE
and the connection stays queued in the kernel, so the listening socket stays
readable: a server that only logs and retries spins. CPython's asyncio makes
it worse (python/cpython#151615, fixed upstream in 2026): its accept loop
keeps going after the failure and schedules a retry per queued connection,
each reported with a traceback, which is how a one-minute attack once wrote
250,000 log lines.

:class:`GuardedListener` is the listening socket handed to the server, with
its own ``accept()``: when out of descriptors it frees a spare one, accepts
the oldest waiting connection, closes it at once (the client sees the
connection close and may retry), and goes on until the queue is empty; then
it tells asyncio there is nothing to accept (``BlockingIOError``). The
clients that could not be served are turned away instead of hanging, the
loop never spins, and one line per ten seconds says so.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Callable

#: errno values of an accept that failed for want of resources.
OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
#: At most this many queued connections are shed per call (the loop gets a turn between).
SHED_BATCH = 256
#: SO_LINGER on, zero seconds: closing sends a reset and leaves no TIME_WAIT behind.
RESET = struct.pack("ii", 1, 0)


class GuardedListener(socket.socket):
    """A listening TCP socket whose ``accept()`` sheds queued connections when out of descriptors.

    *on_shed* is called with the number of connections turned away and the
    error, once per batch.
    """

    on_shed: Callable[[int, OSError], None] | None = None
    _spare: int | None = None

    def keep_spare(self) -> None:
        """Hold one descriptor in reserve (``/dev/null``), for shedding when the rest run out."""
        if self._spare is None:
            try:
                self._spare = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                self._spare = None

    def accept(self) -> tuple[socket.socket, object]:
        try:
            return super().accept()
        except OSError as exc:
            if exc.errno not in OUT_OF_RESOURCES:
                raise
            shed = self._shed()
            if self.on_shed is not None:
                self.on_shed(shed, exc)
            # "Nothing to accept": asyncio returns and waits for the next readiness.
            raise BlockingIOError(
                errno.EAGAIN, "accept deferred: out of file descriptors"
            ) from None

    def _shed(self) -> int:
        shed = 0
        while shed < SHED_BATCH:
            if self._spare is not None:
                os.close(self._spare)
                self._spare = None
            try:
                conn, _address = super().accept()
            except OSError:  # the queue is empty (EAGAIN), or still no descriptor
                break
            finally:
                self.keep_spare()
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET)
            conn.close()
            shed += 1
        return shed

    def close(self) -> None:
        if self._spare is not None:
            os.close(self._spare)
            self._spare = None
        super().close()


def listen(host: str, port: int, backlog: int) -> GuardedListener:
    """A bound, listening, non-blocking :class:`GuardedListener` on the first address of *host*.

    Raises :class:`OSError` when the address cannot be used.
    """
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    if not infos:
        raise OSError(errno.EADDRNOTAVAIL, f"no address for {host!r}")
    family, kind, proto, _name, address = infos[0]
    sock = GuardedListener(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    sock.keep_spare()
    return sock
