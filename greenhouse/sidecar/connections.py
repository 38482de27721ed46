"""Connections: who may hold a socket, and what one websocket visit does.

**Admission** counts every TCP connection from its accept to its close, open
or half-open (handshake not finished), and holds three caps:

- per host (:func:`~greenhouse.sidecar.limits.host_of`): a connection from
  an untrusted peer is counted against the peer's address at once, in
  ``connection_made``, before a byte is read, and closed there if the host is
  at ``max_connections_per_ip``; one through a trusted proxy is counted
  against the address the proxy forwards, as soon as the request is read,
  and refused with HTTP 429;
- all sockets, below the open-files limit (closed at accept beyond it);
- upgraded websockets, below that again (HTTP 503 beyond it), which leaves
  sockets for ``/healthz`` when the websockets are full.

**A visit** is one open websocket: keyed (the day's visitor hash), counted in
presence by key, its messages rate-limited and parsed, its views and
interactions recorded.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from greenhouse.sidecar import protocol
from greenhouse.sidecar.fanout import encode_text_frame
from greenhouse.sidecar.limits import HostCounter, SocketBudget, TokenBucket, host_of
from greenhouse.sidecar.logs import Throttle
from greenhouse.sidecar.privacy import TrustedProxies, device, is_bot, opted_out

if TYPE_CHECKING:
    from websockets.http11 import Request

    from greenhouse.sidecar.metrics import Metrics
    from greenhouse.sidecar.server import Sidecar

log = logging.getLogger("greenhouse.sidecar")

CLOSE_CODES = {1007: "bad_utf8", 1009: "too_big", 1002: "protocol_error"}


class GardenConnection(ServerConnection):
    """A websockets server connection that :class:`Admission` counts from accept to close."""

    # Slots, not instance attributes: adding attributes to a websockets
    # connection after its __init__ un-shares its __dict__ (1.5 KiB more per
    # connection, measured with tracemalloc). websockets itself adds one,
    # ``transport``, in ``connection_made``: when a reconnect storm has made
    # many connections before the first of them is told of its transport,
    # CPython (3.11) no longer adds the name to the attributes all instances
    # share, and every connection then gets a dict of its own. Its slot here
    # keeps it out of the dict, so the memory of a storm does not depend on
    # how the accepts happened to batch (tests/sidecar/test_memory.py).
    __slots__ = ("client_ip", "host", "plain", "transport", "upgraded")

    admission: Admission  # set on the subclass made by :func:`connection_class`
    #: The host this connection is counted against (None: not counted yet).
    host: str | None
    #: The visitor's address, through the trusted-proxy rule (set at the handshake).
    client_ip: str | None
    #: Counted as a websocket (admitted for an upgrade).
    upgraded: bool
    #: A plain HTTP request (not a handshake).
    plain: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.host = self.client_ip = None
        self.upgraded = self.plain = False
        super().__init__(*args, **kwargs)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.admission.accepted(self)

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            super().connection_lost(exc)
        finally:
            self.admission.lost(self)
            self.admission.on_lost(self)

    async def handshake(self, *args: Any, **kwargs: Any) -> None:
        try:
            await super().handshake(*args, **kwargs)
        except asyncio.CancelledError:
            if not self.admission.stopping:
                self.admission.metrics.reject("handshake_timeout")
            raise


def peer_of(ws: ServerConnection) -> str:
    """The address at the other end of the TCP connection ("" if the socket could not say)."""
    address = ws.remote_address
    return str(address[0]) if address else ""


def connection_class(admission: Admission) -> type[GardenConnection]:
    """A :class:`GardenConnection` subclass bound to *admission* (for ``serve(create_connection=…)``)."""
    return type("Connection", (GardenConnection,), {"admission": admission})


class Admission:
    """Counts sockets per host and in all, and refuses what is over a cap."""

    def __init__(
        self,
        proxies: TrustedProxies,
        per_host: int,
        budget: SocketBudget,
        metrics: Metrics,
        throttle: Throttle,
    ):
        self.proxies = proxies
        self.hosts = HostCounter(per_host)
        self.budget = budget
        self.metrics = metrics
        self.throttle = throttle
        self.sockets = 0
        self.websockets = 0
        self.plain = 0
        self.stopping = False
        #: Told of every connection lost, after it is uncounted.
        self.on_lost: Callable[[GardenConnection], None] = lambda conn: None
        #: Told of every connection accepted, once it is counted.
        self.on_accepted: Callable[[], None] = lambda: None
        # Upgrades per whole second, this one and the last (a cheap sliding rate).
        self._second = 0
        self._upgrades_now = 0
        self._upgrades_before = 0

    @property
    def handshakes(self) -> int:
        """Sockets that are neither upgraded nor plain HTTP: handshakes in progress."""
        return self.sockets - self.websockets - self.plain

    def accepted(self, conn: GardenConnection) -> None:
        """A TCP connection was accepted: count it, or close it at once if over a cap."""
        self.sockets += 1
        self.on_accepted()
        if self.sockets > self.budget.sockets:
            self._drop(conn, "overload", f"at the socket cap ({self.budget.sockets})")
            return
        peer = peer_of(conn)
        if self.proxies.trusts(peer):
            return  # counted against the forwarded address once the request is read
        host = host_of(peer)
        if not self.hosts.take(host):
            self._drop(conn, "ip_cap", "too many connections from one address")
            return
        conn.host = host

    def _drop(self, conn: GardenConnection, reason: str, why: str) -> None:
        self.metrics.reject(reason)
        self.throttle.log(logging.WARNING, reason, "connection refused at accept: %s", why)
        conn.transport.abort()

    def charge(self, conn: GardenConnection, client_ip: str) -> bool:
        """Count a proxied connection against its forwarded address; False when over the cap."""
        if conn.host is not None:
            return True
        host = host_of(client_ip)
        if not self.hosts.take(host):
            return False
        conn.host = host
        return True

    def plain_http(self, conn: GardenConnection) -> None:
        """*conn* carries a plain HTTP request, not a handshake."""
        if not conn.plain:
            conn.plain = True
            self.plain += 1

    def upgrade(self, conn: GardenConnection) -> bool:
        """Count *conn* as a websocket; False when the websockets are at their cap."""
        if self.websockets >= self.budget.websockets:
            return False
        self.websockets += 1
        conn.upgraded = True
        self._tick_rate()
        self._upgrades_now += 1
        return True

    def upgrades_per_second(self) -> int:
        """Websockets admitted in the last whole second (or so far in this one, if more)."""
        self._tick_rate()
        return max(self._upgrades_now, self._upgrades_before)

    def _tick_rate(self) -> None:
        second = int(time.monotonic())
        if second != self._second:
            self._upgrades_before = self._upgrades_now if second == self._second + 1 else 0
            self._upgrades_now = 0
            self._second = second

    def lost(self, conn: GardenConnection) -> None:
        """A connection closed: uncount it."""
        self.sockets -= 1
        if conn.host is not None:
            self.hosts.release(conn.host)
            conn.host = None
        if conn.upgraded:
            self.websockets -= 1
            conn.upgraded = False
        if conn.plain:
            self.plain -= 1
            conn.plain = False


@dataclass(eq=False, slots=True)
class Visit:
    """One open websocket. ``ip`` and ``user_agent`` stay in memory only, to key events.

    Held once per connection, beside websockets' own objects: slots, and the
    moments it opened at given as one float (see :meth:`Visits.admit`).
    """

    ws: ServerConnection
    number: int
    visitor: str
    ip: str
    user_agent: str
    counted: bool
    recorded: bool
    device: str
    bucket: TokenBucket
    view_started: float
    last_message: float
    project: str | None = None
    viewed: bool = False
    strikes: int = 0
    idle: bool = False
    served: bool = False


class Visits:
    """Every open visit, and the websocket handler that serves one."""

    def __init__(self, sidecar: Sidecar):
        self.sidecar = sidecar
        self.open: dict[ServerConnection, Visit] = {}
        self.per_visitor: dict[str, int] = {}
        self._numbers = itertools.count(1)
        # One budget for all interaction fan-outs: many visitors (or bots) within
        # their own limits must not make the server broadcast without end.
        self._interaction_budget = TokenBucket(
            sidecar.tuning.interactions_per_second,
            max(1, int(sidecar.tuning.interactions_per_second * 2)),
            time.monotonic(),
        )
        self._interaction_end = float("-inf")
        # Each visit's bucket shares these two floats rather than making its own.
        self._message_rate = float(sidecar.config.messages_per_second)
        self._message_burst = float(sidecar.config.message_burst)

    def forget_plants(self, plants: frozenset[str]) -> None:
        """After a new garden: whoever looked at a removed plant is on the overview."""
        presence = self.sidecar.presence
        for visit in self.open.values():
            if visit.project is not None and visit.project not in plants:
                if visit.counted:
                    presence.move(visit.visitor, visit.project, None)
                visit.project = None

    async def admit(self, ws: ServerConnection, request: Request) -> bytes | None:
        """Key and count a visitor whose handshake is accepted; returns its welcome frame.

        Called from ``process_response``, so that the welcome leaves in the same
        write as the 101 response: after the empty line that ends a 101 the
        bytes belong to the new protocol (RFC 7230, 6.7), and a reconnect storm
        then costs one write per visitor, not two. None when the visitor is
        over ``max_connections_per_visitor`` (the handler closes it with 1008).
        """
        sidecar = self.sidecar
        # The handshake checked that every header read here occurs at most once.
        user_agent = request.headers.get("User-Agent", "")
        forwarded = ws.client_ip if isinstance(ws, GardenConnection) else None
        ip = forwarded or peer_of(ws)
        if sidecar.shared_salt is not None:
            await sidecar.shared_salt.ensure()  # the day's first visitor waits for the shared salt
        key = sidecar.salt.visitor(ip, user_agent)
        number = next(self._numbers)
        config = sidecar.config
        if self.per_visitor.get(key, 0) >= config.max_connections_per_visitor:
            sidecar.metrics.reject("visitor_cap")
            sidecar.throttle.log(
                logging.INFO,
                "visitor_cap",
                "connection #%d refused: too many connections for one visitor",
                number,
            )
            return None
        bot = is_bot(user_agent)
        now = time.monotonic()  # one float for the visit's three moments
        visit = Visit(
            ws=ws,
            number=number,
            visitor=key,
            ip=ip,
            user_agent=user_agent,
            counted=not bot,
            recorded=not bot and not opted_out(request.headers),
            device=device(user_agent),
            bucket=TokenBucket(self._message_rate, self._message_burst, now),
            view_started=now,
            last_message=now,
        )
        self.per_visitor[key] = self.per_visitor.get(key, 0) + 1
        self.open[ws] = visit
        if visit.counted:
            sidecar.presence.join(key)
            sidecar.presence_changed()
        if visit.recorded:
            sidecar.recent.opened(key)
        sidecar.metrics.connections += 1
        sidecar.metrics.connections_total += 1
        sidecar.metrics.messages_out += 1
        log.debug(
            "connection #%d open (%s%s)",
            number,
            visit.device,
            "" if visit.recorded else ", not recorded",
        )
        snapshot = sidecar.current_presence()
        return encode_text_frame(protocol.welcome_frame(snapshot.visitors, snapshot.projects))

    def lost(self, ws: ServerConnection) -> None:
        """A connection closed: forget its visit if its handler never ran (a handshake
        that failed after :meth:`admit`, for one)."""
        visit = self.open.get(ws)
        if visit is not None and not visit.served:
            self._leave(visit)
            log.debug("connection #%d closed (before it was served)", visit.number)

    async def handle(self, ws: ServerConnection) -> None:
        """Serve one websocket after its welcome, until its close (the ``serve()`` handler)."""
        visit = self.open.get(ws)
        if visit is None:  # refused by admit(): over the visitor cap
            await ws.close(1008, "too many connections")
            return
        visit.served = True
        reason = "closed"
        try:
            # One coroutine for the whole visit, not a loop in a second one
            # awaited from here: each suspended coroutine is a frame kept per
            # connection (about 250 bytes, measured with tracemalloc).
            sidecar = self.sidecar
            while True:
                message = await ws.recv()  # idle visits are closed by close_idle()
                visit.last_message = now = time.monotonic()
                sidecar.metrics.messages_in += 1
                if not visit.bucket.take(now):
                    visit.strikes += 1
                    sidecar.metrics.reject("rate_limited")
                    if visit.strikes > sidecar.tuning.flood_strikes:
                        sidecar.metrics.reject("flood")
                        reason = "flood"
                        await ws.close(1008, "too many messages")
                        break
                    if visit.strikes == 1:
                        await self._error(visit, "rate_limited", "too many messages; slow down")
                    continue
                visit.strikes = 0
                if not isinstance(message, str):
                    sidecar.metrics.reject("binary")
                    await self._error(visit, "binary", "only JSON text frames are accepted")
                    continue
                try:
                    parsed = protocol.parse_message(message, sidecar.garden.plants)
                except protocol.ProtocolError as exc:
                    sidecar.metrics.reject(exc.code)
                    await self._error(visit, exc.code, exc.message)
                    continue
                if isinstance(parsed, protocol.View):
                    self._view(visit, parsed)
                else:
                    self._interact(visit, parsed)
        except ConnectionClosed as exc:
            code = exc.sent.code if exc.sent is not None else None
            if visit.idle:
                reason = "idle"
            elif code in CLOSE_CODES:
                reason = CLOSE_CODES[code]
                self.sidecar.metrics.reject(reason)
        finally:
            self._leave(visit)
            log.debug("connection #%d closed (%s)", visit.number, reason)

    async def close_idle(self) -> None:
        """Close visits silent for longer than ``idle_timeout`` (1000, "idle timeout"), forever.

        One sweep a few times per timeout rather than a timer per connection:
        10,000 timers re-armed on every message cost memory and time.
        """
        sidecar = self.sidecar
        idle = sidecar.config.idle_timeout
        every = min(max(idle / 4, 0.05), 15.0)
        while True:
            await asyncio.sleep(every)
            now = time.monotonic()
            for visit in list(self.open.values()):
                if not visit.idle and now - visit.last_message > idle:
                    visit.idle = True
                    sidecar.metrics.reject("idle")
                    sidecar.spawn(visit.ws.close(1000, "idle timeout"))

    async def _error(self, visit: Visit, code: str, message: str) -> None:
        self.sidecar.throttle.log(
            logging.INFO,
            f"bad_message_{code}",
            "connection #%d: rejected a message (%s)",
            visit.number,
            code,
        )
        await visit.ws.send(protocol.error_frame(code, message))
        self.sidecar.metrics.messages_out += 1

    def _view(self, visit: Visit, view: protocol.View) -> None:
        before, visit.project = visit.project, view.project
        visit.viewed = True
        visit.view_started = time.monotonic()
        if visit.counted:
            self.sidecar.presence.move(visit.visitor, before, view.project)
            self.sidecar.presence_changed()
        self._record(visit, "view", view.project, referrer=view.referrer)

    def _interact(self, visit: Visit, interact: protocol.Interact) -> None:
        sidecar = self.sidecar
        self._record(visit, "interact", interact.project, action=interact.action)
        if not self.may_fan_out_interaction():
            sidecar.metrics.reject("interaction_budget")
            return
        self.fan_out_interaction(interact.project, interact.action)
        if sidecar.bus is not None:
            sidecar.bus.publish_interaction(interact.project, interact.action)

    def may_fan_out_interaction(self) -> bool:
        """The global interaction budget: a rate, and no more of the loop than presence may take."""
        now = time.monotonic()
        sidecar = self.sidecar
        gap = sidecar.pacer.gap(sidecar.fanout.expected_cost(), sidecar.storm())
        if now < self._interaction_end + gap:
            return False
        return self._interaction_budget.take(now)

    def fan_out_interaction(self, project: str, action: str) -> None:
        """Send an interaction frame to everyone, remembering when for the budget."""
        self.sidecar.fanout.send(protocol.interaction_frame(project, action))
        self._interaction_end = time.monotonic()

    def _leave(self, visit: Visit) -> None:
        sidecar = self.sidecar
        if self.open.pop(visit.ws, None) is None:
            return  # already left
        left = self.per_visitor.get(visit.visitor, 0) - 1
        if left > 0:
            self.per_visitor[visit.visitor] = left
        else:
            self.per_visitor.pop(visit.visitor, None)
        if visit.counted:
            sidecar.presence.leave(visit.visitor, visit.project)
            sidecar.presence_changed()
        if visit.recorded:
            sidecar.recent.closed(visit.visitor, sidecar.clock().timestamp())
        sidecar.metrics.connections -= 1
        if visit.viewed:
            duration = round(time.monotonic() - visit.view_started, 1)
            self._record(visit, "leave", visit.project, duration=duration)

    def _record(
        self,
        visit: Visit,
        kind: str,
        project: str | None,
        action: str | None = None,
        referrer: str | None = None,
        duration: float | None = None,
    ) -> None:
        if not visit.recorded:
            return
        sidecar = self.sidecar
        event: dict[str, Any] = {
            "visitor": sidecar.salt.visitor(visit.ip, visit.user_agent),
            "type": kind,
            "project": project,
            "action": action,
            "referrer": referrer,
            "device": visit.device,
        }
        if kind == "leave":
            event["duration"] = duration
        sidecar.recent.seen(event["visitor"], sidecar.clock().timestamp())
        if sidecar.events.append(event) is None:
            sidecar.metrics.reject("event_log_full")
