"""The garden feed: which plants are published, and news of a new garden.

The sidecar checks project ids against the published bundle's
``api/v1/garden/index.json``. On the sidecar's machine the bundle is read
from disk and watched (``watchfiles``); on another machine (the site is on
GitHub Pages) the index is fetched from the site's ``base_url`` at start and
after each publication announced through ``POST /api/published``. Reading
and parsing happen on a worker thread: a 1,000-plant index must not stall the
websockets.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import watchfiles

if TYPE_CHECKING:
    from greenhouse.config import Site

log = logging.getLogger("greenhouse.sidecar")

GARDEN_INDEX = Path("api/v1/garden/index.json")


@dataclass(frozen=True)
class Garden:
    """What the sidecar needs of a published garden."""

    plants: frozenset[str]
    generated_at: str | None


class NotAGarden(ValueError):
    """A garden index that does not parse as one."""


def parse_garden(raw: bytes) -> Garden:
    """The plant ids and generation time of a garden index (empty bytes: no garden yet).

    Raises :class:`NotAGarden` when *raw* is not a garden document.
    """
    if not raw:
        return Garden(frozenset(), None)
    try:
        garden = json.loads(raw)
        plants = frozenset(
            p["id"]
            for p in garden["plants"]
            if isinstance(p, dict) and isinstance(p.get("id"), str)
        )
        generated = garden.get("generated_at")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise NotAGarden(str(GARDEN_INDEX)) from None
    return Garden(plants, generated if isinstance(generated, str) else None)


class GardenFeed:
    """Keeps the published garden loaded and tells everyone when a new one is out.

    *on_plants* is called (on the loop) with the new plant ids after every
    change; *announce* sends ``garden_updated`` to the clients, and to the
    other instances when its second argument is true; *spawn* runs a
    background coroutine owned by the sidecar.
    """

    def __init__(
        self,
        site: Site,
        on_plants: Callable[[frozenset[str]], None],
        announce: Callable[[str | None, bool], None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        fetch_attempts: int = 6,
        fetch_retry: float = 10.0,
    ):
        self.site = site
        self.bundle = site.path(site.config.build.output)
        self.on_plants = on_plants
        self.announce = announce
        self.spawn = spawn
        self.fetch_attempts = fetch_attempts
        self.fetch_retry = fetch_retry
        self.plants: frozenset[str] = frozenset()
        self.generated_at: str | None = None
        self._digest: str | None = None

    @property
    def url(self) -> str:
        """Where the published garden is fetched when the bundle is not on this machine."""
        return self.site.config.site.base_url + GARDEN_INDEX.as_posix()

    def is_local(self) -> bool:
        """Whether the bundle is on this machine (else the garden is fetched)."""
        return (self.bundle / GARDEN_INDEX).is_file()

    async def load(self, raw: bytes | None = None) -> bool:
        """Reload the plant ids (from the local bundle unless *raw* is given), off the loop;
        True when the garden changed."""
        try:
            digest, garden = await asyncio.to_thread(self._read, raw)
        except OSError as exc:
            log.warning("garden: cannot read %s: %s", GARDEN_INDEX, exc.strerror or exc)
            return False
        except NotAGarden:
            log.warning(
                "garden: %s is not a garden document; keeping the previous one", GARDEN_INDEX
            )
            return False
        if digest == self._digest:
            return False
        self._digest = digest
        self.plants = garden.plants
        self.generated_at = garden.generated_at
        self.on_plants(garden.plants)
        log.info("garden: %d plants", len(garden.plants))
        return True

    def _read(self, raw: bytes | None) -> tuple[str, Garden]:
        if raw is None:
            try:
                raw = (self.bundle / GARDEN_INDEX).read_bytes()
            except FileNotFoundError:
                raw = b""
        digest = hashlib.sha256(raw).hexdigest()
        if digest == self._digest:
            return digest, Garden(self.plants, self.generated_at)
        return digest, parse_garden(raw)

    async def fetch(self) -> bool | None:
        """Load the garden from the site's public URL; None when that failed."""
        try:
            async with httpx.AsyncClient(timeout=10, follow_redirects=True) as http:
                answer = await http.get(self.url, headers={"Cache-Control": "no-cache"})
                answer.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("garden: cannot fetch %s: %s", self.url, type(exc).__name__)
            return None
        return await self.load(answer.content)

    async def start(self) -> None:
        """Load the local bundle, or start fetching the remote one."""
        await self.load()
        if not self.is_local():
            log.info("garden: no local bundle; fetching %s", self.url)
            self.spawn(self.refresh_remote(announce=False))

    async def refresh_remote(self, announce: bool) -> None:
        """Fetch until the garden changes (a static host may lag behind CI), then announce."""
        for attempt in range(self.fetch_attempts):
            if attempt:
                await asyncio.sleep(self.fetch_retry)
            if await self.fetch():
                break
        if announce:
            self.announce(self.generated_at, True)

    async def published(self) -> dict[str, Any]:
        """``POST /api/published``: reload (or refetch) and announce; the answer's body."""
        log.info("garden: publication announced through the hook")
        if not self.is_local():
            self.spawn(self.refresh_remote(announce=True))
            return {"status": "fetching"}
        await self.load()
        self.announce(self.generated_at, True)
        return {"status": "announced", "plants": len(self.plants)}

    def remote_update(self, generated_at: str | None) -> None:
        """Another instance announced a new garden (through Redis)."""
        self.spawn(self._reload_then_tell(generated_at))

    async def _reload_then_tell(self, generated_at: str | None) -> None:
        if self.is_local():
            await self.load()
        else:
            await self.fetch()
        self.announce(generated_at or self.generated_at, False)

    async def watch(self, stop: asyncio.Event) -> None:
        """Reload and announce whenever the local bundle changes, until *stop* is set."""
        # Watch the bundle's parent: publishing may swap the whole bundle folder.
        root = self.bundle.parent
        root.mkdir(parents=True, exist_ok=True)
        bundle = str(self.bundle)

        def relevant(_change: watchfiles.Change, path: str) -> bool:
            return path == bundle or path.startswith(bundle + "/")

        try:
            async for _changes in watchfiles.awatch(
                root, watch_filter=relevant, stop_event=stop, debounce=200
            ):
                if await self.load():
                    self.announce(self.generated_at, True)
        except Exception as exc:  # an inotify limit, a vanished folder...
            log.warning(
                "garden: watching the bundle stopped (%s); POST /api/published still works",
                type(exc).__name__,
            )
