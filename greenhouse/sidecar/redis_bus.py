"""Several sidecars sharing presence and interactions through Redis pub/sub.

Each instance publishes a heartbeat with its local presence every
``heartbeat`` seconds (and within ``coalesce`` seconds after it changes) on ``greenhouse:presence``;
everyone keeps the latest heartbeat per instance and drops it after
``expiry`` seconds of silence, so a crashed instance's visitors disappear
within ``heartbeat + expiry``. Interactions and ``garden_updated`` travel on
``greenhouse:interaction`` and ``greenhouse:garden``. A graceful shutdown
publishes an empty heartbeat so its visitors vanish at once.

When Redis goes away the bus forgets the remote instances (presence degrades
to this instance's own visitors) and reconnects with a capped back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from greenhouse.sidecar.presence import Snapshot

log = logging.getLogger("greenhouse.sidecar")

PRESENCE = "greenhouse:presence"
INTERACTION = "greenhouse:interaction"
GARDEN = "greenhouse:garden"


class RedisBus:
    """The link of one sidecar instance to the others."""

    def __init__(
        self,
        url: str,
        instance: str,
        local: Callable[[], Snapshot],
        on_interaction: Callable[[str, str], None],
        on_garden_updated: Callable[[str | None], None],
        on_change: Callable[[], None],
        heartbeat: float = 10.0,
        expiry: float = 30.0,
        coalesce: float = 0.25,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.url = url
        self.instance = instance
        self.local = local
        self.on_interaction = on_interaction
        self.on_garden_updated = on_garden_updated
        self.on_change = on_change
        self.heartbeat = heartbeat
        self.expiry = expiry
        self.coalesce = coalesce
        self.monotonic = monotonic
        self.remotes: dict[str, tuple[Snapshot, float]] = {}
        self.connected = False
        self._client: aioredis.Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._beat = asyncio.Event()
        self._sending: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Run the bus in the background (reconnecting forever)."""
        self._task = asyncio.create_task(self._run(), name="greenhouse-redis-bus")

    def presence_changed(self) -> None:
        """Ask for an early heartbeat: local presence changed."""
        self._beat.set()

    def publish_interaction(self, project: str, action: str) -> None:
        """Tell the other instances about an interaction (fire and forget)."""
        self._publish(INTERACTION, {"project": project, "action": action})

    def publish_garden_updated(self, generated_at: str | None) -> None:
        """Tell the other instances that a new garden was published."""
        self._publish(GARDEN, {"generated_at": generated_at})

    def _publish(self, channel: str, payload: dict[str, Any]) -> None:
        if self._client is None or not self.connected:
            return
        message = json.dumps({"instance": self.instance, **payload})
        task = asyncio.create_task(self._send(channel, message))
        self._sending.add(task)  # keep a reference until it is done
        task.add_done_callback(self._sending.discard)

    async def _send(self, channel: str, message: str) -> None:
        client = self._client
        if client is None:
            return
        try:
            await client.publish(channel, message)
        except (RedisError, OSError) as exc:
            log.debug("redis publish failed: %s", type(exc).__name__)

    def expire(self) -> bool:
        """Drop instances silent for longer than the expiry; True if any went."""
        now = self.monotonic()
        gone = [i for i, (_, seen) in self.remotes.items() if now - seen > self.expiry]
        for instance in gone:
            del self.remotes[instance]
        return bool(gone)

    async def close(self) -> None:
        """Publish an empty heartbeat and disconnect."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        client, self._client = self._client, None
        if client is not None:
            try:
                if self.connected:
                    await asyncio.wait_for(
                        client.publish(
                            PRESENCE, json.dumps({"instance": self.instance, "presence": None})
                        ),
                        1.0,
                    )
            except (RedisError, OSError, TimeoutError):
                pass
            await client.aclose()
        self.connected = False

    async def _run(self) -> None:
        delay = 0.2
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if self.connected:
                    log.warning(
                        "redis: connection lost (%s); presence is local only", type(exc).__name__
                    )
                else:
                    log.debug("redis: cannot connect (%s)", type(exc).__name__)
            self.connected = False
            if self.remotes:
                self.remotes.clear()
                self.on_change()
            client, self._client = self._client, None
            if client is not None:
                with contextlib.suppress(RedisError, OSError):
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, max(1.0, self.heartbeat))

    async def _session(self) -> None:
        timeout = max(1.0, self.heartbeat)
        self._client = aioredis.from_url(
            self.url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(PRESENCE, INTERACTION, GARDEN)
            self.connected = True
            log.info("redis: connected; sharing presence as instance %s", self.instance)
            beats = asyncio.create_task(self._heartbeats())
            try:
                while True:
                    if beats.done():
                        beats.result()
                    message = await pubsub.get_message(timeout=min(1.0, self.heartbeat))
                    if message is not None:
                        self._receive(message)
                    if self.expire():
                        self.on_change()
            finally:
                beats.cancel()
                with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                    await beats
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()

    async def _heartbeats(self) -> None:
        assert self._client is not None
        while True:
            payload = {"instance": self.instance, "presence": self.local().to_json()}
            await self._client.publish(PRESENCE, json.dumps(payload))
            self._beat.clear()
            try:
                await asyncio.wait_for(self._beat.wait(), self.heartbeat)
                # Coalesce bursts of local changes into one early heartbeat.
                await asyncio.sleep(min(self.coalesce, self.heartbeat))
            except TimeoutError:
                pass

    def _receive(self, message: dict[str, Any]) -> None:
        try:
            payload = json.loads(message["data"])
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else channel
            instance = payload["instance"]
        except (ValueError, KeyError, TypeError):
            return
        if instance == self.instance:
            return
        if channel == PRESENCE:
            snapshot = Snapshot.from_json(payload.get("presence"))
            if snapshot is None:
                self.remotes.pop(instance, None)
            else:
                self.remotes[instance] = (snapshot, self.monotonic())
            self.on_change()
        elif channel == INTERACTION:
            project, action = payload.get("project"), payload.get("action")
            if isinstance(project, str) and isinstance(action, str):
                self.on_interaction(project, action)
        elif channel == GARDEN:
            generated = payload.get("generated_at")
            self.on_garden_updated(generated if isinstance(generated, str) else None)
