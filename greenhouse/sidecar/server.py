"""The asyncio layer: a websockets server wired to the pure core.

One process serves the websocket endpoint ``/ws/garden`` and, through the
``process_request`` hook, plain HTTP on the same port. The parts, one module
each:

- :mod:`.connections`: who may hold a socket (caps per host and in all), and
  the handler of one websocket visit;
- :mod:`.fanout`: one frame to every connection, presence paced by its cost;
- :mod:`.garden`: the published plant ids, and news of a new garden;
- :mod:`.collector`: the garbage collector paused while a reconnect storm lasts;
- :mod:`.endpoints`: ``/healthz``, ``/metrics``, ``/api/events``,
  ``POST /api/published``, and the checks of every handshake.

:class:`Sidecar` owns the state they share (presence, the event log, the
metrics, Redis) and their lifecycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import Server, serve

from greenhouse.config import CONFIG_FILE, LiveConfig, Secrets, Site
from greenhouse.errors import ConfigError, Problem
from greenhouse.sidecar import protocol
from greenhouse.sidecar.collector import CollectorPause
from greenhouse.sidecar.connections import Admission, Visits, connection_class
from greenhouse.sidecar.endpoints import Endpoints
from greenhouse.sidecar.eventlog import EventLog, Flusher
from greenhouse.sidecar.fanout import Fanout, PresenceFeed, PresencePacer
from greenhouse.sidecar.garden import GardenFeed
from greenhouse.sidecar.limits import SocketBudget, open_files_limit
from greenhouse.sidecar.listener import listen
from greenhouse.sidecar.logs import QuietLogger, Throttle
from greenhouse.sidecar.metrics import Metrics
from greenhouse.sidecar.presence import Presence, RecentVisitors, Snapshot, merge
from greenhouse.sidecar.privacy import DailySalt, TrustedProxies

if TYPE_CHECKING:
    from greenhouse.sidecar.redis_bus import RedisBus
    from greenhouse.sidecar.redis_salt import RedisSalt

log = logging.getLogger("greenhouse.sidecar")

#: Connections waiting in the kernel for their accept: a reconnect storm must
#: not find the queue full (a dropped SYN is retried a second later).
BACKLOG = 1024
#: A reconnect storm: this many handshakes in progress at once, or this many
#: websockets opened per second. One or two handshakes is a visitor arriving,
#: or an export or a health check in its first milliseconds; a storm has
#: hundreds, most of them still in the kernel's accept queue, which is why
#: the rate counts too.
STORM_HANDSHAKES = 8
STORM_UPGRADES_PER_SECOND = 20


def utc_now() -> datetime:
    """The real clock (tests inject their own)."""
    return datetime.now(UTC)


@dataclass
class Tuning:
    """Intervals and thresholds not worth a config key, injectable by tests and the bench."""

    flush_interval: float = 0.5
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
    log_every: float = 10.0
    #: Longest pause of the garbage collector in a reconnect storm (0: never pause it).
    storm_gc_pause: float = 10.0


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
        self.throttle = Throttle(log, tuning.log_every)
        self.presence = Presence()
        self.recent = RecentVisitors()
        self.proxies = TrustedProxies(config.trusted_proxies)
        self.shared_salt: RedisSalt | None = None
        if config.redis_url:
            from greenhouse.sidecar.redis_salt import RedisSalt

            self.shared_salt = RedisSalt(config.redis_url, clock)
        self.salt = DailySalt(clock, source=self.shared_salt)
        event_dir = site.path(config.event_dir or "build/live-events")
        self.events = EventLog(event_dir, config.instance_id, clock, config.retention_days)
        self.flusher = Flusher(self.events, tuning.flush_interval, self._flushed_elsewhere)
        self.budget = SocketBudget.from_limit(open_files_limit(), config.max_connections)
        self.admission = Admission(
            self.proxies, config.max_connections_per_ip, self.budget, self.metrics, self.throttle
        )
        self.visits = Visits(self)
        self.admission.on_lost = self.visits.lost
        self.collector = CollectorPause(self.storm, tuning.storm_gc_pause)
        self.admission.on_accepted = self.collector.poke
        self.fanout = Fanout(lambda: self.visits.open, self.metrics, tuning.slow_reader_bytes)
        self.pacer = PresencePacer(config.presence_interval)
        self.garden = GardenFeed(
            site,
            on_plants=self._plants_changed,
            announce=self.garden_updated,
            spawn=self.spawn,
            fetch_attempts=tuning.garden_fetch_attempts,
            fetch_retry=tuning.garden_fetch_retry,
        )
        self.endpoints = Endpoints(self)
        self.feed: PresenceFeed | None = None
        self._started = time.monotonic()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
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
            await asyncio.to_thread(self.events.open)
        except OSError as exc:
            where = f"cannot use the event folder {self.events.directory}: {exc.strerror or exc}"
            raise ConfigError(Problem(config_file, where, field="live.event_dir")) from None
        self._loop = asyncio.get_running_loop()
        self.feed = PresenceFeed(
            self.current_presence,
            self.fanout,
            self.pacer,
            self.storm,
            self.metrics.presence_delay_seconds.observe,
        )
        await self.garden.start()
        ws_logger = QuietLogger(logging.getLogger("greenhouse.sidecar.websockets"), {})
        try:
            listener = listen(host, port, BACKLOG)
        except OSError as exc:
            self.feed.close()
            where = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
            raise ConfigError(Problem(config_file, where, field="live.port")) from None
        listener.on_shed = self._shed
        try:
            self.server = await serve(
                self.visits.handle,
                sock=listener,
                backlog=BACKLOG,  # asyncio listens again, with its own default of 100
                create_connection=connection_class(self.admission),
                process_request=self.endpoints.process_request,
                process_response=self.endpoints.process_response,
                compression=None,
                max_size=self.config.max_message_bytes,
                max_queue=4,
                write_limit=32 * 1024,
                open_timeout=self.tuning.open_timeout,
                ping_interval=self.tuning.ping_interval,
                ping_timeout=self.tuning.ping_timeout,
                close_timeout=self.tuning.close_timeout,
                server_header=None,
                logger=ws_logger,
            )
        except BaseException:
            listener.close()
            self.feed.close()
            raise
        sock = next(iter(self.server.sockets))
        self.host, self.port = sock.getsockname()[:2]
        self.flusher.start()
        if self.shared_salt is not None:
            self.shared_salt.start()
        if self.config.redis_url:
            from greenhouse.sidecar.redis_bus import RedisBus

            self.bus = RedisBus(
                self.config.redis_url,
                instance=f"{self.config.instance_id}-{secrets.token_hex(4)}",  # new each process
                local=self.local_presence,
                on_interaction=self._remote_interaction,
                on_garden_updated=self.garden.remote_update,
                on_change=self._remote_presence_changed,
                heartbeat=self.config.heartbeat_interval,
                expiry=self.config.presence_expiry,
                coalesce=max(self.config.presence_interval, 0.25),
            )
            self.bus.start()
        self.spawn(self.visits.close_idle())
        if self.tuning.watch_garden:
            self.spawn(self.garden.watch(self._stop))
        log.info(
            "sidecar listening on %s (open files limit %d: at most %d websockets, %d per address)",
            self.url,
            self.budget.open_files,
            self.budget.websockets,
            self.config.max_connections_per_ip,
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
        self.admission.stopping = True
        if self.feed is not None:
            self.feed.close()
        self.collector.resume()
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
        await asyncio.to_thread(self.flusher.stop)
        try:
            await asyncio.to_thread(self.events.flush)
        except OSError as exc:
            log.error("event log: final flush failed: %s", exc.strerror or exc)
        self.metrics.events_written = Counter(self.events.written)
        self.throttle.flush()
        log.info("sidecar stopped")

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run *coroutine* in the background until it ends or the sidecar closes."""
        task = asyncio.create_task(coroutine)
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    def _shed(self, count: int, error: OSError) -> None:
        # Called by the listener when accept() found no descriptor left.
        self.metrics.rejects["accept_failed"] += max(1, count)
        self.throttle.log(
            logging.WARNING,
            "accept_failed",
            "cannot accept connections: %s (open files limit %d); closed %d waiting",
            error.strerror or type(error).__name__,
            self.budget.open_files,
            count,
        )

    # -- the garden ------------------------------------------------------------------

    def _plants_changed(self, plants: frozenset[str]) -> None:
        self.visits.forget_plants(plants)
        self.presence_changed()

    def garden_updated(self, generated_at: str | None, publish: bool) -> None:
        """Tell every client (and, if *publish*, every instance) that a new garden is out."""
        self.fanout.send(protocol.garden_updated_frame(generated_at))
        if publish and self.bus is not None:
            self.bus.publish_garden_updated(generated_at)

    def _remote_interaction(self, project: str, action: str) -> None:
        if project in self.garden.plants and action in protocol.ACTIONS:
            self.visits.fan_out_interaction(project, action)

    # -- presence --------------------------------------------------------------------

    def storm(self) -> bool:
        """Whether visitors are pouring in: presence then gives the loop to their handshakes."""
        admission = self.admission
        return (
            admission.handshakes >= STORM_HANDSHAKES
            or admission.upgrades_per_second() >= STORM_UPGRADES_PER_SECOND
        )

    def presence_changed(self) -> None:
        """Local presence changed: send it to clients and, early, to other instances."""
        if self.feed is not None:
            self.feed.changed()
        if self.bus is not None:
            self.bus.presence_changed()

    def _remote_presence_changed(self) -> None:
        # Not passed back to the bus: instances must not echo each other's beats.
        if self.feed is not None:
            self.feed.changed()

    def recent_visitors(self, now: datetime) -> int:
        """Distinct recorded visitors of this instance in the 5 minutes before *now*.

        Open connections of recorded visitors count as seen now.
        """
        return self.recent.count(now.timestamp())

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

    # -- durability ------------------------------------------------------------------

    def _flushed_elsewhere(self, count: int, delay: float | None, error: OSError | None) -> None:
        # Called on the flusher's thread: the metrics belong to the loop.
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._flushed, count, delay, error)

    def _flushed(self, count: int, delay: float | None, error: OSError | None) -> None:
        if error is not None:
            self.metrics.reject("event_log_write")
            self.throttle.log(
                logging.ERROR,
                "event_log_write",
                "event log: flush failed, will retry: %s",
                error.strerror or type(error).__name__,
            )
            return
        if delay is not None:
            self.metrics.durable_seconds.observe(delay)
        self.metrics.events_written = Counter(self.events.written)

    # -- health ----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The ``/healthz`` document."""
        events = self.events
        state = "failing" if events.error else "ok"
        return {
            "status": "ok" if state == "ok" else "degraded",
            "connections": self.metrics.connections,
            "uptime": round(time.monotonic() - self._started, 3),
            "plants": len(self.garden.plants),
            "event_log": {
                "state": state,
                "pending": events.pending,
                "last_flush": events.last_flush.isoformat() if events.last_flush else None,
                "last_id": _cursor_text(events.durable, events.instance),
                "error": events.error,
            },
            "capacity": {
                "open_files": self.budget.open_files,
                "sockets": self.admission.sockets,
                "max_sockets": self.budget.sockets,
                "max_connections": self.budget.websockets,
                "max_connections_per_ip": self.config.max_connections_per_ip,
            },
            "redis": "off"
            if self.bus is None
            else ("connected" if self.bus.connected else "disconnected"),
            "salt": "shared" if self.salt.shared else "local",
            "realtime": self.realtime(),
        }


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
    Raises :class:`ConfigError` when the event folder or the address cannot be
    used, or when ``redis_url`` is set and the ``redis`` package is missing.
    """
    live = config or site.config.live
    if live.redis_url:
        require_redis(site)
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


def require_redis(site: Site) -> None:
    """Raise :class:`ConfigError` unless the ``redis`` package (the ``live`` extra) is installed."""
    try:
        import redis.asyncio  # noqa: F401 (only checking that it is there)
    except ImportError:
        message = (
            "redis_url is set, but the redis package is not installed: "
            "pip install 'greenhouse-garden[live]'"
        )
        raise ConfigError(
            Problem(site.root / CONFIG_FILE, message, field="live.redis_url")
        ) from None
