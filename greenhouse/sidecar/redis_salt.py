"""The day's visitor salt, shared by every instance through Redis.

The first instance to need the salt of a UTC day creates 32 random bytes and
stores them with ``SET NX`` under ``greenhouse:salt:<YYYY-MM-DD>``, expiring
:data:`GRACE` after the day ends; every instance then reads that one (the
loser of a race reads the winner's). Each instance keeps it in memory for
the day. The salt is never written to disk: Redis must run without
persistence for that promise to hold across Redis itself (see docs/sidecar.md).

While Redis cannot be reached, :meth:`RedisSalt.salt` has nothing for the day
and :class:`~greenhouse.sidecar.privacy.DailySalt` falls back to a local
random salt; a background task keeps trying and the shared salt takes over as
soon as it is fetched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from greenhouse.sidecar.privacy import utc_day

log = logging.getLogger("greenhouse.sidecar")

PREFIX = "greenhouse:salt:"
#: The key outlives its day by this much (instances whose clocks lag a little).
GRACE = timedelta(minutes=5)
SALT_BYTES = 32


def salt_key(day: date) -> str:
    """The Redis key of *day*'s salt."""
    return f"{PREFIX}{day.isoformat()}"


def expires_in(day: date, now: datetime) -> int:
    """Seconds from *now* until :data:`GRACE` after the end of UTC *day* (at least 1)."""
    end = datetime.combine(day + timedelta(days=1), time(), UTC) + GRACE
    return max(1, math.ceil((end - now).total_seconds()))


class RedisSalt:
    """A :class:`~greenhouse.sidecar.privacy.SaltSource` backed by Redis."""

    def __init__(
        self,
        url: str,
        clock: Callable[[], datetime],
        timeout: float = 1.0,
        retry: float = 1.0,
        max_retry: float = 10.0,
    ):
        self.url = url
        self.clock = clock
        self.timeout = timeout
        self.retry = retry
        self.max_retry = max_retry
        self._day: date | None = None
        self._salt: bytearray | None = None
        self._client: aioredis.Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self.failing = False

    # -- the SaltSource interface (memory only) ----------------------------------------

    def salt(self, day: date) -> bytes | None:
        """The shared salt of *day* if already fetched; otherwise None (and fetch it soon)."""
        if self._day == day and self._salt is not None:
            return bytes(self._salt)
        self._wake.set()
        return None

    # -- I/O ---------------------------------------------------------------------------

    def start(self) -> None:
        """Keep the day's salt fetched in the background (retrying while Redis is down)."""
        self._client = aioredis.from_url(
            self.url, socket_connect_timeout=self.timeout, socket_timeout=self.timeout
        )
        self._task = asyncio.create_task(self._run(), name="greenhouse-redis-salt")

    async def ensure(self) -> None:
        """Fetch today's salt now unless it is cached or Redis is known to be down.

        Called before keying a new connection, so the first visitor of a day
        already gets the shared key; never raises.
        """
        if self.failing or self._client is None:
            return
        if self._day == utc_day(self.clock()) and self._salt is not None:
            return
        await self._fetch()

    async def _fetch(self) -> bool:
        client = self._client
        if client is None:
            return False
        async with self._lock:
            now = self.clock()
            day = utc_day(now)
            if self._day == day and self._salt is not None:
                return True
            key = salt_key(day)
            fresh = secrets.token_bytes(SALT_BYTES)
            try:
                async with asyncio.timeout(self.timeout * 2):
                    await client.set(key, fresh, nx=True, ex=expires_in(day, now))
                    value = await client.get(key)
            except (RedisError, OSError, TimeoutError) as exc:
                if not self.failing:
                    log.warning(
                        "redis: cannot fetch the shared salt (%s); keying visitors with a "
                        "local salt until it comes back",
                        type(exc).__name__,
                    )
                self.failing = True
                return False
            if not isinstance(value, bytes) or len(value) != SALT_BYTES:
                log.warning("redis: %s does not hold a %d-byte salt", key, SALT_BYTES)
                self.failing = True
                return False
            self._forget()
            self._day, self._salt = day, bytearray(value)
            if self.failing:
                log.info("redis: shared salt fetched; visitor keys are shared again")
            self.failing = False
            return True

    async def _run(self) -> None:
        delay = self.retry
        while True:
            if await self._fetch():
                delay = self.retry
                # Sleep until asked (a new day) or, at the latest, the next UTC midnight.
                now = self.clock()
                midnight = datetime.combine(utc_day(now) + timedelta(days=1), time(), UTC)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._wake.wait(), max(0.05, (midnight - now).total_seconds())
                    )
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_retry)

    def _forget(self) -> None:
        if self._salt is not None:
            for i in range(len(self._salt)):
                self._salt[i] = 0
        self._salt, self._day = None, None

    async def close(self) -> None:
        """Stop fetching, overwrite the cached salt, disconnect."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._forget()
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(RedisError, OSError):
                await client.aclose()
