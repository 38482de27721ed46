"""Flood control and connection caps, with time and limits passed in.

Everything here is I/O-free except :func:`raise_open_files_limit`, the one
system call that sets the process's file-descriptor limit at start.
"""

from __future__ import annotations

import contextlib
import ipaddress
import resource
from collections import Counter
from dataclasses import dataclass

#: File descriptors kept for what is not a client socket: the listening socket,
#: the event log and its folder, the garden watcher, Redis, the garden fetch,
#: stdio, the event loop's own.
FD_RESERVE = 32
#: Sockets kept free above the websocket cap, so ``/healthz``, ``/metrics`` and
#: the export still answer (and new handshakes can be refused politely) when
#: the websockets are at their cap.
HTTP_HEADROOM = 32


class TokenBucket:
    """A token bucket: *rate* tokens a second, at most *burst* saved up.

    Each message takes one token; a message with no token left is refused.
    """

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: float, now: float):
        self.rate = rate
        # float() of a float is that float: buckets given the same one share it.
        self.burst = float(burst)
        self.tokens = self.burst
        self.updated = now

    def take(self, now: float) -> bool:
        """Take one token at time *now* (seconds, monotonic); False when empty."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def host_of(address: str) -> str:
    """The host one address belongs to, for the per-host cap.

    An IPv4 address is its own host; an IPv6 address counts as its /64, the
    block one machine (or one home) usually gets, so a client cannot walk
    through its own prefix to escape the cap. An IPv4-mapped IPv6 address is
    the IPv4 address. Anything unparsable is its own host.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    text = str(ip)
    # The address itself when it is already in its usual form: one string kept
    # per connection, not two equal ones.
    return address if text == address else text


class HostCounter:
    """Open sockets per host, each host capped at *cap*."""

    def __init__(self, cap: int):
        self.cap = cap
        self._open: Counter[str] = Counter()

    def take(self, host: str) -> bool:
        """Count one more socket of *host*; False (and nothing counted) at the cap."""
        if self._open[host] >= self.cap:
            return False
        self._open[host] += 1
        return True

    def release(self, host: str) -> None:
        """One socket of *host* closed."""
        self._open[host] -= 1
        if self._open[host] <= 0:
            del self._open[host]

    def count(self, host: str) -> int:
        """Open sockets of *host*."""
        return self._open[host]

    def __len__(self) -> int:
        return len(self._open)


@dataclass(frozen=True)
class SocketBudget:
    """How many sockets the sidecar holds at most, from its open-files limit.

    ``sockets`` caps every accepted TCP connection (websockets, handshakes
    in progress, plain HTTP); beyond it a new connection is closed at once,
    before it costs anything more than its accept. ``websockets`` caps the
    upgraded connections, :data:`HTTP_HEADROOM` below ``sockets``, so the
    health check still gets through when the websockets are full.
    """

    open_files: int
    sockets: int
    websockets: int

    @classmethod
    def from_limit(cls, open_files: int, max_connections: int | None = None) -> SocketBudget:
        """The budget under a soft ``RLIMIT_NOFILE`` of *open_files*; *max_connections*
        (``[live] max_connections``) lowers the websocket cap further."""
        sockets = max(2, open_files - FD_RESERVE)
        websockets = max(1, sockets - HTTP_HEADROOM)
        if max_connections is not None:
            websockets = min(websockets, max_connections)
        return cls(open_files, sockets, websockets)


def raise_open_files_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit; returns the soft limit now in force.

    Every connection is a file descriptor, and distributions still default
    the soft limit to 1,024 while allowing far more.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        with contextlib.suppress(ValueError, OSError):  # e.g. above fs.nr_open: keep it
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return open_files_limit()


def open_files_limit() -> int:
    """The soft ``RLIMIT_NOFILE`` in force."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft if soft != resource.RLIM_INFINITY else 1 << 20
