"""The asyncio layer: a websockets server wired to the pure core.

One process serves the websocket endpoint ``/ws/garden`` and, through the
``process_request`` hook, plain HTTP on the same port (``/healthz``,
``/metrics``, ``/api/events``, ``POST /api/published``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import http
import itertools
import json
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import watchfiles
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State

from greenhouse.config import CONFIG_FILE, LiveConfig, Secrets, Site
from greenhouse.errors import ConfigError, Problem
from greenhouse.sidecar import protocol
from greenhouse.sidecar.eventlog import CursorError, EventLog
from greenhouse.sidecar.limits import TokenBucket
from greenhouse.sidecar.metrics import Metrics
from greenhouse.sidecar.presence import Presence, RecentVisitors, Snapshot, merge
from greenhouse.sidecar.privacy import DailySalt, client_ip, device, is_bot, opted_out
from greenhouse.sidecar.redis_bus import RedisBus
from greenhouse.sidecar.redis_salt import RedisSalt

log = logging.getLogger("greenhouse.sidecar")

WS_PATH = "/ws/garden"
GARDEN_INDEX = Path("api/v1/garden/index.json")
CLOSE_CODES = {1007: "bad_utf8", 1009: "too_big", 1002: "protocol_error"}


def utc_now() -> datetime:
    """The real clock (tests inject their own)."""
    return datetime.now(UTC)


class QuietLogger(logging.LoggerAdapter):  # type: ignore[type-arg,unused-ignore]
    """websockets' logger, held at WARNING whatever the configured level.

    Its debug output dumps every request header (user agent, X-Forwarded-For,
    the bearer token), which must never reach a log.
    """

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 (logging's name)
        return level >= logging.WARNING and self.logger.isEnabledFor(level)


@dataclass
class Tuning:
    """Intervals and thresholds not worth a config key, injectable by tests and the bench."""

    flush_interval: float = 1.0
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    open_timeout: float = 10.0
    close_timeout: float = 5.0
    slow_reader_bytes: int = 256 * 1024
    flood_strikes: int = 5
    interactions_per_second: float = 20.0
    garden_fetch_attempts: int = 6
    garden_fetch_retry: float = 10.0
    watch_garden: bool = True


@dataclass(eq=False)
class Visit:
    """One open connection. ``ip`` and ``user_agent`` stay in memory only, to key events."""

    ws: ServerConnection
    number: int
    visitor: str
    ip: str
    user_agent: str
    counted: bool
    recorded: bool
    device: str
    bucket: TokenBucket
    project: str | None = None
    viewed: bool = False
    view_started: float = field(default_factory=time.monotonic)
    strikes: int = 0


class Sidecar:
    """A running sidecar: ``port``, ``url``, ``close()``; ``metrics`` and ``events`` for tests."""

    def __init__(
        self,
        site: Site,
        config: LiveConfig,
        token: str | None,
        clock: Callable[[], datetime],
        tuning: Tuning,
    ):
        self.site = site
        self.config = config
        self.token = token
        self.clock = clock
        self.tuning = tuning
        self.metrics = Metrics()
        self.presence = Presence()
        self.recent = RecentVisitors()
        self.shared_salt = RedisSalt(config.redis_url, clock) if config.redis_url else None
        self.salt = DailySalt(clock, source=self.shared_salt)
        self.bundle = site.path(site.config.build.output)
        event_dir = site.path(config.event_dir or "build/live-events")
        self.events = EventLog(event_dir, config.instance_id, clock, config.retention_days)
        self.visits: dict[ServerConnection, Visit] = {}
        self.per_visitor: Counter[str] = Counter()
        self.projects: frozenset[str] = frozenset()
        self.generated_at: str | None = None
        self._garden_digest: str | None = None
        self._numbers = itertools.count(1)
        # One budget for all interaction fan-outs: many visitors (or bots) within
        # their own limits must not make the server broadcast without end.
        self._interaction_budget = TokenBucket(
            tuning.interactions_per_second,
            max(1, int(tuning.interactions_per_second * 2)),
            time.monotonic(),
        )
        self._last_presence: Snapshot | None = None
        self._presence_dirty = True
        self._started = time.monotonic()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.server: Server | None = None
        self.bus: RedisBus | None = None
        self.port = 0
        self.host = ""

    # -- lifecycle -------------------------------------------------------------------

    async def open(self, host: str, port: int) -> None:
        """Recover the event log, load the garden, listen, start the background tasks.

        Raises :class:`ConfigError` when the event folder or the address cannot be used.
        """
        config_file = self.site.root / CONFIG_FILE
        try:
            self.events.open()
        except OSError as exc:
            where = f"cannot use the event folder {self.events.directory}: {exc.strerror or exc}"
            raise ConfigError(Problem(config_file, where, field="live.event_dir")) from None
        self.load_garden()
        sidecar = self

        class Connection(ServerConnection):
            async def handshake(self, *args: Any, **kwargs: Any) -> None:
                try:
                    await super().handshake(*args, **kwargs)
                except asyncio.CancelledError:
                    if not sidecar._stop.is_set():
                        sidecar.metrics.reject("handshake_timeout")
                    raise

        ws_logger = QuietLogger(logging.getLogger("greenhouse.sidecar.websockets"), {})
        try:
            self.server = await self._listen(host, port, Connection, ws_logger)
        except OSError as exc:
            where = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
            raise ConfigError(Problem(config_file, where, field="live.port")) from None
        sock = next(iter(self.server.sockets))
        self.host, self.port = sock.getsockname()[:2]
        if self.shared_salt is not None:
            self.shared_salt.start()
        if self.config.redis_url:
            self.bus = RedisBus(
                self.config.redis_url,
                instance=f"{self.config.instance_id}-{secrets.token_hex(4)}",  # new each process
                local=self.local_presence,
                on_interaction=self._remote_interaction,
                on_garden_updated=self._remote_garden_updated,
                on_change=self._mark_remote_presence,
                heartbeat=self.config.heartbeat_interval,
                expiry=self.config.presence_expiry,
                coalesce=self.config.presence_interval,
            )
            self.bus.start()
        self._tasks.append(asyncio.create_task(self._presence_loop()))
        self._tasks.append(asyncio.create_task(self._flush_loop()))
        if self.tuning.watch_garden:
            self._tasks.append(asyncio.create_task(self._watch_garden()))
        if not self._bundle_is_local():
            log.info("garden: no local bundle; fetching %s", self.garden_url)
            self._spawn(self._refresh_remote(announce=False))
        log.info("sidecar listening on %s", self.url)

    async def _listen(
        self, host: str, port: int, connection: type[ServerConnection], logger: Any
    ) -> Server:
        return await serve(
            self._handle,
            host,
            port,
            create_connection=connection,
            process_request=self._process_request,
            process_response=self._process_response,
            compression=None,
            max_size=self.config.max_message_bytes,
            max_queue=4,
            write_limit=32 * 1024,
            open_timeout=self.tuning.open_timeout,
            ping_interval=self.tuning.ping_interval,
            ping_timeout=self.tuning.ping_timeout,
            close_timeout=self.tuning.close_timeout,
            server_header=None,
            logger=logger,
        )

    @property
    def url(self) -> str:
        """The HTTP base URL the sidecar is bound to."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def close(self) -> None:
        """Drain: stop listening, close clients with 1001, flush the event log, leave Redis."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self.server is not None:
            self.server.close(close_connections=True)
            await self.server.wait_closed()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.bus is not None:
            await self.bus.close()
        if self.shared_salt is not None:
            await self.shared_salt.close()
        try:
            await asyncio.to_thread(self.events.flush)
        except OSError as exc:
            log.error("event log: final flush failed: %s", exc.strerror or exc)
        log.info("sidecar stopped")

    # -- the garden ------------------------------------------------------------------

    def load_garden(self, raw: bytes | None = None) -> bool:
        """Reload the published plant ids (from the local bundle unless *raw* is
        given); True when the garden changed."""
        if raw is None:
            path = self.bundle / GARDEN_INDEX
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                raw = b""
            except OSError as exc:
                log.warning("garden: cannot read %s: %s", GARDEN_INDEX, exc.strerror)
                return False
        digest = hashlib.sha256(raw).hexdigest()
        if digest == self._garden_digest:
            return False
        if not raw:
            projects: frozenset[str] = frozenset()
            generated = None
        else:
            try:
                garden = json.loads(raw)
                projects = frozenset(
                    p["id"]
                    for p in garden["plants"]
                    if isinstance(p, dict) and isinstance(p.get("id"), str)
                )
                generated = garden.get("generated_at")
            except (ValueError, KeyError, TypeError):
                log.warning(
                    "garden: %s is not a garden document; keeping the previous one", GARDEN_INDEX
                )
                return False
        self._garden_digest = digest
        self.projects = projects
        self.generated_at = generated if isinstance(generated, str) else None
        self.presence.forget_projects(projects)
        for visit in self.visits.values():
            if visit.project is not None and visit.project not in projects:
                visit.project = None
        self._mark_presence()
        log.info("garden: %d plants", len(projects))
        return True

    @property
    def garden_url(self) -> str:
        """Where the published garden is fetched when the bundle is not on this machine."""
        return self.site.config.site.base_url + GARDEN_INDEX.as_posix()

    def _bundle_is_local(self) -> bool:
        return (self.bundle / GARDEN_INDEX).is_file()

    async def _fetch_garden(self) -> bool | None:
        """Load the garden from the site's public URL; None when that failed."""
        try:
            async with httpx.AsyncClient(timeout=10, follow_redirects=True) as http:
                answer = await http.get(self.garden_url, headers={"Cache-Control": "no-cache"})
                answer.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("garden: cannot fetch %s: %s", self.garden_url, type(exc).__name__)
            return None
        return self.load_garden(answer.content)

    async def _refresh_remote(self, announce: bool) -> None:
        # A static host may take a while to serve the new bundle after CI
        # announced it: retry until the garden changes, then announce anyway.
        for attempt in range(self.tuning.garden_fetch_attempts):
            if attempt:
                await asyncio.sleep(self.tuning.garden_fetch_retry)
            if await self._fetch_garden():
                break
        if announce:
            self.garden_updated(publish=True)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    async def _watch_garden(self) -> None:
        # Watch the bundle's parent: publishing may swap the whole bundle folder.
        root = self.bundle.parent
        root.mkdir(parents=True, exist_ok=True)
        bundle = str(self.bundle)

        def relevant(_change: watchfiles.Change, path: str) -> bool:
            return path == bundle or path.startswith(bundle + "/")

        try:
            async for _changes in watchfiles.awatch(
                root, watch_filter=relevant, stop_event=self._stop, debounce=200
            ):
                if self.load_garden():
                    self.garden_updated(publish=True)
        except Exception as exc:  # an inotify limit, a vanished folder...
            log.warning(
                "garden: watching the bundle stopped (%s); POST /api/published still works",
                type(exc).__name__,
            )

    def garden_updated(self, publish: bool) -> None:
        """Tell every client (and, if *publish*, every instance) that a new garden is out."""
        self.fanout(protocol.garden_updated_frame(self.generated_at))
        if publish and self.bus is not None:
            self.bus.publish_garden_updated(self.generated_at)

    def _remote_garden_updated(self, generated_at: str | None) -> None:
        if self._bundle_is_local():
            self.load_garden()
            self.fanout(protocol.garden_updated_frame(generated_at or self.generated_at))
        else:
            self._spawn(self._fetch_then_tell(generated_at))

    async def _fetch_then_tell(self, generated_at: str | None) -> None:
        await self._fetch_garden()
        self.fanout(protocol.garden_updated_frame(generated_at or self.generated_at))

    # -- presence and fan-out --------------------------------------------------------

    def _mark_presence(self) -> None:
        """Local presence changed: send it to clients and, early, to other instances."""
        self._presence_dirty = True
        if self.bus is not None:
            self.bus.presence_changed()

    def _mark_remote_presence(self) -> None:
        # Not passed back to the bus: instances must not echo each other's beats.
        self._presence_dirty = True

    def recent_visitors(self, now: datetime) -> int:
        """Distinct recorded visitors of this instance in the 5 minutes before *now*.

        Open connections of recorded visitors count as seen now.
        """
        moment = now.timestamp()
        for visit in self.visits.values():
            if visit.recorded:
                self.recent.seen(visit.visitor, moment)
        return self.recent.count(moment)

    def local_presence(self) -> Snapshot:
        """This instance's presence, with its realtime count (what heartbeats carry)."""
        return replace(self.presence.snapshot(), recent=self.recent_visitors(self.clock()))

    def realtime(self) -> dict[str, Any]:
        """``{"visitors_5m", "at"}``: distinct recorded visitors in the 5 minutes before
        ``at``, summed over the live instances (a visitor on two at once counts twice)."""
        now = self.clock()
        total = self.recent_visitors(now)
        if self.bus is not None:
            moment = time.monotonic()
            total += sum(
                snapshot.recent
                for snapshot, seen in self.bus.remotes.values()
                if moment - seen <= self.config.presence_expiry
            )
        at = now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return {"visitors_5m": total, "at": at}

    def current_presence(self) -> Snapshot:
        """Local presence plus every live remote instance."""
        local = self.presence.snapshot()
        if self.bus is None:
            return local
        return merge(local, self.bus.remotes, time.monotonic(), self.config.presence_expiry)

    async def _presence_loop(self) -> None:
        # Coalescing: however many joins, moves and leaves happen, clients get
        # at most one presence frame per interval, and only when it changed.
        while True:
            await asyncio.sleep(self.config.presence_interval)
            if self.bus is not None and self.bus.expire():
                self._presence_dirty = True
            if not self._presence_dirty:
                continue
            self._presence_dirty = False
            try:
                snapshot = self.current_presence()
                if snapshot != self._last_presence:
                    self._last_presence = snapshot
                    self.fanout(protocol.presence_frame(snapshot.visitors, snapshot.projects))
            except Exception:  # never let one bad tick stop presence for good
                log.exception("presence: update failed")

    def fanout(self, text: str) -> int:
        """Send one text frame to every open connection; returns how many got it.

        The frame is serialized once and written to each transport directly
        (server frames are unmasked and uncompressed, so the bytes are the same
        for everyone). A reader whose write buffer is over the limit misses the
        frame rather than making the server hold memory for it; it is closed by
        the keepalive if it stops reading altogether.
        """
        started = time.perf_counter()
        data = Frame(Opcode.TEXT, text.encode()).serialize(mask=False)
        limit = self.tuning.slow_reader_bytes
        sent = 0
        for ws in self.visits:
            if ws.protocol.state is not State.OPEN:
                continue
            transport = ws.transport
            if transport.get_write_buffer_size() > limit:
                self.metrics.dropped_frames += 1
                continue
            transport.write(data)
            sent += 1
        self.metrics.messages_out += sent
        self.metrics.broadcast_seconds.observe(time.perf_counter() - started)
        return sent

    # -- websocket connections -------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None
        user_agent = request.headers.get("User-Agent", "")
        ip = client_ip(
            str(ws.remote_address[0]),
            request.headers.get("X-Forwarded-For"),
            self.config.trusted_proxies,
        )
        if self.shared_salt is not None:
            await self.shared_salt.ensure()  # the day's first visitor waits for the shared salt
        key = self.salt.visitor(ip, user_agent)
        number = next(self._numbers)
        if self.per_visitor[key] >= self.config.max_connections_per_visitor:
            self.metrics.reject("visitor_cap")
            log.info("connection #%d refused: too many connections for one visitor", number)
            await ws.close(1008, "too many connections")
            return
        bot = is_bot(user_agent)
        visit = Visit(
            ws=ws,
            number=number,
            visitor=key,
            ip=ip,
            user_agent=user_agent,
            counted=not bot,
            recorded=not bot and not opted_out(request.headers),
            device=device(user_agent),
            bucket=TokenBucket(
                self.config.messages_per_second, self.config.message_burst, time.monotonic()
            ),
        )
        self.per_visitor[key] += 1
        self.visits[ws] = visit
        if visit.counted:
            self.presence.join(ws, key)
            self._mark_presence()
        if visit.recorded:
            self.recent.seen(key, self.clock().timestamp())
        self.metrics.connections += 1
        self.metrics.connections_total += 1
        log.info(
            "connection #%d open (%s%s)",
            number,
            visit.device,
            "" if visit.recorded else ", not recorded",
        )
        reason = "closed"
        try:
            snapshot = self.current_presence()
            await ws.send(protocol.welcome_frame(snapshot.visitors, snapshot.projects))
            self.metrics.messages_out += 1
            reason = await self._serve(visit)
        except ConnectionClosed as exc:
            code = exc.sent.code if exc.sent is not None else None
            if code in CLOSE_CODES:
                reason = CLOSE_CODES[code]
                self.metrics.reject(reason)
        finally:
            self._leave(visit)
            log.info("connection #%d closed (%s)", number, reason)

    async def _serve(self, visit: Visit) -> str:
        ws = visit.ws
        while True:
            try:
                async with asyncio.timeout(self.config.idle_timeout):
                    message = await ws.recv()
            except TimeoutError:
                self.metrics.reject("idle")
                await ws.close(1000, "idle timeout")
                return "idle"
            self.metrics.messages_in += 1
            if not visit.bucket.take(time.monotonic()):
                visit.strikes += 1
                self.metrics.reject("rate_limited")
                if visit.strikes > self.tuning.flood_strikes:
                    self.metrics.reject("flood")
                    await ws.close(1008, "too many messages")
                    return "flood"
                if visit.strikes == 1:
                    await self._error(visit, "rate_limited", "too many messages; slow down")
                continue
            visit.strikes = 0
            if not isinstance(message, str):
                self.metrics.reject("binary")
                await self._error(visit, "binary", "only JSON text frames are accepted")
                continue
            try:
                parsed = protocol.parse_message(message, self.projects)
            except protocol.ProtocolError as exc:
                self.metrics.reject(exc.code)
                await self._error(visit, exc.code, exc.message)
                continue
            if isinstance(parsed, protocol.View):
                self._view(visit, parsed)
            else:
                self._interact(visit, parsed)

    async def _error(self, visit: Visit, code: str, message: str) -> None:
        log.info("connection #%d: rejected a message (%s)", visit.number, code)
        await visit.ws.send(protocol.error_frame(code, message))
        self.metrics.messages_out += 1

    def _view(self, visit: Visit, view: protocol.View) -> None:
        visit.project = view.project
        visit.viewed = True
        visit.view_started = time.monotonic()
        if visit.counted:
            self.presence.move(visit.ws, view.project)
            self._mark_presence()
        self._record(visit, "view", view.project, referrer=view.referrer)

    def _interact(self, visit: Visit, interact: protocol.Interact) -> None:
        self._record(visit, "interact", interact.project, action=interact.action)
        if not self._interaction_budget.take(time.monotonic()):
            self.metrics.reject("interaction_budget")
            return
        self.fanout(protocol.interaction_frame(interact.project, interact.action))
        if self.bus is not None:
            self.bus.publish_interaction(interact.project, interact.action)

    def _remote_interaction(self, project: str, action: str) -> None:
        if project in self.projects and action in protocol.ACTIONS:
            self.fanout(protocol.interaction_frame(project, action))

    def _leave(self, visit: Visit) -> None:
        self.visits.pop(visit.ws, None)
        self.per_visitor[visit.visitor] -= 1
        if self.per_visitor[visit.visitor] <= 0:
            del self.per_visitor[visit.visitor]
        if visit.counted:
            self.presence.leave(visit.ws)
            self._mark_presence()
        self.metrics.connections -= 1
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
        event: dict[str, Any] = {
            "visitor": self.salt.visitor(visit.ip, visit.user_agent),
            "type": kind,
            "project": project,
            "action": action,
            "referrer": referrer,
            "device": visit.device,
        }
        if kind == "leave":
            event["duration"] = duration
        self.recent.seen(event["visitor"], self.clock().timestamp())
        if self.events.append(event) is None:
            self.metrics.reject("event_log_full")

    # -- durability ------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        last_expiry = time.monotonic()
        while True:
            await asyncio.sleep(self.tuning.flush_interval)
            await self._flush()
            if time.monotonic() - last_expiry > 3600:
                last_expiry = time.monotonic()
                await asyncio.to_thread(self.events.expire)

    async def _flush(self) -> None:
        try:
            await asyncio.to_thread(self.events.flush)
        except OSError as exc:
            self.metrics.reject("event_log_write")
            log.error("event log: flush failed, will retry: %s", exc.strerror or type(exc).__name__)
        self.metrics.events_written = Counter(self.events.written)

    # -- plain HTTP ------------------------------------------------------------------

    def _process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        route = (request.method, url.path)
        if url.path == WS_PATH:
            if request.method != "GET":
                return self._json(ws, http.HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use GET"})
            if request.headers.get("Origin") not in self.config.allowed_origins:
                self.metrics.reject("origin")
                log.info("handshake refused: origin not allowed")
                return self._json(ws, http.HTTPStatus.FORBIDDEN, {"error": "origin not allowed"})
            return None
        if route == ("GET", "/healthz"):
            return self._json(ws, http.HTTPStatus.OK, self.health())
        if route == ("GET", "/metrics"):
            redis_up = None if self.bus is None else int(self.bus.connected)
            body = self.metrics.render(self.current_presence().visitors, redis_up)
            response = ws.respond(http.HTTPStatus.OK, body)
            del response.headers["Content-Type"]
            response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
            return response
        if route == ("GET", "/api/events"):
            if not self._authorized(request):
                return self._unauthorized(ws)
            return self._export(ws, parse_qs(url.query))
        if route == ("POST", "/api/published"):
            if not self._authorized(request):
                return self._unauthorized(ws)
            log.info("garden: publication announced through the hook")
            if not self._bundle_is_local():
                self._spawn(self._refresh_remote(announce=True))
                return self._json(ws, http.HTTPStatus.ACCEPTED, {"status": "fetching"})
            self.load_garden()
            self.garden_updated(publish=True)
            return self._json(
                ws, http.HTTPStatus.ACCEPTED, {"status": "announced", "plants": len(self.projects)}
            )
        return self._json(ws, http.HTTPStatus.NOT_FOUND, {"error": "not found"})

    def _process_response(self, ws: ServerConnection, request: Request, response: Response) -> None:
        if urlsplit(request.path).path == WS_PATH and response.status_code in (400, 426):
            self.metrics.reject("bad_handshake")

    def health(self) -> dict[str, Any]:
        """The ``/healthz`` document."""
        events = self.events
        state = "failing" if events.error else "ok"
        return {
            "status": "ok" if state == "ok" else "degraded",
            "connections": self.metrics.connections,
            "uptime": round(time.monotonic() - self._started, 3),
            "plants": len(self.projects),
            "event_log": {
                "state": state,
                "pending": events.pending,
                "last_flush": events.last_flush.isoformat() if events.last_flush else None,
                "last_id": _cursor_text(events.durable, events.instance),
                "error": events.error,
            },
            "redis": "off"
            if self.bus is None
            else ("connected" if self.bus.connected else "disconnected"),
            "salt": "shared" if self.salt.shared else "local",
            "realtime": self.realtime(),
        }

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not self.token or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[7:].strip().encode(), self.token.encode())

    def _unauthorized(self, ws: ServerConnection) -> Response:
        self.metrics.reject("unauthorized")
        response = self._json(
            ws, http.HTTPStatus.UNAUTHORIZED, {"error": "missing or wrong bearer token"}
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="greenhouse"'
        return response

    def _export(self, ws: ServerConnection, query: dict[str, list[str]]) -> Response:
        after = (query.get("after") or [""])[0] or None
        try:
            limit = int((query.get("limit") or ["100"])[0])
        except ValueError:
            limit = 0
        if not 1 <= limit <= 1000:
            return self._json(ws, http.HTTPStatus.BAD_REQUEST, {"error": "limit must be 1..1000"})
        try:
            events, next_cursor = self.events.read(after, limit)
        except CursorError as exc:
            return self._json(ws, http.HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        return self._json(
            ws,
            http.HTTPStatus.OK,
            {"events": events, "next": next_cursor, "realtime": self.realtime()},
        )

    @staticmethod
    def _json(ws: ServerConnection, status: http.HTTPStatus, body: dict[str, Any]) -> Response:
        response = ws.respond(status, json.dumps(body, separators=(",", ":")) + "\n")
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        response.headers["Cache-Control"] = "no-store"
        return response


def _cursor_text(durable: tuple[str, int], instance: str) -> str | None:
    day, seq = durable
    return f"{day}-{seq:010d}-{instance}" if day else None


async def start(
    site: Site,
    host: str | None = None,
    port: int | None = None,
    *,
    token: str | None = None,
    clock: Callable[[], datetime] = utc_now,
    tuning: Tuning | None = None,
    config: LiveConfig | None = None,
) -> Sidecar:
    """Start a sidecar in the running loop; ``await sidecar.close()`` to stop it.

    *token* defaults to ``GREENHOUSE_LIVE_TOKEN``; *config* to ``site.config.live``.
    """
    live = config or site.config.live
    sidecar = Sidecar(
        site,
        live,
        token if token is not None else Secrets.from_env().live_token,
        clock,
        tuning or Tuning(),
    )
    await sidecar.open(
        host if host is not None else live.host, port if port is not None else live.port
    )
    return sidecar
